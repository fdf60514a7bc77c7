"""Protected spans: the one definition of text that is never cut into sentences nor translated.

``protected_spans`` is used by the sentence splitter (``summarize.text.segment``: no sentence or
clause boundary inside a span) and by the placeholder masker (``summarize.text.protect``: each span
becomes a placeholder and comes back byte for byte). Both therefore agree on what is markup.

Kinds, highest priority first (an earlier kind claims its text before a later one may look):

* ``code``: a Markdown code span, a backtick run closed by a run of the same length.
* ``link_open`` / ``link_close``: a Markdown link or image is two spans, ``[`` (or ``![``) and
  ``](url "title")``, so its text stays translatable. ``unbreakable`` joins the two halves
  into one region for the splitter.
* ``tag``: an inline HTML tag with its attributes (quoted values may hold ``>``, ``. `` and
  ``? ``), or an HTML comment.
* ``url``, ``email``: ASCII only, so a URL written straight before Chinese text ends there;
  sentence punctuation after a URL is not part of it.
* ``placeholder``: template variables (``{name}``, ``{{ user }}``, ``%s``, ``%(n)d``, ...).
* ``marker``: text that looks like our own placeholders (``[3]``, a citation), so that every
  placeholder in masked text is ours.
* ``term``: a glossary term (only when a glossary is given), never inside other markup.

Every pattern is linear on junk input (a wall of ``<``, backticks or brackets).
"""

from __future__ import annotations

import bisect
import re
from typing import Literal

from summarize.text.glossary import Glossary

__all__ = ["MARKER", "Kind", "Region", "Span", "protected_spans", "unbreakable"]

Kind = Literal[
    "link_open", "link_close", "code", "tag", "url", "email", "placeholder", "marker", "term"
]
Span = tuple[int, int, Kind]
"""``(start, end, kind)``: ``text[start:end]`` is protected."""
Region = tuple[int, int]

_CODE = re.compile(r"(?<!`)(`++)[^\n]{1,1000}?(?<!`)\1(?!`)")
_LINK = re.compile(
    r"(?P<open>!?\[\s*)(?P<text>[^\[\]\n]*?)"
    r"(?P<close>\s*\]\((?:[^()\s]|\([^()\s]*\))*+(?:\s+\"[^\"\n]*\")?\))"
)
# A quoted attribute value may hold '>' but not '<' or a line break; an unclosed quote is
# taken as a plain character, so a stray apostrophe does not swallow the rest of the text.
_TAG = re.compile(
    r"</?[A-Za-z][A-Za-z0-9:-]*"
    r"(?:\s(?:\"[^\"<\n]*+\"|'[^'<\n]*+'|[^<>])*+)?/?>"
)
_URL = re.compile(
    r"(?<![A-Za-z0-9_@/.])(?:(?i:https?|ftp)://|(?i:www)\.)[A-Za-z0-9\-._~:/?#@!$&*+,;=%()]+"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![A-Za-z0-9_-])"
)
_TEMPLATE = re.compile(
    r"\{\{[^{}\n]*\}\}"  # {{name}}
    r"|\{[\w.:!\-]*\}"  # {name}, {0}, {}
    r"|%\(\w+\)[#0 +\-]*\d*(?:\.\d+)?[sdifeEgGxXrc]"  # %(name)s
    r"|%\d+\$[sd]"  # %1$s
    r"|(?<![%\w])%[#0+\-]?\d*(?:\.\d+)?[sdifxX](?![A-Za-z])"  # %s, %d, %.2f
)
MARKER_OPEN, MARKER_CLOSE = "[［【〔", "]］】〕"
MARKER = re.compile(rf"[{re.escape(MARKER_OPEN)}]\s*([0-9０-９]+)\s*[{re.escape(MARKER_CLOSE)}]")
"""Our placeholder ``[0]`` and the variants models turn it into (``[ 0 ]``, ``［０］``, ``【0】``)."""

_URL_TRAILING = ".,;:!?'\""
_SIMPLE: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("tag", _TAG), ("url", _URL), ("email", _EMAIL), ("placeholder", _TEMPLATE), ("marker", MARKER),
)


def protected_spans(text: str, glossary: Glossary | None = None) -> list[Span]:
    """Every protected span of ``text``, sorted and non-overlapping."""
    claims = _Claims(text)
    for m in _CODE.finditer(text):
        claims.take(m.start(), m.end(), "code")
    _links(text, claims)
    blanked = claims.blanked()
    for start, end in _comments(blanked):
        claims.take(start, end, "tag")
    for kind, pattern in _SIMPLE:
        blanked = claims.blanked()
        for m in pattern.finditer(blanked):
            start, end = m.span()
            if kind == "url":
                end = start + _url_length(m.group())
            claims.take(start, end, kind)
    if glossary is not None:
        for start, end, _term in glossary.find(claims.blanked()):
            claims.take(start, end, "term")
    return claims.taken


def unbreakable(spans: list[Span]) -> list[Region]:
    """The regions a cut must not fall inside: each span, and a whole link for its two halves."""
    regions: list[Region] = []
    open_at: int | None = None
    for start, end, kind in spans:
        if kind == "link_open":
            open_at = start
        elif kind == "link_close" and open_at is not None:
            regions.append((open_at, end))
            open_at = None
        else:
            regions.append((start, end))
    return regions


def _links(text: str, claims: _Claims) -> None:
    for m in _LINK.finditer(claims.blanked()):
        # Blanked text has spaces where code was; measure the brackets' whitespace on the real text.
        open_end = m.start() + len(m.group("open").rstrip())
        while open_end < len(text) and text[open_end].isspace():
            open_end += 1
        close_start = m.start("close") + m.group("close").index("]")
        while close_start > open_end and text[close_start - 1].isspace():
            close_start -= 1
        if claims.free(m.start(), open_end) and claims.free(close_start, m.end()):
            claims.take(m.start(), open_end, "link_open")
            claims.take(close_start, m.end(), "link_close")


def _comments(text: str) -> list[Region]:
    """``<!-- ... -->`` comments; found with ``str.find`` so unclosed ones cost one scan."""
    found: list[Region] = []
    pos = 0
    while (start := text.find("<!--", pos)) != -1:
        end = text.find("-->", start + 4)
        if end == -1:
            break
        found.append((start, end + 3))
        pos = end + 3
    return found


def _url_length(url: str) -> int:
    """Length of a URL match without the sentence punctuation (or the unbalanced ')') after it."""
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last == ")" and closed > opened:
            closed -= 1
            end -= 1
        else:
            break
    return end


class _Claims:
    """Non-overlapping regions of a text, claimed in priority order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.taken: list[Span] = []  # sorted by start

    def free(self, start: int, end: int) -> bool:
        if start >= end:
            return False
        i = bisect.bisect_left(self.taken, (start,))
        after_ok = i == len(self.taken) or self.taken[i][0] >= end
        before_ok = i == 0 or self.taken[i - 1][1] <= start
        return after_ok and before_ok

    def take(self, start: int, end: int, kind: Kind) -> None:
        if self.free(start, end):
            bisect.insort(self.taken, (start, end, kind))

    def blanked(self) -> str:
        """The text with claimed regions turned to spaces, so later patterns cannot reach into them."""
        pieces: list[str] = []
        pos = 0
        for start, end, _ in self.taken:
            pieces += [self.text[pos:start], " " * (end - start)]
            pos = end
        pieces.append(self.text[pos:])
        return "".join(pieces)
