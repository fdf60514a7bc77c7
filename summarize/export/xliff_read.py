"""Reading a reviewed XLIFF 2.0 file back (the format is described in export/xliff.py):
every check names the file, the article, the unit and the segment; DOCTYPEs, entities and
foreign structure are refused."""


from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from summarize.export.run import (
    PARTS,
    SOURCE_LANG,
    TARGET_LANGS,
    ExportError,
)
from summarize.export.xliff import (
    DIGEST,
    HEX,
    NS,
    SEGMENT_ID,
    STATES,
    VERSIONS,
    Exported,
    ReviewedSegment,
    ReviewFile,
    q,
    s_,
)


class _Where:
    """Builds error messages that name the file, the article, the unit and the segment."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, el: etree._Element, problem: str, **ids: str | None) -> ExportError:
        where = ", ".join(f"{k} {v!r}" for k, v in ids.items() if v is not None)
        line = f" (line {el.sourceline})" if el.sourceline else ""
        return ExportError(f"{self.path}{line}: {where + ': ' if where else ''}{problem}")


def _code_point(el: etree._Element, fail: Any) -> str:
    """The character of a <cp hex="…"/>; anything but a Unicode scalar value is refused."""
    raw = el.get("hex", "")
    if not HEX.match(raw):
        raise fail(el, f"<cp hex={raw!r}>: not a hexadecimal code point")
    value = int(raw, 16)
    if value > 0x10FFFF:
        raise fail(el, f"<cp hex={raw!r}>: beyond U+10FFFF, the last Unicode code point")
    if 0xD800 <= value <= 0xDFFF:
        raise fail(el, f"<cp hex={raw!r}>: a surrogate code point is not a character")
    return chr(value)


def _inline_text(el: etree._Element, fail: Any) -> str:
    """The text of <source>/<target>: <cp> decoded, <mrk>/<pc> unwrapped, <sm>/<em> dropped."""
    out = [el.text or ""]
    for child in el:
        if isinstance(child, etree._Entity):
            raise fail(el, f"entity reference &{child.name}; is not allowed")
        if not isinstance(child.tag, str):  # comments, processing instructions
            pass
        elif child.tag == q("cp"):
            out.append(_code_point(child, fail))
        elif child.tag in (q("mrk"), q("pc")):
            out.append(_inline_text(child, fail))
        elif child.tag not in (q("sm"), q("em")):
            raise fail(child, f"unsupported inline element <{etree.QName(child).localname}>")
        out.append(child.tail or "")
    return "".join(out)


_DOCTYPES = tuple("<!DOCTYPE".encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be"))
_CHUNK = 1 << 16


def _has_doctype(path: Path) -> bool:
    """A DOCTYPE in the raw bytes, in the encodings an XML file may start with; read in
    chunks that overlap by a pattern's length, so no match is lost at a chunk boundary."""
    keep = max(len(p) for p in _DOCTYPES) - 1
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = tail + chunk
            if any(p in data for p in _DOCTYPES):
                return True
            tail = data[-keep:]
    return False


def _check_root(path: Path, root: etree._Element) -> str:
    """The target language of a reviewed file, once its <xliff> start tag is read."""
    refused = f"{path}: has a DOCTYPE; reviewed XLIFF files with a DTD or entities are refused"
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ExportError(refused)  # a DOCTYPE in an encoding the byte check does not know
    if root.tag != q("xliff"):
        raise ExportError(f"{path}: root element is {root.tag!r}, not <xliff> in namespace {NS}")
    if root.get("version") not in VERSIONS:
        raise ExportError(f"{path}: XLIFF version {root.get('version')!r} is not 2.0/2.1")
    if root.get("srcLang") != SOURCE_LANG:
        raise ExportError(f"{path}: srcLang is {root.get('srcLang')!r}, expected {SOURCE_LANG!r}")
    lang = root.get("trgLang")
    if not lang:
        raise ExportError(f"{path}: <xliff> has no trgLang")
    if lang not in TARGET_LANGS:
        raise ExportError(
            f"{path}: trgLang {lang!r} is not a language summarize translates into "
            f"({', '.join(TARGET_LANGS)})"
        )
    exported_for = root.get(s_("trgLang"))
    if exported_for is not None and exported_for != lang:
        raise ExportError(
            f"{path}: trgLang is {lang!r} but the file was exported for {exported_for!r}"
        )
    return lang


