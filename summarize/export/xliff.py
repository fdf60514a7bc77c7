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
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from .run import PARTS, SOURCE_LANG, ExportError, ExportReport, RunView, write_text

NS = "urn:oasis:names:tc:xliff:document:2.0"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
STATES = ("initial", "translated", "reviewed", "final")
VERSIONS = ("2.0", "2.1")  # 2.1 keeps the 2.0 core namespace

_SEGMENT_ID = re.compile(r"p(\d+)s(\d+)\Z")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_STRUCTURAL = {f"{{{NS}}}{name}" for name in ("xliff", "file", "unit", "segment", "notes")}


def q(name: str) -> str:
    """The qualified XLIFF 2.0 name of an element."""
    return f"{{{NS}}}{name}"


def segment_id(para: int, sent: int) -> str:
    return f"p{para}s{sent}"


def file_id(article_id: str) -> str:
    return article_id.replace("/", ".")


@dataclass(frozen=True)
class ReviewedSegment:
    """One translated sentence read back from a (possibly human-edited) XLIFF file."""

    article_id: str
    part: str
    para: int
    sent: int
    lang: str
    source: str
    target: str
    state: str


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
    check = str(item.get("check") or "qa")
    detail = str(item.get("detail") or check)
    return f"qa:{check}", f"{ref}: {detail}" if ref else detail


def _unit(
    file_el: etree._Element,
    part: str,
    segments: list[dict[str, Any]],
    lang: str,
    qa: dict[str, list[dict[str, Any]]],
) -> None:
    unit = etree.SubElement(file_el, q("unit"), id=part)
    _add_notes(unit, [_note(sid, item) for sid in sorted(qa) for item in qa[sid]])
    for seg in segments:
        sid = segment_id(seg["para"], seg["sent"])
        target = seg.get(lang)
        el = etree.SubElement(unit, q("segment"), id=sid, state="initial")
        _text_el(el, "source", str(seg.get(SOURCE_LANG, "")))
        if isinstance(target, str) and target.strip():
            origin = str((seg.get("origin") or {}).get(lang) or "model")
            if not qa.get(sid):
                el.set("state", "reviewed" if origin == "human" else "translated")
            el.set("subState", f"summarize:{origin}")
            _text_el(el, "target", target)


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


def xliff_document(view: RunView, lang: str, report: ExportReport) -> str | None:
    """The whole <lang>.xlf document; None when no article has segments."""
    root = etree.Element(
        q("xliff"), nsmap={None: NS}, version="2.0", srcLang=SOURCE_LANG, trgLang=lang
    )
    for doc in view.articles():
        file_el = article_file(doc, lang)
        if file_el is None:
            report.skipped.append(f"{doc['id']} ({lang}): no segments")
            continue
        root.append(file_el)
    if len(root) == 0:
        return None
    _indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="unicode") + "\n"
    )


def export_xliff(view: RunView, to: Path, report: ExportReport) -> None:
    """Write one XLIFF 2.0 file per target language the run has."""
    report.articles = len(view.article_ids())
    written = []
    for lang in view.languages():
        if lang == SOURCE_LANG:
            continue
        data = xliff_document(view, lang, report)
        if data is None:
            continue
        write_text(to / f"{lang}.xlf", data)
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


def _inline_text(el: etree._Element, fail: Any) -> str:
    """The text of <source>/<target>: <cp> decoded, <mrk>/<pc> unwrapped, <sm>/<em> dropped."""
    out = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):  # comments, processing instructions
            pass
        elif child.tag == q("cp"):
            try:
                out.append(chr(int(child.get("hex", ""), 16)))
            except ValueError:
                raise fail(child, f"bad <cp hex={child.get('hex')!r}>") from None
        elif child.tag in (q("mrk"), q("pc")):
            out.append(_inline_text(child, fail))
        elif child.tag not in (q("sm"), q("em")):
            raise fail(child, f"unsupported inline element <{etree.QName(child).localname}>")
        out.append(child.tail or "")
    return "".join(out)


def _parse(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None
    except etree.XMLSyntaxError as exc:
        raise ExportError(f"{path}: not well-formed XML: {exc}") from None
    if root.tag != q("xliff"):
        raise ExportError(f"{path}: root element is {root.tag!r}, not <xliff> in namespace {NS}")
    if root.get("version") not in VERSIONS:
        raise ExportError(f"{path}: XLIFF version {root.get('version')!r} is not 2.0/2.1")
    if root.get("srcLang") != SOURCE_LANG:
        raise ExportError(f"{path}: srcLang is {root.get('srcLang')!r}, expected {SOURCE_LANG!r}")
    if not root.get("trgLang"):
        raise ExportError(f"{path}: <xliff> has no trgLang")
    return root


def _read_segment(
    seg: etree._Element,
    ids: dict[str, str],
    lang: str,
    where: _Where,
    seen: set[tuple[str, str, str]],
) -> ReviewedSegment | None:
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
    if not target:
        return None
    return ReviewedSegment(
        article_id=ids["article"],
        part=ids["unit"],
        para=int(match[1]),
        sent=int(match[2]),
        lang=lang,
        source=_inline_text(source_el, fail).strip(),
        target=target,
        state=state,
    )


def read_xliff(path: Path) -> list[ReviewedSegment]:
    """The segments of a reviewed XLIFF 2.0 file that have a non-empty target, in file order.

    Source and target are returned with surrounding whitespace stripped. Malformed
    input raises ExportError naming the file, the article, the unit and the line.
    """
    path = Path(path)
    where = _Where(path)
    root = _parse(path)
    lang = str(root.get("trgLang"))
    found: list[ReviewedSegment] = []
    seen: set[tuple[str, str, str]] = set()
    for file_el in root.iter(q("file")):
        article_id = file_el.get("original") or (file_el.get("id") or "").replace(".", "/")
        if not article_id:
            raise where.error(file_el, "<file> has neither an original nor an id")
        for unit in file_el.iter(q("unit")):
            part = unit.get("id")
            if part not in PARTS:
                raise where.error(
                    unit,
                    f"unit id must be one of {', '.join(PARTS)}",
                    article=article_id,
                    unit=part,
                )
            for seg in unit.findall(q("segment")):
                got = _read_segment(seg, {"article": article_id, "unit": part}, lang, where, seen)
                if got is not None:
                    found.append(got)
    return found
