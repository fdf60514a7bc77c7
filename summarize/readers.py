"""Input readers: turn a file or a folder of articles into Article records.

`iter_articles(path)` walks INPUT (a file, or a folder searched recursively in
sorted order, hidden entries and symlinked folders skipped) and yields one
`Article` per usable record and one `BadRecord` per unusable one; it never
raises for a single bad record.

Formats, chosen by suffix (case-insensitive):

- `.txt`: the first non-empty line is the title; blank lines separate paragraphs.
- `.md`, `.markdown`: optional YAML front matter (title, id, date, url, tags, ...);
  a leading `# heading` is the title when front matter has none, and is dropped
  when it repeats the front-matter title. Markdown stays in the text as written;
  list items and headings become paragraphs of their own.
- `.html`, `.htm`: title from the article's `<h1>` (else og:title, else `<title>`),
  paragraphs from `<p>`, headings and list items of the article; page chrome
  (navigation, scripts, ads, share bars, forms, ...) is dropped.
- `.jsonl`, `.csv`: one article per record with `title` and `body` (or `text`),
  optional `id`; other fields become metadata.

Any other suffix is reported as a BadRecord ("unsupported file type .xyz").

Ids: a record's own `id`, else the file's path relative to INPUT without its
suffix (the stem for a single-file INPUT), with `/<line>` appended for a
`.jsonl`/`.csv` record. Ids are sanitised by `sanitize_id` so they are always
safe relative paths; a later record whose id collides with an earlier one
(ignoring case, since case-insensitive file systems would merge them) is a
BadRecord and the first one wins.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from lxml import etree
from lxml import html as lxml_html

from summarize.errors import InputError, RecordError
from summarize.records import Article, BadRecord

__all__ = ["MAX_ID_COMPONENT", "SUFFIXES", "iter_articles", "sanitize_id", "split_paragraphs"]

MAX_ID_COMPONENT = 120

Item = Article | BadRecord


class _Unusable(RecordError):
    """A record (or whole file) is unusable; `line` points at it when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class _FileContext:
    """Where a file sits: its display path and the id its records derive from."""

    source: str  # path relative to INPUT, posix style
    base_id: str  # unsanitised default id (relative path without suffix)


# ---------------------------------------------------------------- walking


def iter_articles(path: Path) -> Iterator[Item]:
    """Yield every article (or bad record) under `path`, a file or a folder, in sorted order.

    Raises InputError at once (not on first iteration) when `path` is missing or unreadable;
    files are listed up front and read lazily.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if not path.is_dir():
        return _read_entries(path.parent, [path])
    try:
        entries = list(_walk(path, path))
    except OSError as exc:
        raise InputError(f"cannot read input folder {path}: {exc.strerror or exc}") from exc
    return _read_entries(path, entries)


def _read_entries(root: Path, entries: list[Path | BadRecord]) -> Iterator[Item]:
    ids = _IdRegistry()
    for entry in entries:
        if isinstance(entry, BadRecord):
            yield entry
            continue
        rel = entry.relative_to(root).as_posix()
        base_id = rel[: len(rel) - len(entry.suffix)] if entry.suffix else rel
        for item in _read_file(entry, _FileContext(source=rel, base_id=base_id)):
            yield ids.admit(item)


def _walk(root: Path, folder: Path) -> Iterator[Path | BadRecord]:
    """Files under `folder`, depth first, entries sorted by name; hidden entries skipped."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if folder == root:
            raise
        rel = Path(folder).relative_to(root).as_posix() + "/"
        yield BadRecord(source=rel, reason=f"cannot read folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        # Symlinked folders are not followed: they can loop or leave the input tree.
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, Path(entry.path))
        elif entry.is_file():
            yield Path(entry.path)