def _syntax_error(exc: etree.XMLSyntaxError, path: Path) -> str:
    """The parser's first error in `path` with its line and column: iterparse's exception
    itself may only say "no element found" where the log says "Entity 'e' not defined" (the
    log can also hold earlier parses' errors, hence the file name)."""
    for entry in exc.error_log:
        if entry.level >= etree.ErrorLevels.ERROR and entry.filename == str(path):
            return f"{entry.message}, line {entry.line}, column {entry.column}"
    return str(exc)


class ReviewReader:
    """A reviewed XLIFF 2.0 file read one <file> (article) at a time.

    Opening it checks the bytes for a DOCTYPE and reads the <xliff> start tag (language, run);
    `segments()` then yields every segment in file order, each <file> parsed, read and
    dropped before the next, so memory does not grow with the size of the file. Parsing
    never resolves entities, loads a DTD or touches the network. Malformed or hostile
    input raises ExportError naming the file (and the article, unit, segment and line).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            doctype = _has_doctype(self.path)
        except OSError as exc:
            raise ExportError(f"cannot read {self.path}: {exc}") from None
        if doctype:
            raise ExportError(
                f"{self.path}: has a DOCTYPE; reviewed XLIFF files with a DTD or entities "
                "are refused"
            )
        etree.clear_error_log()  # this thread's log: only this file's errors from here on
        self._events = etree.iterparse(
            str(self.path),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        first = self._next()
        if first is None:  # lxml raises on an empty document; this is a fallback
            raise ExportError(f"{self.path}: not well-formed XML: no root element")
        self.root = first[1]
        self.lang = _check_root(self.path, self.root)
        self.run_id = self.root.get(s_("run"))  # unchecked: never use it to build a path
        self._started = False

    def _next(self) -> tuple[str, Any] | None:
        try:
            return next(self._events, None)
        except etree.XMLSyntaxError as exc:
            detail = _syntax_error(exc, self.path)
            raise ExportError(f"{self.path}: not well-formed XML: {detail}") from None
        except (etree.LxmlError, ValueError) as exc:
            raise ExportError(f"{self.path}: cannot be parsed as XML: {exc}") from None

    def segments(self) -> Iterator[ReviewedSegment]:
        """Every segment, in file order, with its unit's export record; once only."""
        if self._started:
            raise RuntimeError("ReviewReader.segments() can be iterated once")
        self._started = True
        where = _Where(self.path)
        # Duplicate segments are found within an article; an article's segments must all be
        # in one <file> (or consecutive ones), so only the current article's are kept.
        seen: set[tuple[str, str, str]] = set()
        current: str | None = None
        done: set[str] = set()
        files_open = 0  # <file> elements started and not yet ended
        while (event := self._next()) is not None:
            kind, el = event
            if el.tag != q("file"):
                continue
            if kind == "start":
                files_open += 1
                continue
            files_open -= 1
            if files_open:  # a <file> inside a <file>: read with the outer one, as iter() does
                continue
            for file_el in el.iter(q("file")):
                article_id = _article_of(file_el, where)
                if article_id != current:
                    if article_id in done:
                        raise where.error(
                            file_el,
                            "a second <file> for this article, apart from the first; "
                            "keep each article in one <file>, as exported",
                            article=article_id,
                        )
                    if current is not None:
                        done.add(current)
                    current, seen = article_id, set()
                yield from _file_segments(file_el, article_id, self.lang, where, seen)
            parent = el.getparent()
            if parent is not None:  # done with it: the tree holds only what is being read
                parent.remove(el)


def _article_of(file_el: etree._Element, where: _Where) -> str:
    article_id = file_el.get("original") or (file_el.get("id") or "").replace(".", "/")
    if not article_id:
        raise where.error(file_el, "<file> has neither an original nor an id")
    return article_id


