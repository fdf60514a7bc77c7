"""Mask markup, placeholders and glossary terms before translation; put them back after.

Placeholder form: ``[0]``, ``[1]``, ... (an ASCII square bracket pair around a number).

Why this form:

* Every piece is in every vocabulary. Marian/OPUS-MT, NLLB, M2M100 and mBART use
  SentencePiece vocabularies learned from their training text; ``[``, ``]`` and digits
  are frequent there, so the placeholder never becomes ``<unk>``. Unusual Unicode
  brackets (``⟨0⟩``, ``«0»``) are a gamble: NLLB's vocabulary lacks even ``《》``
  (fairseq#4560) and OPUS-MT's preprocessing rewrites ``【】`` to ``[]`` (OPUS-CAT#83).
* Models copy it. Bracketed numbers are common in their training data (citations,
  list markers, software strings in OPUS), and models copy digits well.
* No letters, so nothing to translate, transliterate or re-case. Word-like sentinels
  (``PH0``, ``XX0XX``, ``__ph0__``) are translated, split or re-cased by en->zh/ja
  models (reported by ModernMT#362 and Tolgee#3779), and there is no case to change.
* Mangled variants are still recognised on the way back: inner spaces (``[ 0 ]``),
  full-width digits and brackets (``［０］``, ``【0】``), and, only for a placeholder not
  found otherwise and not present in the masked input, ``(0)``/``{0}``/``<0>``.
* No collisions: any text in the source that already looks like a placeholder
  (a citation ``[3]``) is itself protected, so every match in the masked text is ours.

Numbers are NOT masked: models copy digits reliably, and a translation needs to see
the number to pick counters and scale words ("1.2 million" -> "120만", "3 people" ->
"3명"); a masked number would turn into "[0]백만". Numbers are verified by the
``number_mismatch`` QA check instead (``summarize.text.qa``).

What is protected is defined once, in ``summarize.text.spans`` (the sentence splitter uses the
same definition, so it never cuts where a placeholder goes). Glossary terms are masked too and
come back in their target-language form. A Markdown link keeps its text translatable: only
``[`` and ``](url)`` are masked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from summarize.text.glossary import Glossary
from summarize.text.spans import MARKER, Kind, protected_spans

SpanKind = Kind
IssueKind = Literal["lost", "duplicated", "repaired"]


@dataclass(frozen=True)
class Span:
    """One protected piece: its placeholder, its source text and what goes back in the target."""

    placeholder: str
    source: str
    replacement: str
    kind: SpanKind
    partner: int | None = None  # index of the other half of a link


@dataclass(frozen=True)
class Masked:
    """A source sentence with its protected pieces replaced by placeholders."""

    text: str
    spans: tuple[Span, ...]
    source: str
    target_lang: str | None = None


@dataclass(frozen=True)
class SpanIssue:
    """Something restore() had to fix; every fix is reported."""

    kind: IssueKind
    span: Span
    detail: str


@dataclass(frozen=True)
class Restored:
    text: str
    issues: tuple[SpanIssue, ...]


def placeholder(index: int) -> str:
    return f"[{index}]"


# Placeholders a model re-bracketed; trusted only when the masked text has no such string.
_MARKER_LOOSE = re.compile(r"[(（{<《]\s*([0-9０-９]+)\s*[)）}>》]")


def markup_spans(text: str) -> list[tuple[int, int, SpanKind]]:
    """Protected markup in ``text`` (no glossary terms), as sorted ``(start, end, kind)``."""
    return protected_spans(text)


def protect(text: str, glossary: Glossary | None = None, target_lang: str | None = None) -> Masked:
    """Replace markup and glossary terms in ``text`` by placeholders ``[0]``, ``[1]``, ..."""
    found = protected_spans(text, glossary)
    if not found:
        return Masked(text, (), text, target_lang)
    pieces: list[str] = []
    spans: list[Span] = []
    opens: list[int] = []
    partners: dict[int, int] = {}
    pos = 0
    for i, (start, end, kind) in enumerate(found):
        pieces += [text[pos:start], placeholder(i)]
        pos = end
        source = text[start:end]
        replacement = glossary.form(source, target_lang) if kind == "term" and glossary else source
        spans.append(Span(placeholder(i), source, replacement, kind))
        if kind == "link_open":
            opens.append(i)
        elif kind == "link_close":
            partners[i] = opens.pop()  # links do not nest, so the last open is the partner
            partners[partners[i]] = i
    pieces.append(text[pos:])
    linked = tuple(
        Span(s.placeholder, s.source, s.replacement, s.kind, partners.get(i)) for i, s in enumerate(spans)
    )
    return Masked("".join(pieces), linked, text, target_lang)


# ---------------------------------------------------------------- restore

_Token = str | int  # plain text, or the index of a span


def restore(output: str, masked: Masked) -> Restored:
    """Put the protected pieces back into a model's output; each span ends up exactly once."""
    spans = masked.spans
    if not spans:
        return Restored(output, ())
    issues: list[SpanIssue] = []
    tokens = _dedupe(_tokenize(output, masked), spans, issues)
    _fix_link_order(tokens, spans, issues)
    _insert_lost(tokens, masked, issues)
    return Restored(_render(tokens, masked), tuple(issues))


