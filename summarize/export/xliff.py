"""XLIFF 2.0 export for review, and the reader for reviewed files.

One `DIR/<lang>.xlf` per target language (srcLang "en", trgLang "ko" / "zh-Hans"):

    <file id="world.floods" original="world/floods">     one file per article
      <unit id="title|summary|body">                      one unit per article part
        <segment id="p3s1" state="translated" subState="summarize:model">
          <source xml:space="preserve">…</source>          one segment per sentence
          <target xml:space="preserve">…</target>

A file id must be an XML NMTOKEN, which has no "/", so it is the article id with
"/" as "."; `original` holds the article id itself. Segment ids are
p<paragraph>s<sentence>, the same as the `segment` field of QA items
("body/p3s1"). State: "translated" (or "reviewed" where the translation came from
a human), "initial" where a QA check flagged the segment, with the QA detail in
a <note>, or where there is no translation. subState says where the translation
came from. Characters XML 1.0 cannot hold are written as <cp hex="…"/>.

What was exported is recorded in the file, in summarize's own namespace (XLIFF 2.0
allows extension attributes on <xliff> and extension elements first in a <unit>,
but nothing of the kind on <segment>):

    <xliff … sum:run="<run id>" sum:trgLang="ko">
      <unit id="body">
        <sum:exported lang="ko">
          <sum:segment id="p3s1" state="translated" source="<digest>" target="<digest>"/>

so `summarize import` can tell an edited target (or a newly reviewed state) from
one that merely went through a review tool. A digest is the first 32 hex digits
of the SHA-256 of the stripped, NFC-normalised text; there is no `target` digest
where nothing was exported.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from summarize.export.run import (
    PARTS,
    SOURCE_LANG,
    TARGET_LANGS,
    ExportError,
    ExportReport,
    RunView,
    StreamedText,
)

NS = "urn:oasis:names:tc:xliff:document:2.0"
SUM_NS = "urn:x-summarize:xliff:1"  # summarize's extension data (see the module docstring)
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
STATES = ("initial", "translated", "reviewed", "final")
HUMAN_STATES = ("reviewed", "final")
VERSIONS = ("2.0", "2.1")  # 2.1 keeps the 2.0 core namespace

_SEGMENT_ID = re.compile(r"p(\d+)s(\d+)\Z")
_DIGEST = re.compile(r"[0-9a-f]{32}\Z")
_HEX = re.compile(r"[0-9A-Fa-f]{1,6}\Z")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_STRUCTURAL = {f"{{{NS}}}{name}" for name in ("xliff", "file", "unit", "segment", "notes")} | {
    f"{{{SUM_NS}}}exported"
}


def q(name: str) -> str:
    """The qualified XLIFF 2.0 name of an element."""
    return f"{{{NS}}}{name}"


def s_(name: str) -> str:
    """The qualified name of one of summarize's extension elements or attributes."""
    return f"{{{SUM_NS}}}{name}"