def _file_segments(
    file_el: etree._Element,
    article_id: str,
    lang: str,
    where: _Where,
    seen: set[tuple[str, str, str]],
) -> Iterator[ReviewedSegment]:
    for unit in file_el.iter(q("unit")):
        part = unit.get("id")
        ids = {"article": article_id, "unit": str(part)}
        if part not in PARTS:
            raise where.error(unit, f"unit id must be one of {', '.join(PARTS)}", **ids)
        records = _read_records(unit, lang, where, ids)
        for seg in unit.findall(q("segment")):
            yield _read_segment(seg, ids, lang, where, seen, records)


def _read_records(
    unit: etree._Element, lang: str, where: _Where, ids: dict[str, str]
) -> dict[str, Exported] | None:
    """The unit's <sum:exported> record by segment id; None when the unit has none."""
    found = unit.findall(s_("exported"))
    if not found:
        return None
    if len(found) > 1:
        raise where.error(found[1], "more than one <sum:exported> record", **ids)
    record = found[0]
    if record.get("lang") != lang:
        raise where.error(
            record,
            f"the file was exported for {record.get('lang')!r}, but its trgLang is {lang!r}",
            **ids,
        )
    out: dict[str, Exported] = {}
    for rec in record.iter(s_("segment")):
        sid, state = rec.get("id") or "", rec.get("state") or ""
        source, target = rec.get("source") or "", rec.get("target")
        ok = (
            SEGMENT_ID.match(sid)
            and state in STATES
            and DIGEST.match(source)
            and (target is None or DIGEST.match(target))
            and sid not in out
        )
        if not ok:
            raise where.error(rec, "malformed or repeated <sum:segment> export record", **ids)
        out[sid] = Exported(state, source, target)
    return out


def _read_segment(
    seg: etree._Element,
    ids: dict[str, str],
    lang: str,
    where: _Where,
    seen: set[tuple[str, str, str]],
    records: dict[str, Exported] | None,
) -> ReviewedSegment:
    sid = seg.get("id")
    ids = {**ids, "segment": sid or ""}

    def fail(el: etree._Element, problem: str) -> ExportError:
        return where.error(el, problem, **ids)

    match = SEGMENT_ID.match(sid or "")
    if not match:
        raise fail(seg, "segment id must look like p<paragraph>s<sentence>, e.g. p0s1")
    key = (ids["article"], ids["unit"], sid or "")
    if key in seen:
        raise fail(seg, "duplicate segment")
    seen.add(key)
    state = seg.get("state", "initial")
    if state not in STATES:
        raise fail(seg, f"state {state!r} is not one of {', '.join(STATES)}")
    source_el, target_el = seg.find(q("source")), seg.find(q("target"))
    if source_el is None:
        raise fail(seg, "segment has no <source>")
    target = _inline_text(target_el, fail).strip() if target_el is not None else ""
    return ReviewedSegment(
        article_id=ids["article"],
        part=ids["unit"],
        para=int(match[1]),
        sent=int(match[2]),
        lang=lang,
        source=_inline_text(source_el, fail).strip(),
        target=target,
        state=state,
        exported=(records or {}).get(sid or ""),
    )


def read_review(path: Path) -> ReviewFile:
    """Every segment of a reviewed XLIFF 2.0 file, in file order, with its export record
    (the whole file's segments in a list; `ReviewReader` reads one article at a time).

    Source and target are returned with surrounding whitespace stripped. Malformed or
    hostile input (a DOCTYPE, an entity, an invalid <cp>, a trgLang that is not a target
    language) raises ExportError naming the file, the article, the unit and the line.
    """
    reader = ReviewReader(path)
    return ReviewFile(
        path=reader.path, lang=reader.lang, run_id=reader.run_id, segments=list(reader.segments())
    )


def read_xliff(path: Path) -> list[ReviewedSegment]:
    """The segments of a reviewed XLIFF 2.0 file that have a non-empty target, in file order."""
    return [seg for seg in read_review(path).segments if seg.target]