def _read_file(path: Path, ctx: _FileContext) -> Iterator[Item]:
    suffix = path.suffix.lower()
    reader = SUFFIXES.get(suffix)
    if reader is None:
        what = suffix or "(no suffix)"
        yield BadRecord(source=ctx.source, reason=f"unsupported file type {what}")
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield BadRecord(source=ctx.source, reason=f"cannot read file: {exc.strerror or exc}")
        return
    try:
        text = _decode(data, html=suffix in (".html", ".htm"))
        yield from reader(text, ctx)
    except _Unusable as exc:
        yield BadRecord(source=ctx.source, reason=exc.reason, line=exc.line)


class _IdRegistry:
    """Sanitises ids and turns the second record with a known id into a BadRecord."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def admit(self, item: Item) -> Item:
        if isinstance(item, BadRecord):
            return item
        clean = sanitize_id(item.id)
        if not clean:
            return BadRecord(
                source=item.source,
                line=item.line,
                id=item.id,
                reason=f"id {item.id!r} is empty after removing unsafe characters",
            )
        key = clean.casefold()
        if key in self._seen:
            return BadRecord(
                source=item.source,
                line=item.line,
                id=clean,
                reason=f"duplicate id {clean!r} (first seen in {self._seen[key]})",
            )
        self._seen[key] = item.source + (f":{item.line}" if item.line is not None else "")
        return replace(item, id=clean)


# ---------------------------------------------------------------- ids


_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_DASH_RUN = re.compile(r"-{2,}")


def sanitize_id(raw: str) -> str:
    """Make `raw` a safe relative id: `[A-Za-z0-9_-]` components joined by `/`; "" if nothing is left.

    Accented Latin letters lose their accents; every other unsafe run (spaces,
    dots, `..`, backslashes, other scripts) becomes one `-`; components are
    trimmed of `-`, empty ones dropped, and cut to MAX_ID_COMPONENT characters.
    """
    folded = unicodedata.normalize("NFKD", raw)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    parts = []
    for component in folded.replace("\\", "/").split("/"):
        component = _DASH_RUN.sub("-", _UNSAFE_RUN.sub("-", component)).strip("-")
        component = component[:MAX_ID_COMPONENT].rstrip("-")
        if component:
            parts.append(component)
    return "/".join(parts)


# ---------------------------------------------------------------- text helpers


_WHITESPACE = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")


def _clean(text: str) -> str:
    """Drop invisible characters, collapse whitespace runs to one space, strip."""
    return _WHITESPACE.sub(" ", text.translate(_INVISIBLE)).strip()


def split_paragraphs(text: str) -> list[str]:
    """Split text on blank lines; each paragraph's lines are joined and its whitespace collapsed."""
    text = _normalize_newlines(text)
    return [p for p in (_clean(chunk) for chunk in _BLANK_LINE.split(text)) if p]


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def _decode(data: bytes, *, html: bool = False) -> str:
    """Decode file bytes as UTF-8 (BOM allowed) or BOM-marked UTF-16; reject binary and empty files."""
    if not data:
        raise _Unusable("empty file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _Unusable(f"not valid UTF-16 text ({exc.reason})") from exc
    elif b"\x00" in data:
        raise _Unusable("file is binary")
    else:
        text = _decode_utf8(data, html=html)
    text = _normalize_newlines(text.lstrip("\ufeff"))
    if _mostly_controls(text):
        raise _Unusable("file is binary")
    if not text.strip():
        raise _Unusable("file contains only whitespace")
    return text


def _decode_utf8(data: bytes, *, html: bool) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        declared = _decode_declared_html(data) if html else None
        if declared is not None:
            return declared
        if _mostly_controls(data.decode("latin-1")):
            raise _Unusable("file is binary") from exc
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        raise _Unusable(
            f"not valid UTF-8 text (byte 0x{data[offset]:02x} at offset {offset})"
        ) from exc


def _mostly_controls(text: str, limit: float = 0.1) -> bool:
    sample = text[:8192]
    controls = sum(
        1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS
    )
    return controls > limit * len(sample)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _decode_declared_html(data: bytes) -> str | None:
    """Decode with the charset a non-UTF-8 page declares in a `<meta>` tag, if it names a real one."""
    match = _META_CHARSET.search(data[:4096])
    if not match:
        return None
    try:
        return data.decode(match.group(1).decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None


def _jsonable(value: Any) -> Any:
    """Metadata as JSON-serialisable values (dates become ISO strings)."""
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _article(
    ctx: _FileContext,
    title: str,
    paragraphs: Iterable[str],
    *,
    id: str | None = None,
    meta: dict[str, Any] | None = None,
    line: int | None = None,
) -> Article:
    """Build an Article, or raise _Unusable when title or body is missing."""
    title = _clean(title)
    paras = tuple(p for p in (_clean(p) for p in paragraphs) if p)
    if not title:
        raise _Unusable("no title", line)
    if not paras:
        raise _Unusable("no body text", line)
    return Article(
        id=id or ctx.base_id,
        title=title,
        paragraphs=paras,
        meta=meta or {},
        source=ctx.source,
        line=line,
    )


# ---------------------------------------------------------------- plain text


def _read_txt(text: str, ctx: _FileContext) -> Iterator[Item]:
    title, _, rest = text.strip().partition("\n")
    yield _article(ctx, title, split_paragraphs(rest))


# ---------------------------------------------------------------- markdown


_FM_OPEN = re.compile(r"---[ \t]*")
_FM_CLOSE = re.compile(r"(---|\.\.\.)[ \t]*")
_MD_HEADING = re.compile(r" {0,3}#{1,6}(\s|$)")
_MD_BULLET = re.compile(r" {0,3}[-*+]\s")
_MD_ORDERED = re.compile(r" {0,3}(\d{1,9})[.)]\s")
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])( *\1){2,} *")
_MD_H1 = re.compile(r" {0,3}#(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r" {0,3}=+[ \t]*")


def _read_markdown(text: str, ctx: _FileContext) -> Iterator[Item]:
    front, body = _split_front_matter(text)
    meta = _jsonable(front)
    fm_title = meta.pop("title", None)
    if fm_title is not None and not isinstance(fm_title, str | int | float):
        raise _Unusable("front matter title is not text")
    fm_id = meta.pop("id", None)
    if fm_id is not None and not isinstance(fm_id, str | int):
        raise _Unusable("front matter id is not text")
    blocks = _markdown_blocks(body)
    heading = _leading_h1(blocks[0]) if blocks else None
    title = _clean(str(fm_title)) if fm_title is not None else ""
    if heading is not None and (not title or _clean(heading).casefold() == title.casefold()):
        title = title or heading
        blocks = blocks[1:]
    if not title:
        raise _Unusable("no title (no front-matter title and no leading '# heading')")
    paragraphs = [" ".join(block) for block in blocks if not _THEMATIC_BREAK.fullmatch(block[0])]
    yield _article(ctx, title, paragraphs, id=str(fm_id) if fm_id else None, meta=meta)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return the YAML front matter as a mapping ({} when absent) and the text after it."""
    lines = text.split("\n")
    if not _FM_OPEN.fullmatch(lines[0]):
        return {}, text
    for end in range(1, len(lines)):
        if _FM_CLOSE.fullmatch(lines[end]):
            break
    else:
        raise _Unusable("front matter is not closed (no closing '---' line)", 1)
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else 1
        raise _Unusable(f"malformed front matter: {exc.problem or exc}", line) from exc
    except yaml.YAMLError as exc:
        raise _Unusable(f"malformed front matter: {exc}", 1) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _Unusable(f"front matter is not a mapping (got {type(data).__name__})", 1)
    return data, "\n".join(lines[end + 1 :])


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
        return _clean(match.group(1) or "") if match else None
    if len(block) == 2 and _SETEXT_H1.fullmatch(block[1]):
        return _clean(block[0])
    return None


# ---------------------------------------------------------------- html


_CHROME_TAGS = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
    "nav", "aside", "form", "button", "input", "select", "textarea", "label", "footer",
    "figure", "dialog", "menu",
)  # fmt: skip
_BLOCK_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "dd", "dt"})
# class/id words (split on punctuation and camelCase) that mark page furniture
_JUNK_TOKENS = frozenset({
    "ad", "ads", "adslot", "adunit", "dfp", "advert", "adverts", "advertisement", "advertising",
    "promo", "promos", "promoted", "promotion", "sponsor", "sponsored", "sponsors",
    "share", "shares", "sharing", "sharebar", "social", "newsletter", "newsletters",
    "subscribe", "subscription", "signup", "paywall", "cookie", "cookies", "consent", "gdpr",
    "related", "recommended", "outbrain", "taboola", "byline", "breadcrumb", "breadcrumbs",
    "comments", "popup", "modal",
})  # fmt: skip
_JUNK_PREFIXES = ("advert", "promo", "sponsor", "newsletter", "cookie", "related", "share")
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _read_html(text: str, ctx: _FileContext) -> Iterator[Item]:
    try:
        doc = lxml_html.document_fromstring(
            text.encode("utf-8"), parser=lxml_html.HTMLParser(encoding="utf-8")
        )
    except (etree.ParserError, ValueError) as exc:
        if "empty" in str(exc):  # lxml's "Document is empty": only comments or bare markup
            raise _Unusable("no body text") from exc
        raise _Unusable(f"could not parse HTML: {exc}") from exc
    body = doc.find("body")
    if body is None:
        raise _Unusable("no body text")
    _drop_chrome(body)
    for br in body.iter("br"):
        br.tail = "\n" + (br.tail or "")
    root = _content_root(body)
    title_el = _first(root.iter("h1"))
    if title_el is None:
        title_el = _first(body.iter("h1"))
    title = _clean(title_el.text_content()) if title_el is not None else ""
    metas = _meta_tags(doc)
    title = title or metas.get("og:title", "") or _clean(doc.findtext(".//title") or "")
    paragraphs = [
        el.text_content()
        for el in root.iter(*_BLOCK_TAGS)
        if el is not title_el and not any(True for _ in el.iterdescendants(*_BLOCK_TAGS))
    ]
    yield _article(ctx, title, paragraphs, meta=_html_meta(doc, root, metas))


def _first(it: Iterator[Any]) -> Any:
    return next(it, None)


def _drop_chrome(body: Any) -> None:
    """Remove navigation, scripts, ads and other non-article parts of the page, in place."""
    doomed = []
    for el in body.iterdescendants():
        if not isinstance(el.tag, str):
            continue  # comments, processing instructions
        if el.tag in _CHROME_TAGS or _is_hidden(el):
            doomed.append(el)
        elif _is_junk(el) and el.find(".//h1") is None and el.find(".//article") is None:
            doomed.append(el)  # a wrapper with an unlucky class name must not take the article
        elif el.tag == "header" and not any(True for _ in el.iterancestors("article", "main")):
            doomed.append(el)  # site header; an article's own header holds its title
    for el in doomed:
        el.drop_tree()


def _is_hidden(el: Any) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return (
        el.get("hidden") is not None
        or el.get("aria-hidden") == "true"
        or "display:none" in style
        or "visibility:hidden" in style
    )


def _is_junk(el: Any) -> bool:
    """Whether the element's class, id or role marks it as an ad, share bar, promo, etc."""
    words = " ".join(el.get(attr) or "" for attr in ("class", "id", "role", "data-module"))
    for token in _TOKEN_SPLIT.split(_CAMEL_HUMP.sub(" ", words).lower()):
        if token in _JUNK_TOKENS or (len(token) > 4 and token.startswith(_JUNK_PREFIXES)):
            return True
    return False


def _content_root(body: Any) -> Any:
    """The element that holds the article: the biggest `<article>`, else main content, else body."""
    articles = list(body.iter("article"))
    if articles:
        return max(articles, key=lambda el: len(el.text_content()))
    for xpath in (".//*[@itemprop='articleBody']", ".//main", ".//*[@role='main']"):
        found = body.xpath(xpath)
        if found:
            return found[0]
    return body


def _meta_tags(doc: Any) -> dict[str, Any]:
    """`<meta>` contents by lower-cased property/name/itemprop; repeated keys collect into lists."""
    metas: dict[str, Any] = {}
    for el in doc.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = _clean(el.get("content") or "")
        if not key or not content:
            continue
        if key == "article:tag":
            metas.setdefault(key, []).append(content)
        else:
            metas.setdefault(key, content)
    return metas


_META_KEYS = {
    "date": ("article:published_time", "datepublished", "date", "dc.date", "pubdate"),
    "modified": ("article:modified_time", "datemodified"),
    "url": ("og:url",),
    "author": ("author", "article:author"),
    "section": ("article:section",),
    "tags": ("article:tag", "keywords"),
}


def _html_meta(doc: Any, root: Any, metas: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for name, keys in _META_KEYS.items():
        value = next((metas[k] for k in keys if k in metas), None)
        if value:
            meta[name] = value
    if isinstance(meta.get("tags"), str):
        meta["tags"] = [t.strip() for t in meta["tags"].split(",") if t.strip()]
    if "url" not in meta:
        canonical = doc.xpath("//link[@rel='canonical']/@href")
        if canonical:
            meta["url"] = canonical[0].strip()
    if "date" not in meta:
        stamps = root.xpath(".//time/@datetime") or doc.xpath("//time/@datetime")
        if stamps:
            meta["date"] = stamps[0].strip()
    return meta


# ---------------------------------------------------------------- jsonl / csv


def _record(fields: dict[str, Any], ctx: _FileContext, line: int) -> Article:
    """An Article from one jsonl/csv record; raises _Unusable with a specific reason."""
    raw_id = fields.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int | None):
        raise _Unusable(f"id is not a string or number (got {type(raw_id).__name__})", line)
    rid = str(raw_id).strip() if raw_id is not None else ""
    title = fields.get("title")
    body_key = "body" if fields.get("body") not in (None, "") else "text"
    body = fields.get(body_key)
    for name, value in (("title", title), (body_key, body)):
        if value is not None and not isinstance(value, str):
            raise _Unusable(f"{name} is not a string (got {type(value).__name__})", line)
    meta = {k: _jsonable(v) for k, v in fields.items() if k not in ("id", "title", body_key)}
    return _article(
        ctx,
        title or "",
        split_paragraphs(body or ""),
        id=rid or f"{ctx.base_id}/{line}",
        meta=meta,
        line=line,
    )


def _bad(ctx: _FileContext, exc: _Unusable, fields: dict[str, Any]) -> BadRecord:
    rid = fields.get("id")
    return BadRecord(
        source=ctx.source,
        reason=exc.reason,
        line=exc.line,
        id=str(rid) if rid not in (None, "") else None,
    )


def _read_jsonl(text: str, ctx: _FileContext) -> Iterator[Item]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRecord(ctx.source, f"malformed JSON: {exc.msg} (column {exc.colno})", number)
            continue
        if not isinstance(value, dict):
            yield BadRecord(ctx.source, f"JSON line is {_json_kind(value)}, not an object", number)
            continue
        try:
            yield _record(value, ctx, number)
        except _Unusable as exc:
            yield _bad(ctx, exc, value)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), "null")


def _read_csv(text: str, ctx: _FileContext) -> Iterator[Item]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise _Unusable(f"malformed CSV header: {exc}", 1) from exc
    if "title" not in header or not {"body", "text"} & set(header):
        raise _Unusable("CSV header needs a 'title' and a 'body' (or 'text') column", 1)
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRecord(ctx.source, f"malformed CSV: {exc}", start)
            return
        end = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            reason = f"row has {len(row)} fields but the header has {len(header)}"
            yield BadRecord(ctx.source, reason, start)
            continue
        fields = {k: v for k, v in zip(header, row, strict=True) if v.strip() or k == "title"}
        try:
            yield _record(fields, ctx, start)
        except _Unusable as exc:
            yield _bad(ctx, exc, fields)


Reader = Callable[[str, _FileContext], Iterator[Item]]

SUFFIXES: dict[str, Reader] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".jsonl": _read_jsonl,
    ".csv": _read_csv,
}