def _hits(output: str, masked: Masked) -> list[tuple[int, int, int]]:
    """``(start, end, span index)`` of each placeholder the model wrote, in order."""
    n = len(masked.spans)
    strict = [(m.start(), m.end(), _number(m.group(1))) for m in MARKER.finditer(output)]
    strict = [h for h in strict if h[2] < n]
    seen = {idx for _, _, idx in strict}
    loose = []
    for m in _MARKER_LOOSE.finditer(output):
        idx = _number(m.group(1))
        overlaps = any(m.start() < e and s < m.end() for s, e, _ in strict)
        if idx < n and idx not in seen and m.group() not in masked.text and not overlaps:
            loose.append((m.start(), m.end(), idx))
            seen.add(idx)
    return sorted(strict + loose)


def _number(digits: str) -> int:
    return int(unicodedata.normalize("NFKC", digits))


def _tokenize(output: str, masked: Masked) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    for start, end, idx in _hits(output, masked):
        tokens += [output[pos:start], idx]
        pos = end
    tokens.append(output[pos:])
    return tokens


def _dedupe(tokens: list[_Token], spans: tuple[Span, ...], issues: list[SpanIssue]) -> list[_Token]:
    """Keep the first occurrence of each placeholder, drop the rest (and the space it leaves)."""
    seen: set[int] = set()
    extra: dict[int, int] = {}
    kept: list[_Token] = []
    for tok in tokens:
        if isinstance(tok, int) and tok in seen:
            extra[tok] = extra.get(tok, 0) + 1
            continue
        if isinstance(tok, int):
            seen.add(tok)
        if isinstance(tok, str) and kept and isinstance(kept[-1], str):
            kept[-1] = _join_gap(kept[-1], tok)
        else:
            kept.append(tok)
    for idx, count in sorted(extra.items()):
        span = spans[idx]
        issues.append(SpanIssue(
            "duplicated", span,
            f"{span.placeholder} ({span.source!r}) appeared {count + 1} times; kept the first",
        ))
    return kept


def _join_gap(left: str, right: str) -> str:
    """Join the text around a dropped placeholder without a doubled or stray space."""
    if left[-1:].isspace() and right[:1].isspace():
        return left + right.lstrip()
    if left[-1:].isspace() and right[:1] and _is_punct(right[0]):
        return left.rstrip() + right
    return left + right


def _fix_link_order(tokens: list[_Token], spans: tuple[Span, ...], issues: list[SpanIssue]) -> None:
    where = {tok: i for i, tok in enumerate(tokens) if isinstance(tok, int)}
    for idx, span in enumerate(spans):
        if span.kind != "link_open" or span.partner is None:
            continue
        if idx in where and span.partner in where and where[span.partner] < where[idx]:
            tokens[where[idx]], tokens[where[span.partner]] = span.partner, idx
            issues.append(SpanIssue(
                "repaired", span,
                f"link parts {span.placeholder} and {spans[span.partner].placeholder} came back in "
                "reverse order; swapped them",
            ))


