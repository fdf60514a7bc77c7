"""Paragraphs -> sentences -> back again, and splitting of text that is too long for a model.

Everything here is plain Python: rules and tables, no models. Sentences are always slices of
their paragraph, so no character is ever lost or invented; only the whitespace between
sentences is dropped (and restored, per language, by ``join_sentences``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from itertools import pairwise

from summarize.text.glossary import Glossary
from summarize.text.spans import Span as ProtectedSpan
from summarize.text.spans import protected_spans, unbreakable

__all__ = [
    "Counter",
    "join_paragraphs",
    "join_sentences",
    "one_paragraph",
    "pack_chunks",
    "paragraph_count",
    "split_long",
    "split_paragraphs",
    "split_sentences",
]

Counter = Callable[[list[str]], list[int]]
"""Token counter: one count per text, for a whole batch of texts in one call."""

Span = tuple[int, int]

# ---------------------------------------------------------------------------------------------
# Paragraphs

_BLANK_LINES = re.compile(r"[ \t]*\r?\n(?:[ \t]*\r?\n)+")


def split_paragraphs(body: str) -> list[str]:
    """Paragraphs of a body whose paragraphs are separated by blank lines, each stripped."""
    return [p.strip() for p in _BLANK_LINES.split(body) if p.strip()]


def paragraph_count(body: str) -> int:
    """How many paragraphs ``split_paragraphs`` finds in ``body``."""
    return len(split_paragraphs(body))


def join_paragraphs(paragraphs: list[str]) -> str:
    """The body format: paragraphs separated by exactly one blank line."""
    return "\n\n".join(paragraphs)


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
_SPACE = re.compile(r"\s+")
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


def _blocked_cuts(text: str, protected: list[ProtectedSpan]) -> bytearray:
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
    after = _SPACE.match(text, cut)
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
    blocked = _blocked_cuts(text, protected)
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
            after = _SPACE.match(text, cut)
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


# ---------------------------------------------------------------------------------------------
# Reassembly

_NO_SPACE_LANGS = ("zh", "ja")
_LATIN_END = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,;:!?%)\"'")


# Everything str.splitlines() breaks at: a run of whitespace holding one of these is a line break.
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _line_breaks(run: str) -> int:
    """How many line breaks a whitespace run holds ("\\r\\n" is one; a paragraph separator two)."""
    return len((run + "x").splitlines()) - 1 + run.count("\u2029")


def one_paragraph(text: str) -> str:
    """``text`` (one translated segment) as one paragraph on one line, stripped.

    Every run of whitespace that holds a line or paragraph break (``\\n``, ``\\r``, ``\\u2028``,
    ``\\u2029``, ``\\x85``, ...) becomes one space; other whitespace stays as it is. Inside a
    protected span (``summarize.text.spans``: a tag written over two lines) a single line break is
    kept, so the span stays byte for byte what the source had; a blank line is collapsed even
    there (a source paragraph cannot hold one).
    """
    if not any(ch in _LINE_BREAKS for ch in text):
        return text.strip()
    spans = [(s, e) for s, e, _ in protected_spans(text)]
    starts = [s for s, _ in spans]

    def unbreak(m: re.Match[str]) -> str:
        run = m.group()
        breaks = _line_breaks(run)
        if not breaks:
            return run
        i = bisect.bisect_right(starts, m.start()) - 1
        inside = i >= 0 and spans[i][1] >= m.end()
        return run if inside and breaks == 1 else " "

    return _SPACE.sub(unbreak, text).strip()


def join_sentences(sentences: list[str], lang: str) -> str:
    """Sentences of one paragraph joined per the target language's typography, as one line.

    Chinese and Japanese take no space between sentences, except where Latin text meets Latin
    text ("Python." + "Python 3"); every other language takes one space. Each sentence goes
    through ``one_paragraph`` first, so the result is always a single paragraph.
    """
    pieces = [p for p in map(one_paragraph, sentences) if p]
    if lang.lower().split("-")[0] not in _NO_SPACE_LANGS:
        return " ".join(pieces)
    out = pieces[:1]
    for piece in pieces[1:]:
        latin_meets_latin = out[-1][-1] in _LATIN_END and piece[0].isascii() and piece[0].isalnum()
        out.append(" " + piece if latin_meets_latin else piece)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Splitting text that is too long for a model

_CONJUNCTIONS = (
    "and|but|or|nor|so|yet|while|whereas|which|who|whom|whose|because|although|though|"
    "when|where|after|before|since|if|unless|until|as"
)
# Cut points, coarsest first; each is a whitespace run that the cut removes.
_CUT_LEVELS = (
    re.compile(r"(?<=;)\s+"),
    re.compile(r"(?<=:)\s+|(?<=\s[—–-])\s+"),
    re.compile(rf"(?<=,)\s+(?=(?:{_CONJUNCTIONS})\b)"),
    re.compile(r"(?<=,)\s+"),
)


def _atoms(text: str, span: Span, level: re.Pattern[str], blocked: bytearray) -> list[Span]:
    """``span`` cut at every cut point of ``level`` that ``blocked`` allows."""
    s, e = span
    atoms: list[Span] = []
    for m in level.finditer(text, s, e):
        if m.start() > s and m.end() < e and not blocked[m.start()]:
            atoms.append((s, m.start()))
            s = m.end()
    atoms.append((s, e))
    return atoms


class _Splitter:
    """Splits too-long spans of one text with as few, batched, counter calls as it can."""

    def __init__(self, text: str, max_tokens: int, count: Counter, overhead: int) -> None:
        self.text = text
        self.max = max_tokens
        self._count = count
        self.overhead = overhead  # tokens the counter adds to any text (special tokens)

    def count(self, spans: list[Span]) -> list[int]:
        if not spans:
            return []
        return list(self._count([self.text[s:e] for s, e in spans]))

    def refine(
        self, pending: list[Span], level: re.Pattern[str], blocked: bytearray, done: list[Span]
    ) -> list[Span]:
        """Cut each pending span at ``level`` and pack the atoms; returns what is still too long."""
        cut = [(span, _atoms(self.text, span, level, blocked)) for span in pending]
        still = [span for span, atoms in cut if len(atoms) == 1]
        multi = [atoms for _, atoms in cut if len(atoms) > 1]
        flat = [a for atoms in multi for a in atoms]
        sizes = dict(zip(flat, self.count(flat), strict=True))
        groups: list[list[Span]] = []
        for atoms in multi:
            run: list[Span] = []
            for atom in atoms:
                if sizes[atom] > self.max:
                    groups.extend(self._pack(run, sizes))
                    run = []
                    still.append(atom)
                else:
                    run.append(atom)
            groups.extend(self._pack(run, sizes))
        done.extend(self._verified(groups))
        return still

    def _pack(self, atoms: list[Span], sizes: dict[Span, int]) -> list[list[Span]]:
        """Greedy packing by estimated size (the counter's fixed overhead counted once)."""
        groups: list[list[Span]] = []
        total = 0
        for atom in atoms:
            size = max(0, sizes[atom] - self.overhead)
            if groups and total + size <= self.max:
                groups[-1].append(atom)
                total += size
            else:
                groups.append([atom])
                total = self.overhead + size
        return groups

    def _verified(self, groups: list[list[Span]]) -> list[Span]:
        """Spans of the groups, each checked by the counter; a group over budget is halved."""
        ok: list[Span] = []
        while groups:
            single = [g for g in groups if len(g) == 1]
            ok.extend(g[0] for g in single)
            several = [g for g in groups if len(g) > 1]
            sizes = self.count([(g[0][0], g[-1][1]) for g in several])
            groups = []
            for group, size in zip(several, sizes, strict=True):
                if size <= self.max:
                    ok.append((group[0][0], group[-1][1]))
                else:
                    half = len(group) // 2
                    groups.extend([group[:half], group[half:]])
        return ok

    def chars(self, pending: list[Span], sizes: list[int], done: list[Span]) -> None:
        """Last resort: cut spans without usable whitespace into equal character runs."""
        while pending:
            pieces: list[Span] = []
            for (s, e), size in zip(pending, sizes, strict=True):
                if e - s <= 1:
                    done.append((s, e))  # one character over budget: nothing more to do
                    continue
                parts = min(e - s, max(2, -(-size // self.max)))
                bounds = [s + (e - s) * i // parts for i in range(parts + 1)]
                pieces.extend(pairwise(bounds))
            counts = self.count(pieces)
            pending, sizes = [], []
            for piece, size in zip(pieces, counts, strict=True):
                if size <= self.max:
                    done.append(piece)
                else:
                    pending.append(piece)
                    sizes.append(size)


def split_long(
    text: str, max_tokens: int, count: Counter, glossary: Glossary | None = None
) -> list[str]:
    """``text`` as pieces of at most ``max_tokens`` tokens each, per ``count``.

    Cuts at clause boundaries first (``;``, ``:``, dashes, commas before a conjunction, other
    commas), then between words, all outside protected spans (``summarize.text.spans``, with the
    ``glossary``'s terms) and brackets; then between words inside a span that alone is over
    budget, and only as a last resort inside a word. Returns ``[text]``
    when it fits. ``" ".join(pieces)`` reproduces the stripped text (whitespace at each cut
    becomes one space), except at cuts inside a word, where the pieces join with no space.
    Blank text, and a single character over budget, are returned as they are.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    size, overhead = count([text, ""])
    if size <= max_tokens or not text.strip():
        return [text]
    splitter = _Splitter(text, max_tokens, count, overhead)
    start = len(text) - len(text.lstrip())
    pending: list[Span] = [(start, len(text.rstrip()))]
    blocked = _blocked_cuts(text, protected_spans(text, glossary))
    done: list[Span] = []
    for level in _CUT_LEVELS:
        pending = splitter.refine(pending, level, blocked, done)
    pending = splitter.refine(pending, _SPACE, blocked, done)
    pending = splitter.refine(pending, _SPACE, bytearray(len(text) + 1), done)
    splitter.chars(pending, splitter.count(pending), done)
    return [text[s:e] for s, e in sorted(done)]


# ---------------------------------------------------------------------------------------------
# Chunks of whole sentences for map-reduce summarisation


def _greedy(counts: list[int], cap: int) -> list[list[int]]:
    chunks: list[list[int]] = []
    total = 0
    for i, c in enumerate(counts):
        if chunks and total + c <= cap:
            chunks[-1].append(i)
            total += c
        else:
            chunks.append([i])
            total = c
    return chunks


def pack_chunks(sentences: list[str], counts: list[int], max_tokens: int) -> list[list[int]]:
    """Consecutive sentence indices grouped into chunks of at most ``max_tokens`` summed tokens.

    Uses as few chunks as greedy packing would, but evens out their sizes so the last chunk is
    not a stub. Raises ValueError for a sentence over budget (split it with ``split_long``
    first) or when ``counts`` does not match ``sentences``.
    """
    if len(sentences) != len(counts):
        raise ValueError(f"{len(sentences)} sentences but {len(counts)} counts")
    over = [i for i, c in enumerate(counts) if c > max_tokens]
    if over:
        raise ValueError(
            f"sentence {over[0]} has {counts[over[0]]} tokens, over the budget of {max_tokens}; "
            "split it first"
        )
    if not counts:
        return []
    fewest = len(_greedy(counts, max_tokens))
    lo, hi = max(max(counts), -(-sum(counts) // fewest)), max_tokens
    while lo < hi:  # smallest cap that still needs no more chunks than the budget does
        mid = (lo + hi) // 2
        if len(_greedy(counts, mid)) <= fewest:
            hi = mid
        else:
            lo = mid + 1
    return _greedy(counts, lo)
