"""From segments to translated segments to the article JSON: pure functions, no I/O, no
counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from summarize.backends.base import flag_check, flag_of
from summarize.records import Article, Part, Segment
from summarize.text.glossary import Glossary
from summarize.text.protect import Masked, protect, restore
from summarize.text.qa import QAFlag, check_segment
from summarize.text.segment import join_sentences, one_paragraph

SegmentKey = tuple[str, Part, int, int]
Origin = Literal["model", "memory", "human"]


def key_of(segment: Segment) -> SegmentKey:
    return (segment.article_id, segment.part, segment.para_idx, segment.sent_idx)


@dataclass(frozen=True)
class Translated:
    """One segment in one language: the text (None where generation failed, with the reason
    in ``error``), where it came from, and its QA flags."""

    text: str | None
    origin: Origin
    qa: list[QAFlag] = field(default_factory=list)
    error: str | None = None


def to_translate(segments: Sequence[Segment], langs: Sequence[str],
                 human: dict[str, dict[str, str]], glossary: Glossary | None
                 ) -> tuple[dict[str, dict[str, Masked]], list[str]]:
    """Each segment's text masked per language, and the distinct masked texts the model is
    to translate (those without a human translation)."""
    masked = {lang: {s.text: protect(s.text, glossary, lang) for s in segments} for lang in langs}
    todo = list(dict.fromkeys(masked[lang][s.text].text for lang in langs for s in segments
                              if s.text not in human[lang]))
    return masked, todo


def finish_translations(segments: Sequence[Segment], lang: str, human: dict[str, str],
                        masked: dict[str, Masked], out_of: dict[str, str | None],
                        failures: dict[str, str], reused: set[str],
                        glossary: Glossary | None) -> dict[SegmentKey, Translated]:
    """Per segment: a human translation if there is one, else the model's output with its
    placeholders restored; QA on each."""
    results: dict[SegmentKey, Translated] = {}
    for s in segments:
        if s.text in human:
            text = one_paragraph(human[s.text])
            results[key_of(s)] = Translated(text, "human",
                                            check_segment(s.text, text, lang, glossary=glossary))
            continue
        m = masked[s.text]
        raw = out_of.get(m.text)
        if raw is None:
            results[key_of(s)] = Translated(None, "model", error=failures.get(m.text, "no output"))
            continue
        restored = restore(raw, m)
        text = one_paragraph(restored.text)  # a line break in any output never adds a paragraph
        flags = check_segment(s.text, text, lang, issues=restored.issues, glossary=glossary)
        if flag_of(raw):  # the backend's own verdict, kept in the memory with the text
            flags.append(QAFlag(*flag_check(str(flag_of(raw)))))
        results[key_of(s)] = Translated(text, "memory" if m.text in reused else "model", flags)
    return results


@dataclass(frozen=True)
class Summary:
    text: str
    levels: int  # generate() rounds the summary took (1: direct, more: map-reduce)
    flag: str | None = None  # the summariser's verdict on its final output (flag_check)


def assemble(article: Article, segments: Sequence[Segment], summary: Summary,
             translated: dict[str, dict[SegmentKey, Translated]], languages: Sequence[str],
             input_sha: str, config_hash: str, output_identity: str = ""
             ) -> tuple[dict[str, Any], str | None]:
    """The article's JSON document, and why the article failed (None when it did not)."""
    a = article
    doc: dict[str, Any] = {
        "id": a.id,
        "source": {"lang": "en", "title": a.title, "body": a.body, "file": a.source,
                   "meta": a.meta},
        "summary": {"en": summary.text},
        "translations": {},
        "segments": [],
        "qa": [],
        "input_sha256": input_sha,
        "config_hash": config_hash,
        "output_identity": output_identity,
    }
    errors: list[str] = []
    for lang in languages:
        parts: dict[tuple[str, int], list[str]] = {}
        for s in segments:
            r = translated[lang][key_of(s)]
            where = f"{s.part}/p{s.para_idx}s{s.sent_idx}"
            if r.text is None:
                errors.append(f"{lang} {where}: {r.error}")
                continue
            parts.setdefault((s.part, s.para_idx), []).append(r.text)
            for flag in r.qa:
                doc["qa"].append({"segment": where, "language": lang,
                                  "check": flag.check, "detail": flag.detail})
        paragraphs = [join_sentences(parts.get(("body", i), []), lang)
                      for i in range(len(a.paragraphs))]
        blank = [i for i, text in enumerate(paragraphs) if not text.strip()]
        if blank and not errors:
            # An all-empty paragraph would break the paragraph-count contract of the body.
            errors.append(f"{lang} body paragraph {blank[0]}: the translation is empty")
        doc["translations"][lang] = {
            "title": join_sentences(parts.get(("title", 0), []), lang),
            "body": "\n\n".join(paragraphs)}
        doc["summary"][lang] = join_sentences(parts.get(("summary", 0), []), lang)
    for s in segments:
        seg: dict[str, Any] = {"part": s.part, "para": s.para_idx, "sent": s.sent_idx, "en": s.text}
        origin: dict[str, str] = {}
        for lang in languages:
            r = translated[lang][key_of(s)]
            seg[lang] = r.text
            origin[lang] = r.origin
        seg["origin"] = origin
        doc["segments"].append(seg)
    doc["summary_levels"] = summary.levels
    if not summary.text.strip():
        doc["qa"].append({"segment": "summary", "language": "en", "check": "empty",
                          "detail": "the summariser returned no text"})
    if summary.flag:
        check, detail = flag_check(summary.flag)
        doc["qa"].append({"segment": "summary", "language": "en", "check": check,
                          "detail": detail})
    failure = "translation failed: " + "; ".join(errors[:3]) if errors else None
    return doc, failure
