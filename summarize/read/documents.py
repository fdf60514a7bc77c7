"""One-article formats: plain text, Markdown (with front matter), HTML (trafilatura)."""


from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from lxml import html as lxml_html

from summarize.read.common import (
    MAX_FRONT_MATTER,
    MAX_FRONT_MATTER_DEPTH,
    FileContext,
    Item,
    Unusable,
    clean_text,
    jsonable,
    make_article,
    split_paragraphs,
)

# ---------------------------------------------------------------- plain text


def read_txt(text: str, ctx: FileContext) -> Iterator[Item]:
    title, _, rest = text.strip().partition("\n")
    yield make_article(ctx, title, split_paragraphs(rest))


# ---------------------------------------------------------------- markdown


_FM_OPEN = re.compile(r"---[ \t]*")
_FM_CLOSE = re.compile(r"(---|\.\.\.)[ \t]*")
_MD_HEADING = re.compile(r" {0,3}#{1,6}(\s|$)")
_MD_BULLET = re.compile(r" {0,3}[-*+]\s")
_MD_ORDERED = re.compile(r" {0,3}(\d{1,9})[.)]\s")
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])( *\1){2,} *")
_MD_H1 = re.compile(r" {0,3}#(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r" {0,3}=+[ \t]*")


def read_markdown(text: str, ctx: FileContext) -> Iterator[Item]:
    front, body = _split_front_matter(text)
    meta = jsonable(front)
    fm_title = meta.pop("title", None)
    if fm_title is not None and not isinstance(fm_title, str | int | float):
        raise Unusable("front matter title is not text")
    fm_id = meta.pop("id", None)
    if fm_id is not None and not isinstance(fm_id, str | int):
        raise Unusable("front matter id is not text")
    blocks = _markdown_blocks(body)
    heading = _leading_h1(blocks[0]) if blocks else None
    title = clean_text(str(fm_title)) if fm_title is not None else ""
    if heading is not None and (not title or clean_text(heading).casefold() == title.casefold()):
        title = title or heading
        blocks = blocks[1:]
    if not title:
        raise Unusable("no title (no front-matter title and no leading '# heading')")
    paragraphs = [" ".join(block) for block in blocks if not _THEMATIC_BREAK.fullmatch(block[0])]
    yield make_article(ctx, title, paragraphs, id=str(fm_id) if fm_id else None, meta=meta)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return the YAML front matter as a mapping ({} when absent) and the text after it."""
    lines = text.split("\n")
    if not _FM_OPEN.fullmatch(lines[0]):
        return {}, text
    for end in range(1, len(lines)):
        if _FM_CLOSE.fullmatch(lines[end]):
            break
    else:
        raise Unusable("front matter is not closed (no closing '---' line)", 1)
    front = "\n".join(lines[1:end])
    if len(front) > MAX_FRONT_MATTER:
        raise Unusable(f"front matter is longer than {MAX_FRONT_MATTER // 1024} KiB", 1)
    try:
        data = yaml.load(front, Loader=_FrontMatterLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else 1
        raise Unusable(f"malformed front matter: {exc.problem or exc}", line) from exc
    except yaml.YAMLError as exc:
        raise Unusable(f"malformed front matter: {exc}", 1) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Unusable(f"front matter is not a mapping (got {type(data).__name__})", 1)
    return data, "\n".join(lines[end + 1 :])


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting before building anything.

    safe_load shares aliased nodes, and copying them to JSON later expands them: a
    "billion laughs" of a few hundred bytes would exhaust memory. Refusing the alias when
    it is composed means nothing is ever expanded.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 2  # front matter starts on line 2
            raise Unusable("front matter uses YAML aliases, which are not allowed", line)
        self._depth += 1
        try:
            if self._depth > MAX_FRONT_MATTER_DEPTH:
                line = self.peek_event().start_mark.line + 2
                raise Unusable(
                    f"front matter is nested more than {MAX_FRONT_MATTER_DEPTH} levels deep", line
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _markdown_blocks(body: str) -> list[list[str]]:
    """Paragraph blocks as lists of stripped lines; headings and list items start their own block."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in body.split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current = []
            continue
        if current and _starts_block(line, current):
            blocks.append(current)
            current = []
        current.append(line.strip())
    if current:
        blocks.append(current)
    return blocks


def _starts_block(line: str, current: list[str]) -> bool:
    """Whether `line` ends the block so far: headings and list items stand alone."""
    if _MD_HEADING.match(line) or _MD_HEADING.match(current[-1]) or _MD_BULLET.match(line):
        return True
    ordered = _MD_ORDERED.match(line)
    # As in CommonMark, only "1." may interrupt running text ("... in\n2024. Then").
    in_list = bool(_MD_BULLET.match(current[0]) or _MD_ORDERED.match(current[0]))
    return bool(ordered and (in_list or ordered.group(1) == "1"))


def _leading_h1(block: list[str]) -> str | None:
    """The text of a level-1 heading (`# X` or X over `===`) that makes up the whole block."""
    if len(block) == 1:
        match = _MD_H1.fullmatch(block[0])
        return clean_text(match.group(1) or "") if match else None
    if len(block) == 2 and _SETEXT_H1.fullmatch(block[1]):
        return clean_text(block[0])
    return None


# ---------------------------------------------------------------- html


def _lowered(attr: str) -> str:
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ "  # the space has no counterpart, so it is removed
    return f"translate({attr}, '{upper}', '{upper[:-1].lower()}')"


# Pruned before extraction: text a reader of the page never sees.
_HIDDEN_XPATH = (
    "//*[@hidden or @aria-hidden='true'"
    f" or contains({_lowered('@style')}, 'display:none')"
    f" or contains({_lowered('@style')}, 'visibility:hidden')]"
)
# Elements of trafilatura's output tree that start a paragraph of their own.
_BLOCK_ELEMENTS = frozenset({"p", "head", "list", "item", "quote", "table", "row", "code"})
_HTML_META_FIELDS = ("author", "date", "url", "sitename", "description", "categories", "tags")


def read_html(text: str, ctx: FileContext) -> Iterator[Item]:
    # Imported here: trafilatura takes a noticeable time to import and most runs read no HTML.
    import logging

    import trafilatura

    # Its "discarding data" warnings repeat what the BadRecord already says, in its own words.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)

    try:
        doc: Any = trafilatura.bare_extraction(
            _load_page(text),
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            with_metadata=True,
            prune_xpath=_HIDDEN_XPATH,
            # declared dates only: extensive search guesses from the text and the URL
            date_extraction_params={"original_date": True, "extensive_search": False},
        )
    except Exception as exc:  # a bug in the extractor must cost one page, not the batch
        raise Unusable(f"HTML extraction failed ({type(exc).__name__}: {exc})") from exc
    if doc is None:
        raise Unusable("no body text")
    title = clean_text(doc.title or "")
    paragraphs = _tree_paragraphs(doc.body)
    while paragraphs and title and paragraphs[0].casefold() == title.casefold():
        paragraphs.pop(0)
    meta = {name: jsonable(getattr(doc, name, None)) for name in _HTML_META_FIELDS}
    yield make_article(ctx, title, paragraphs, meta={k: v for k, v in meta.items() if v})


# A div that holds none of these is one block of text, not a container of blocks.
_CONTAINERS = (
    "p", "div", "ul", "ol", "dl", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "section", "article", "pre", "figure", "header", "footer", "aside", "nav", "form", "main",
)  # fmt: skip


def _load_page(text: str) -> Any:
    """The page as trafilatura parses it, with `<div>text<br><br>more</div>` made paragraphs.

    In precision mode trafilatura drops the text before the first `<br>` of such a div when
    it sits among `<p>` siblings, which loses lead paragraphs of some pages.
    """
    from trafilatura.utils import load_html

    tree = load_html(text)
    if tree is None:
        return text  # let bare_extraction report it
    for div in list(tree.iter("div")):
        if (
            (div.text or "").strip()
            and div.find("br") is not None
            and next(div.iterdescendants(*_CONTAINERS), None) is None
        ):
            _split_at_double_breaks(div)
    return tree


def _split_at_double_breaks(div: Any) -> None:
    """Move a div's inline content into `<p>`s, starting a new one at each `<br><br>`."""
    paras = [lxml_html.Element("p")]
    paras[0].text = div.text
    prev_br = None
    for child in list(div):
        if child.tag == "br" and prev_br is not None and not (prev_br.tail or "").strip():
            paras[-1].remove(prev_br)
            paras.append(lxml_html.Element("p"))
            paras[-1].text = child.tail
            div.remove(child)
            prev_br = None
            continue
        paras[-1].append(child)  # moves it, tail included
        prev_br = child if child.tag == "br" else None
    div.text = None
    div.extend(paras)


def _tree_paragraphs(body: Any) -> list[str]:
    """Paragraphs of trafilatura's output tree: one per block element, split at double breaks."""
    paragraphs: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        paragraphs.extend(split_paragraphs("".join(pending)))
        pending.clear()

    def walk(el: Any) -> None:
        block = el.tag in _BLOCK_ELEMENTS
        if block:
            flush()
        if el.tag == "lb":
            pending.append("\n")
        elif el.tag != "graphic":
            pending.append(el.text or "")
            for i, child in enumerate(el):
                if child.tag == "cell" and i:
                    pending.append(" | ")
                walk(child)
                pending.append(child.tail or "")
        if block:
            flush()

    if body is not None:
        walk(body)
        flush()
    return paragraphs