def digest(text: str) -> str:
    """What the export records of a text: compared, never shown."""
    norm = unicodedata.normalize("NFC", text.strip())
    return hashlib.sha256(norm.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def xml_safe(text: str) -> str:
    """`text` for an attribute value: characters XML cannot hold become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def segment_id(para: int, sent: int) -> str:
    return f"p{para}s{sent}"


def file_id(article_id: str) -> str:
    return article_id.replace("/", ".")


@dataclass(frozen=True)
class Exported:
    """What the export wrote for one segment: its state and the digests of its texts."""

    state: str
    source: str
    target: str | None  # None: the segment was exported without a target


@dataclass(frozen=True)
class ReviewedSegment:
    """One sentence read back from a (possibly human-edited) XLIFF file."""

    article_id: str
    part: str
    para: int
    sent: int
    lang: str
    source: str
    target: str  # "" when the segment has no (or an empty) target
    state: str
    exported: Exported | None = None  # None when the file lost (or never had) the record

    @property
    def ref(self) -> str:
        """`article part/segment`, as import reports name it."""
        return f"{self.article_id} {self.part}/{segment_id(self.para, self.sent)}"


@dataclass(frozen=True)
class ReviewFile:
    """A reviewed XLIFF file: its language, the run it says it came from, its segments."""

    path: Path
    lang: str
    run_id: str | None  # sum:run, unchecked: never use it to build a path
    segments: list[ReviewedSegment]


# -- writing ---------------------------------------------------------------------------------


def _set_text(el: etree._Element, text: str) -> None:
    """Set `el`'s content to `text`, writing characters XML cannot hold as <cp hex=".."/>."""
    chunks = _NOT_XML.split(text)
    bad = _NOT_XML.findall(text)
    el.text = chunks[0]
    for ch, tail in zip(bad, chunks[1:], strict=True):
        cp = etree.SubElement(el, q("cp"), hex=f"{ord(ch):04X}")
        cp.tail = tail


def _text_el(parent: etree._Element, name: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, q(name))
    el.set(XML_SPACE, "preserve")
    _set_text(el, text)
    return el


def _add_notes(parent: etree._Element, notes: list[tuple[str, str]]) -> None:
    if not notes:
        return
    holder = etree.SubElement(parent, q("notes"))
    for category, text in notes:
        note = etree.SubElement(holder, q("note"), category=category, appliesTo="target")
        _set_text(note, text)


def _qa_by_unit(doc: dict[str, Any], lang: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """QA items for `lang` (or for every language), as {part: {segment id: [items]}}; "" = whole article."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for item in doc.get("qa") or []:
        if not isinstance(item, dict) or item.get("language") not in (lang, None):
            continue
        part, _, seg = str(item.get("segment") or "").partition("/")
        if part in PARTS and _SEGMENT_ID.match(seg):
            found[part][seg].append(item)
        else:
            found[""][str(item.get("segment") or "")].append(item)
    return found


def _note(ref: str, item: dict[str, Any]) -> tuple[str, str]:
    check = xml_safe(str(item.get("check") or "qa"))
    detail = str(item.get("detail") or check)
    return f"qa:{check}", f"{ref}: {detail}" if ref else detail


def exported_state(seg: dict[str, Any], lang: str, flagged: bool) -> tuple[str, str | None]:
    """(state, origin) a segment is exported with; origin is None when it has no target.

    "reviewed" where a human's translation is in place, "translated" for a model's,
    "initial" where QA flagged the segment or there is no translation.
    """
    target = seg.get(lang)
    if not (isinstance(target, str) and target.strip()):
        return "initial", None
    origin = str((seg.get("origin") or {}).get(lang) or "model")
    if flagged:
        return "initial", origin
    return ("reviewed" if origin == "human" else "translated"), origin


def export_records(doc: dict[str, Any], lang: str) -> dict[tuple[str, int, int], Exported]:
    """The export record of every segment of `doc` for `lang`, by (part, para, sent): what
    an export of this article writes, for a reviewed file that lost its own record."""
    qa = _qa_by_unit(doc, lang)
    out: dict[tuple[str, int, int], Exported] = {}
    for part, segments in _sorted_segments(doc).items():
        for seg in segments:
            flagged = bool(qa.get(part, {}).get(segment_id(seg["para"], seg["sent"])))
            state, origin = exported_state(seg, lang, flagged)
            target = digest(str(seg[lang])) if origin is not None else None
            source = digest(str(seg.get(SOURCE_LANG, "")))
            out[(part, seg["para"], seg["sent"])] = Exported(state, source, target)
    return out


def _unit(
    file_el: etree._Element,
    part: str,
    segments: list[dict[str, Any]],
    lang: str,
    qa: dict[str, list[dict[str, Any]]],
) -> None:
    unit = etree.SubElement(file_el, q("unit"), id=part)
    record = etree.SubElement(unit, s_("exported"), lang=lang)  # extensions come first
    _add_notes(unit, [_note(sid, item) for sid in sorted(qa) for item in qa[sid]])
    for seg in segments:
        sid = segment_id(seg["para"], seg["sent"])
        source = str(seg.get(SOURCE_LANG, ""))
        state, origin = exported_state(seg, lang, bool(qa.get(sid)))
        el = etree.SubElement(unit, q("segment"), id=sid, state=state)
        _text_el(el, "source", source)
        rec = etree.SubElement(record, s_("segment"), id=sid, state=state, source=digest(source))
        if origin is not None:
            target = str(seg[lang])
            el.set("subState", f"summarize:{xml_safe(origin)}")
            _text_el(el, "target", target)
            rec.set("target", digest(target))


def _sorted_segments(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_part: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for seg in doc.get("segments") or []:
        if isinstance(seg, dict) and seg.get("part") in PARTS:
            by_part[seg["part"]].append(seg)
    return {
        part: sorted(by_part[part], key=lambda s: (int(s["para"]), int(s["sent"])))
        for part in PARTS
        if by_part.get(part)
    }


def article_file(doc: dict[str, Any], lang: str) -> etree._Element | None:
    """The <file> of one article for one target language; None when it has no segments."""
    parts = _sorted_segments(doc)
    if not parts:
        return None
    file_el = etree.Element(q("file"), id=file_id(doc["id"]), original=doc["id"])
    qa = _qa_by_unit(doc, lang)
    stray = [
        _note(ref if part == "" else f"{part}/{ref}", item)
        for part, refs in sorted(qa.items())
        if part not in parts
        for ref, items in sorted(refs.items())
        for item in items
    ]
    _add_notes(file_el, stray)
    for part, segments in parts.items():
        _unit(file_el, part, segments, lang, qa.get(part, {}))
    return file_el


def _indent(el: etree._Element, level: int = 0) -> None:
    """Indent the structural elements only: whitespace inside <source>/<target>/<note> is content."""
    if el.tag not in _STRUCTURAL or len(el) == 0:
        return
    pad = "\n" + "  " * (level + 1)
    el.text = pad
    for child in el:
        child.tail = pad
        _indent(child, level + 1)
    el[-1].tail = "\n" + "  " * level


XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_END = "\n</xliff>"


def _root(run_id: str, lang: str) -> etree._Element:
    root = etree.Element(
        q("xliff"),
        nsmap={None: NS, "sum": SUM_NS},
        version="2.0",
        srcLang=SOURCE_LANG,
        trgLang=lang,
    )
    root.set(s_("run"), xml_safe(run_id))
    root.set(s_("trgLang"), lang)
    return root


def _start_tag(run_id: str, lang: str) -> str:
    """The document's `<xliff …>` start tag, as lxml writes it around any content."""
    root = _root(run_id, lang)
    root.text = "x"
    text = etree.tostring(root, encoding="unicode")
    return text[: -len("x</xliff>")]


def _file_chunk(file_el: etree._Element, run_id: str, lang: str, start: str) -> str:
    """One article's <file>, indented, with the whitespace before it, exactly as it appears
    inside the whole document: serialised under an <xliff> root like the document's, so its
    namespaces resolve to the document's declarations, then cut out of that root."""
    root = _root(run_id, lang)
    root.append(file_el)
    _indent(root)
    text = etree.tostring(root, encoding="unicode")
    if not (text.startswith(start) and text.endswith(_END)):  # lxml changed how it writes
        raise ExportError(
            f"cannot write XLIFF: lxml {etree.__version__} serialised article "
            f"{file_el.get('original')!r} in an unexpected form"
        )
    return text[len(start) : -len(_END)]


def write_xliff(view: RunView, lang: str, out: StreamedText, report: ExportReport) -> bool:
    """Write the <lang>.xlf document into `out` one article at a time; False (and nothing
    written) when no article has segments.

    The bytes are those of the whole document built as one tree and indented; only one
    article's <file> is ever in memory.
    """
    start = _start_tag(view.run_id, lang)
    for doc in view.articles():
        file_el = article_file(doc, lang)
        if file_el is None:
            report.skipped.append(f"{doc['id']} ({lang}): no segments")
            continue
        if not out.started:
            out.write(XML_DECLARATION + start)
        out.write(_file_chunk(file_el, view.run_id, lang, start))
    if not out.started:
        return False
    out.write(_END + "\n")
    return True


def export_xliff(view: RunView, to: Path, report: ExportReport) -> None:
    """Write one XLIFF 2.0 file per target language the run has, streaming each."""
    report.articles = view.count_articles()
    written = []
    for lang in view.languages(report):
        if lang == SOURCE_LANG:
            continue
        with StreamedText(to / f"{lang}.xlf") as out:
            if not write_xliff(view, lang, out, report):
                continue
        report.files_written += 1
        written.append(lang)
    report.languages = tuple(written)


# -- reading ---------------------------------------------------------------------------------


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
    if not _HEX.match(raw):
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
            _SEGMENT_ID.match(sid)
            and state in STATES
            and _DIGEST.match(source)
            and (target is None or _DIGEST.match(target))
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

    match = _SEGMENT_ID.match(sid or "")
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
