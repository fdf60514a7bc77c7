"""Paragraphs -> sentences -> back again, and splitting of text that is too long for a model.

Everything here is plain Python: rules and tables, no models. Sentences are always slices of
their paragraph, so no character is ever lost or invented; only the whitespace between
sentences is dropped (and restored, per language, by ``join_sentences``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from itertools import pairwise

from summarize.text.glossary import Glossary
from summarize.text.sentences import SPACE, blocked_cuts
from summarize.text.spans import protected_spans

__all__ = [
    "Counter",
    "join_paragraphs",
    "join_sentences",
    "one_paragraph",
    "pack_chunks",
    "paragraph_count",
    "split_long",
    "split_paragraphs",
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

    return SPACE.sub(unbreak, text).strip()


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
    blocked = blocked_cuts(text, protected_spans(text, glossary))
    done: list[Span] = []
    for level in _CUT_LEVELS:
        pending = splitter.refine(pending, level, blocked, done)
    pending = splitter.refine(pending, SPACE, blocked, done)
    pending = splitter.refine(pending, SPACE, bytearray(len(text) + 1), done)
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
