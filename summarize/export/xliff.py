"""XLIFF 2.0 export for review (the reader for reviewed files is export/xliff_read.py).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from summarize.export.run import (
    PARTS,
    SOURCE_LANG,
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

SEGMENT_ID = re.compile(r"p(\d+)s(\d+)\Z")
DIGEST = re.compile(r"[0-9a-f]{32}\Z")
HEX = re.compile(r"[0-9A-Fa-f]{1,6}\Z")
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
        if part in PARTS and SEGMENT_ID.match(seg):
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
