"""Translation QA: cheap checks on one translated segment that point a human at likely failures.

Checks (the names are part of the output contract):

* ``empty``: the output is blank while the source is not.
* ``untranslated``: the output equals the source (ignoring case and whitespace) although
  the source has real words (not only numbers, URLs, acronyms, one name or glossary terms).
* ``wrong_script``: Korean output whose letters are mostly not Hangul, Chinese output whose
  letters are mostly not Han, or Chinese output with Traditional characters (those OpenCC's
  t2s conversion changes, see ``traditional_chars``). Markup and capitalised Latin words
  copied from the source (names, brands) are not counted.
* ``repetition``: a generation loop: a 1-6 character unit repeated 4+ times in a row, or a
  longer unit (7-40 characters, e.g. a word n-gram or a Chinese clause) 3+ times.
* ``length_ratio``: output/source length (non-space characters, markup removed) outside
  the bounds for the language; sources under 20 characters are not judged.
* ``number_mismatch``: a number in the source is missing from the output. Numbers are not
  masked before translation (see ``summarize.text.protect``), so this is where they are verified.
  Skipped: integers up to 10 (often written as words) and numbers followed by a scale word
  ("1.2 million" becomes "120만" / "120万").
* ``span_lost`` / ``span_duplicated`` / ``span_repaired``: what ``restore()`` had to fix.
* ``llm_reply``: a chat model's reply that its cleaner could not make a plain translation
  (or summary) even after asking again with the plain prompt, or that was cut off at the
  token budget; the detail says what is wrong. Set by the backend (``backends.base.Flagged``)
  and stored with the text in the memory, so a reused output keeps it.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import opencc

from summarize.text.glossary import Glossary
from summarize.text.protect import SpanIssue, markup_spans

CHECKS = (
    "empty", "untranslated", "wrong_script", "repetition", "length_ratio", "number_mismatch",
    "span_lost", "span_duplicated", "span_repaired", "llm_reply", "truncated",
)
LANGS = ("ko", "zh-Hans")

# Non-space characters of output per non-space character of English source. Calibrated on
# news sentences: ko is typically 0.3-0.55, zh-Hans 0.3-0.45; the bounds catch truncated
# output (a third of the usual) and run-away output (over twice the usual).
LENGTH_BOUNDS = {"ko": (0.15, 1.1), "zh-Hans": (0.12, 0.9)}
MIN_RATIO_SOURCE = 20
MIN_SCRIPT_SHARE = 0.5

# Standard Simplified characters that OpenCC's t2s still rewrites outside the few phrases it
# knows: 吒 (叱吒, 哪吒) and 薹 (芸薹, 菜薹; 苔 is another word, "moss").
NOT_TRADITIONAL = frozenset("吒薹")


@dataclass(frozen=True)
class QAFlag:
    check: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "detail": self.detail}


def check_segment(
    source: str,
    output: str,
    lang: str,
    *,
    issues: Sequence[SpanIssue] = (),
    glossary: Glossary | None = None,
) -> list[QAFlag]:
    """All QA flags for one translated segment (``source`` in English, ``output`` in ``lang``)."""
    if lang not in LANGS:
        raise ValueError(f"no QA checks for language {lang!r} (known: {', '.join(LANGS)})")
    if not output.strip():
        return [QAFlag("empty", "the output is empty")] if source.strip() else []
    flags = [
        *_untranslated(source, output, glossary),
        *_wrong_script(source, output, lang),
        *_repetition(output),
        *_length_ratio(source, output, lang),
        *_numbers(source, output),
    ]
    flags += [QAFlag(f"span_{issue.kind}", issue.detail) for issue in issues]
    return flags


def summarize_flags(flags: Iterable[QAFlag]) -> dict[str, int]:
    """How many flags of each check, in the order of ``CHECKS``."""
    counts = Counter(flag.check for flag in flags)
    return {check: counts[check] for check in CHECKS if counts[check]}


def _without_markup(text: str) -> str:
    pieces, pos = [], 0
    for start, end, _ in markup_spans(text):
        pieces += [text[pos:start], " "]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def _squash(text: str) -> str:
    return "".join(text.casefold().split())


_WORD = re.compile(r"[^\W\d_]{2,}")


def _untranslated(source: str, output: str, glossary: Glossary | None) -> list[QAFlag]:
    if _squash(source) != _squash(output):
        return []
    text = _without_markup(source)
    if glossary is not None:
        for start, end, _ in reversed(glossary.find(text)):
            text = text[:start] + " " + text[end:]
    words = [w for w in _WORD.findall(text) if not w.isupper()]
    # One capitalised word alone is a name or brand ("Reuters"), fine to keep as is.
    if len(words) >= 2 or any(w.islower() for w in words):
        return [QAFlag("untranslated", "the output is the source text unchanged")]
    return []


_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[.&+-][A-Za-z0-9]+)*")


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _is_han(ch: str) -> bool:
    return (
        "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
        or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002ffff"
    )


def _wrong_script(source: str, output: str, lang: str) -> list[QAFlag]:
    text = _without_markup(output)
    source_words = set(_LATIN_NAME.findall(source))

    def copied_name(m: re.Match[str]) -> str:
        word = m.group()
        is_name = word in source_words and (word != word.lower() or any(c.isdigit() for c in word))
        return " " if is_name else word

    letters = [c for c in _LATIN_NAME.sub(copied_name, text) if c.isalpha()]
    flags = []
    if len(letters) >= 2:
        native, script = (_is_hangul, "Hangul") if lang == "ko" else (_is_han, "Han")
        share = sum(map(native, letters)) / len(letters)
        if share < MIN_SCRIPT_SHARE:
            flags.append(QAFlag("wrong_script", f"only {share:.0%} of the letters are {script}"))
    if lang == "zh-Hans":
        trad = traditional_chars(output)
        if trad:
            flags.append(QAFlag("wrong_script", f"Traditional characters: {' '.join(trad[:10])}"))
    return flags


@functools.cache
def _t2s() -> Any:
    return opencc.OpenCC("t2s")


def traditional_chars(text: str) -> list[str]:
    """Traditional characters in ``text``, each once, in order of first appearance.

    A character counts when OpenCC's Traditional-to-Simplified conversion of the whole text
    changes it (so phrases where it is also Simplified, like 乾隆 or 宫商角徵羽, stay clean)
    and when the character alone converts too (so a Simplified character that a phrase rule
    rewrites, like 坏 in 打坏, is not taken for Traditional). ``NOT_TRADITIONAL`` is exempt.
    """
    converted = _t2s().convert(text)
    if len(converted) == len(text):
        changed = [a for a, b in zip(text, converted, strict=True) if a != b]
    else:  # a phrase changed length: compare by alignment
        matcher = difflib.SequenceMatcher(None, text, converted, autojunk=False)
        changed = [text[i] for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal"
                   for i in range(i1, i2)]
    return [ch for ch in dict.fromkeys(changed)
            if _is_han(ch) and ch not in NOT_TRADITIONAL and _t2s().convert(ch) != ch]


_SHORT_LOOP = re.compile(r"(.{1,6}?)\1{3,}")
_LONG_LOOP = re.compile(r"(.{7,40}?)\1{2,}")


def _repetition(output: str) -> list[QAFlag]:
    text = " ".join(_without_markup(output).split())
    for pattern in (_SHORT_LOOP, _LONG_LOOP):
        for m in pattern.finditer(text):
            unit = m.group(1)
            if any(c.isalpha() for c in unit):
                times = len(m.group()) // len(unit)
                return [QAFlag("repetition", f"{unit.strip()!r} repeated {times} times in a row")]
    return []


def _length_ratio(source: str, output: str, lang: str) -> list[QAFlag]:
    src = len(_squash(_without_markup(source)))
    if src < MIN_RATIO_SOURCE:
        return []
    ratio = len(_squash(_without_markup(output))) / src
    low, high = LENGTH_BOUNDS[lang]
    if low <= ratio <= high:
        return []
    return [QAFlag("length_ratio", f"output/source length {ratio:.2f} is outside {low}-{high}")]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SCALE = re.compile(r"\s*(?:thousand|million|billion|trillion|bn|mn|[mkb])\b", re.I)


def _value(number: str) -> Decimal | None:
    try:
        return Decimal(number.replace(",", "")).normalize()
    except InvalidOperation:
        return None


def _numbers(source: str, output: str) -> list[QAFlag]:
    src = unicodedata.normalize("NFKC", source)
    found = {_value(m.group()) for m in _NUMBER.finditer(unicodedata.normalize("NFKC", output))}
    missing = []
    for m in _NUMBER.finditer(src):
        number, value = m.group(), _value(m.group())
        if value is None or _SCALE.match(src, m.end()):
            continue
        small = value == value.to_integral_value() and value <= 10 and src[m.end():m.end() + 1] != "%"
        if not small and value not in found:
            missing.append(number)
    if not missing:
        return []
    return [QAFlag("number_mismatch", f"missing from the output: {', '.join(dict.fromkeys(missing))}")]