_TRAILING_CHARS = " \t\n.!?。！？…\"'”’」』"


def _insert_lost(tokens: list[_Token], masked: Masked, issues: list[SpanIssue]) -> None:
    present = {tok for tok in tokens if isinstance(tok, int)}
    for idx, span in enumerate(masked.spans):
        if idx in present:
            continue
        if span.kind == "link_open":
            tokens.insert(0, idx)
            tokens.insert(0, "")
            where = "at the start"
        else:
            tail = str(tokens[-1])  # tokens alternate text, span, text, ...: the last is text
            cut = len(tail.rstrip(_TRAILING_CHARS))
            head = tail[:cut]
            sep = _separator(head, span, masked.target_lang) if (head or len(tokens) > 1) else ""
            tokens[-1:] = [head + sep, idx, tail[cut:]]
            where = "at the end"
        issues.append(SpanIssue(
            "lost", span, f"{span.placeholder} ({span.source!r}) missing from the output; inserted {where}",
        ))


def _separator(before: str, span: Span, lang: str | None) -> str:
    if span.kind == "link_close" or lang == "zh-Hans" or before[-1:].isspace():
        return ""
    return " "


def _render(tokens: list[_Token], masked: Masked) -> str:
    spans = masked.spans
    parts: list[str] = [tok if isinstance(tok, str) else "" for tok in tokens]
    for i, tok in enumerate(tokens):
        if isinstance(tok, str):
            continue
        span = spans[tok]
        text = span.replacement
        # Spaces a model put inside a link's brackets: "[0] 보고서 [1]" -> "[보고서](url)".
        if span.kind == "link_open" and i + 1 < len(parts):
            parts[i + 1] = parts[i + 1].lstrip()
        if span.kind == "link_close" and i > 0:
            parts[i - 1] = parts[i - 1].rstrip()
        # Only a glossary form is new to the model; spacing around copied markup is its choice.
        if masked.target_lang == "zh-Hans" and text != span.source:
            _tighten_cjk(parts, i, text)
        if masked.target_lang == "ko" and span.kind == "term" and i + 1 < len(parts):
            parts[i + 1] = _fix_particle(text, parts[i + 1])
        parts[i] = text
    return "".join(parts)


def _is_cjk(ch: str) -> bool:
    return bool(ch) and (
        "\u3000" <= ch <= "\u303f" or "\u3400" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"
    )


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


_HSPACE = " \t\u00a0\u3000"


def _tighten_cjk(parts: list[str], i: int, text: str) -> None:
    """Drop model-added spaces between a Chinese glossary form and the Chinese text around it."""
    left, right = parts[i - 1] if i > 0 else "", parts[i + 1] if i + 1 < len(parts) else ""
    if left[-1:] in _HSPACE and left and _is_cjk(text[:1]) and _is_cjk(left.rstrip(_HSPACE)[-1:]):
        parts[i - 1] = left.rstrip(_HSPACE)
    if right[:1] in _HSPACE and right and _is_cjk(text[-1:]) and _is_cjk(right.lstrip(_HSPACE)[:1]):
        parts[i + 1] = right.lstrip(_HSPACE)


# Korean particles whose form depends on whether the word before ends in a consonant.
_PARTICLES = (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"))


def _fix_particle(word: str, after: str) -> str:
    """Make a particle agree with a glossary form the model never saw ("[0]는" -> "세계보건기구는")."""
    last = word[-1:]
    if not ("가" <= last <= "힣"):
        return after
    final = (ord(last) - 0xAC00) % 28
    for consonant_form, vowel_form in _PARTICLES:
        for form in (consonant_form, vowel_form):
            rest = after[len(form):]
            if not after.startswith(form) or (rest[:1] and "가" <= rest[0] <= "힣" and rest[0] != "의"):
                continue
            if consonant_form == "으로":
                want = vowel_form if final in (0, 8) else consonant_form  # ㄹ takes 로
            else:
                want = consonant_form if final else vowel_form
            return want + rest
    return after
