"""Sentence splitting: rules and tables for where an English paragraph's sentences end.

Sentences are slices of their paragraph (no character lost or invented). Protected spans
(markup, URLs, glossary terms, brackets) are never cut; see ``blocked_cuts``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from summarize.text.glossary import Glossary
from summarize.text.spans import Span as ProtectedSpan
from summarize.text.spans import protected_spans, unbreakable

Span = tuple[int, int]

# ---------------------------------------------------------------------------------------------
# Sentence splitting: vocabulary


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Titles before a name: a period after them never ends a sentence. Case-sensitive.
_TITLES = _words(
    "Mr Mrs Ms Mx Messrs Mmes Dr Drs Prof Profs Gen Gens Sen Sens Rep Reps Gov Pres Lt Col "
    "Capt Cpt Sgt Maj Adm Cmdr Brig Rev Hon Fr Supt Insp Det Cpl Pvt Atty Amb Rt Mt Ft"
)
# Never at a sentence end in practice. Compared lower-cased.
_NEVER_FINAL = _words("vs v e.g i.e cf viz approx ca incl esp resp")
# Abbreviations before a number ("No. 10", "Fig. 3"): no break when a digit follows.
_BEFORE_NUMBER = _words("no nos fig figs vol vols ch pp p art sec para tel ref op")
# Often sentence-final too ("... in the U.S. The ..."): break only before a typical starter.
_AMBIGUOUS = _words("inc ltd co corp plc llc bros jr sr st ave rd blvd al dept univ est")
# After "5 p.m." a capitalised word starts a new sentence unless it continues the time.
_TIMES = _words("a.m p.m")
_AFTER_TIME = _words(
    """Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April
    May June July August September October November December Jan Feb Mar Apr Jun Jul Aug Sep
    Sept Oct Nov Dec Eastern Pacific Central Mountain Atlantic Local Greenwich Moscow Beijing
    Tokyo Seoul London Paris Berlin Washington"""
)
_MONTHS = _words("Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # U.S, a.m, D.C, e.g (final period not included)
_ENUMERATOR = re.compile(r"\(?(?:\d{1,3}|[A-Za-z]|[ivxlcdm]{1,6}|[IVXLCDM]{1,6})[.)]")

# Words that typically open an English sentence; after an ambiguous abbreviation only these
# (not names: "the U.S. Senate") count as the start of a new sentence.
_STARTERS = _words(
    """A An The This That These Those It Its He She They We I You His Her Their Our My Your
    There Here But And Or So Yet However Meanwhile Moreover Furthermore Still Then Now Today
    Yesterday Tomorrow Last Next In On At For From With Without By After Before When While If
    As Although Though Since Because Also Some Many Most Both All Each Every No Not None One
    Two Three Such Other Another Despite During Under Over About Among What Who Why How Where
    Which Officials Police Authorities Analysts Critics Experts Residents Earlier Later Instead
    Nevertheless Thus Hence Indeed Overall Separately Asked According"""
)

_SPEECH_VERBS = (
    "said|says|asked|asks|told|tells|added|adds|wrote|writes|replied|replies|shouted|yelled|"
    "cried|exclaimed|insisted|warned|recalled|explained|noted|continued|whispered|argued|"
    "declared|announced|remarked|concluded|tweeted|posted|admitted|conceded|joked"
)
# `"Why?" Smith asked.` - a capitalised speaker and a speech verb right after a closing quote.
_ATTRIBUTION = re.compile(rf"(?:[A-Z][\w'’.-]*\s+){{1,4}}(?:{_SPEECH_VERBS})\b")
_ATTRIBUTION_END = re.compile(rf"(?:[A-Z][\w'’.-]*\s+){{1,4}}(?:{_SPEECH_VERBS})\s*[.,!?]")

_CLOSERS = "\"'”’»)]"
_OPENERS = "\"'“‘«([`*_"
_QUOTES = "\"'”’»"
_CURRENCY = "$€£¥"

# A run of terminal punctuation and its closing quotes/brackets; a cut there also needs
# whitespace after it (closing tags may come first: "He won.</b> Then ...").
# The lookbehind and possessive runs keep long runs of punctuation linear.
_TERMINAL = re.compile(rf"(?<![.!?…])([.!?…]++)([{re.escape(_CLOSERS)}]*+)")
SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w$€£¥][\w'’-]*")

# ---------------------------------------------------------------------------------------------
# Sentence splitting: where a cut is allowed at all


def _bracket_spans(text: str) -> list[Span]:
    """Matched ( ) and [ ] pairs, as spans including both brackets; unmatched ones are ignored."""
    stacks: dict[str, list[int]] = {"(": [], "[": []}
    opener_of = {")": "(", "]": "["}
    spans: list[Span] = []
    for m in re.finditer(r"[()\[\]]", text):
        ch, i = m.group(), m.start()
        if ch in stacks:
            stacks[ch].append(i)
        elif stacks[opener_of[ch]]:
            spans.append((stacks[opener_of[ch]].pop(), i + 1))
    return spans


def blocked_cuts(text: str, protected: list[ProtectedSpan]) -> bytearray:
    """``blocked[i]`` is true where a cut at ``i`` would fall inside a span that must stay whole:
    a protected span (``summarize.text.spans``: markup, a whole link, a glossary term) or a pair of
    brackets."""
    spans = unbreakable(protected) + _bracket_spans(text)
    depth = [0] * (len(text) + 2)
    for s, e in spans:
        depth[s + 1] += 1
        depth[e] -= 1
    blocked = bytearray(len(text) + 1)
    inside = 0
    for i in range(len(text) + 1):
        inside += depth[i]
        blocked[i] = inside > 0
    return blocked


# ---------------------------------------------------------------------------------------------
# Sentence splitting: is this terminal punctuation a sentence end?


def _word_before(text: str, pos: int) -> str:
    """The whitespace-delimited word ending at ``pos``, without opening/closing punctuation."""
    start = pos
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:pos].lstrip(_OPENERS).rstrip(_CLOSERS)


def _next_start(text: str, pos: int, opening: dict[int, int]) -> tuple[str, str, bool]:
    """How the text at ``pos`` begins: (kind, first word, opened with a quote).

    Opening quotes and brackets are skipped, and so are the ``opening`` spans (opening tags,
    link openers: start -> end). kind is "upper", "digit" or "" (lower case or anything else:
    no new sentence).
    """
    k = pos
    while k < len(text) and (text[k] in _OPENERS or k in opening):
        k = opening.get(k, k + 1)
    quoted = any(ch in "\"'“‘«" for ch in text[pos:k])
    m = _WORD.match(text, k)
    word = m.group(0) if m else ""
    if not word:
        return "", "", quoted
    first = word[0]
    if first.isupper() or first.istitle():
        return "upper", word, quoted
    if first.isdigit() or (first in _CURRENCY and word[1:2].isdigit()):
        return "digit", word, quoted
    if first.islower() and len(word) > 1 and word[1].isupper():  # iPhone, eBay
        return "upper", word, quoted
    return "", word, quoted


def _is_starter(text: str, pos: int, word: str, quoted: bool) -> bool:
    if quoted:
        return True
    if word == "I" and text.startswith("I.", pos):
        return False  # another initial: "J. I. Rodale"
    return word in _STARTERS


def _period_ends_sentence(word: str, kind: str, next_word: str, starter: bool) -> bool:
    """Decide for a single period after ``word``, given how the next text starts."""
    low = word.lower()
    if word in _TITLES or low in _NEVER_FINAL:
        return False
    if low in _TIMES:
        continues_time = next_word in _AFTER_TIME or (len(next_word) > 1 and next_word.isupper())
        return starter or (kind == "upper" and not continues_time)
    if low in _BEFORE_NUMBER and kind == "digit":
        return False
    ambiguous = (
        low in _AMBIGUOUS
        or word in _MONTHS
        or bool(_DOTTED.fullmatch(word))
        or (len(word) == 1 and word.isupper())
    )
    if ambiguous:
        return starter
    return True


def _after_closers(text: str, pos: int, closing: dict[int, int]) -> int:
    """End of the closing quotes, brackets and closing tags (start -> end) from ``pos`` on."""
    while True:
        if pos in closing:
            pos = closing[pos]
        elif pos < len(text) and text[pos] in _CLOSERS:
            pos += 1
        else:
            return pos


def _ends_sentence(
    text: str, m: re.Match[str], cut: int, start: int, opening: dict[int, int]
) -> bool:
    """Whether the terminal punctuation matched by ``m`` (with its closers up to ``cut``) ends
    the sentence begun at ``start``."""
    run, closers = m.group(1), text[m.end(1) : cut]
    after = SPACE.match(text, cut)
    nxt = after.end() if after else cut
    kind, next_word, quoted = _next_start(text, nxt, opening)
    if not kind:
        return False
    if cut - start <= 12 and _ENUMERATOR.fullmatch(text[start:cut]):
        return False  # "1. First item", "(a) ..."
    if any(q in closers for q in _QUOTES):
        if "." in run and _ATTRIBUTION_END.match(text, nxt):
            return False
        if "." not in run and _ATTRIBUTION.match(text, nxt):
            return False
    if run != ".":
        # ?, !, ?!, ellipses: a new sentence starts with a capital (a digit only after ?/!).
        return kind == "upper" or ("." not in run and "…" not in run)
    word = _word_before(text, m.start(1))
    starter = _is_starter(text, nxt, next_word, quoted)
    return _period_ends_sentence(word, kind, next_word, starter)


def _sentence_spans(text: str, glossary: Glossary | None) -> Iterator[Span]:
    protected = protected_spans(text, glossary)
    blocked = blocked_cuts(text, protected)
    closing = {s: e for s, e, kind in protected if kind == "tag" and text.startswith("</", s)}
    opening = {
        s: e for s, e, kind in protected
        if kind == "link_open" or (kind == "tag" and s not in closing and text[s + 1] != "!")
    }
    start = len(text) - len(text.lstrip())
    end_all = len(text.rstrip())
    for m in _TERMINAL.finditer(text, start, end_all):
        cut = _after_closers(text, m.end(), closing)
        if cut >= end_all or cut <= start or blocked[cut] or not text[cut].isspace():
            continue
        if _ends_sentence(text, m, cut, start, opening):
            yield start, cut
            after = SPACE.match(text, cut)
            start = after.end() if after else cut
    if start < end_all:
        yield start, end_all


def split_sentences(paragraph: str, glossary: Glossary | None = None) -> list[str]:
    """English sentences of one paragraph, each a stripped slice of it.

    No sentence ends inside a protected span (``summarize.text.spans``: markup, links, URLs, ...,
    and the ``glossary``'s terms when one is given) or inside brackets.
    ``" ".join(split_sentences(p))`` is ``p`` stripped, with every run of whitespace between two
    sentences replaced by one space; whitespace inside a sentence is kept as it is.
    """
    return [paragraph[s:e] for s, e in _sentence_spans(paragraph, glossary)]
