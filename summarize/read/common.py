"""What every reader shares: record types, limits, decoding, text clean-up, the hashed source."""


from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from summarize.errors import InputChanged, RecordError
from summarize.records import Article, BadRecord

MAX_ID_COMPONENT = 120
MAX_FRONT_MATTER = 64 * 1024  # characters of YAML between the '---' lines
MAX_FRONT_MATTER_DEPTH = 50

Item = Article | BadRecord


class Unusable(RecordError):
    """A record (or whole file) is unusable; `line` points at it when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class FileContext:
    """Where a file sits: its display path and the id its records derive from."""

    source: str  # path relative to INPUT, posix style
    base_id: str  # unsanitised default id (relative path without suffix)


# ---------------------------------------------------------------- scanning and streaming


MAX_RECORD_BYTES = 16 * 1024 * 1024  # a JSONL line or a CSV row (all its fields) longer is bad
CHUNK = 64 * 1024  # bytes per read when hashing, and the line reader's buffer
HEAD_BYTES = 64 * 1024  # what binary detection of a .jsonl/.csv file looks at
PIECE_BYTES = 1024 * 1024  # the longest piece of a line read at once (longer lines come in pieces)

class Source(io.RawIOBase):
    """A file's bytes, hashed as they are read, so they can be checked against the scan."""

    def __init__(self, raw: Any, name: str, expected: tuple[str, int] | None) -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._expected = expected
        self._sha = hashlib.sha256()
        self._size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        if n:
            with memoryview(buffer) as view:
                self._sha.update(view[:n])
            self._size += n
        return int(n or 0)

    def head(self) -> bytes:
        """The first bytes of the file, read before (and not counted as) the parsed bytes."""
        data = b""
        while len(data) < HEAD_BYTES and (chunk := self._raw.read(HEAD_BYTES - len(data))):
            data += chunk
        self._raw.seek(0)
        return data

    def read_all(self) -> bytes:
        """The whole file, checked against the scan before anything is parsed from it."""
        chunks = []
        while chunk := self._raw.read(CHUNK):
            self._sha.update(chunk)
            self._size += len(chunk)
            chunks.append(chunk)
        self.verify()
        return b"".join(chunks)

    @property
    def size(self) -> int:
        return self._size

    def sha256(self) -> str:
        return self._sha.hexdigest()

    def verify(self) -> None:
        """Read what is left, then raise InputChanged if the bytes differ from the scan."""
        while chunk := self._raw.read(CHUNK):
            self._sha.update(chunk)
            self._size += len(chunk)
        if self._expected is None:
            return
        digest = self._sha.hexdigest()
        if (digest, self._size) != self._expected:
            want_sha, want_size = self._expected
            raise InputChanged(
                f"input file {self._name} changed during the run: it now has {self._size} bytes"
                f" (sha256 {digest[:12]}...), the scan found {want_size} bytes (sha256"
                f" {want_sha[:12]}...); records already read from it may come from either"
                " version: run again on an input that does not change"
            )



# ---------------------------------------------------------------- text helpers


_WHITESPACE = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")


def clean_text(text: str) -> str:
    """Drop invisible characters, collapse whitespace runs to one space, strip."""
    return _WHITESPACE.sub(" ", text.translate(_INVISIBLE)).strip()


def split_paragraphs(text: str) -> list[str]:
    """Split text on blank lines; each paragraph's lines are joined and its whitespace collapsed."""
    text = normalize_newlines(text)
    return [p for p in (clean_text(chunk) for chunk in _BLANK_LINE.split(text)) if p]


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def decode_text(data: bytes, *, html: bool = False) -> str:
    """Decode file bytes as UTF-8 (BOM allowed) or BOM-marked UTF-16; reject binary and empty files."""
    if not data:
        raise Unusable("empty file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise Unusable(f"not valid UTF-16 text ({exc.reason})") from exc
    elif b"\x00" in data:
        raise Unusable("file is binary")
    else:
        text = _decode_utf8(data, html=html)
    text = normalize_newlines(text.lstrip("\ufeff"))
    if mostly_controls(text):
        raise Unusable("file is binary")
    if not text.strip():
        raise Unusable("file contains only whitespace")
    return text


def _decode_utf8(data: bytes, *, html: bool) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        declared = _decode_declared_html(data) if html else None
        if declared is not None:
            return declared
        if mostly_controls(data.decode("latin-1")):
            raise Unusable("file is binary") from exc
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        raise Unusable(
            f"not valid UTF-8 text (byte 0x{data[offset]:02x} at offset {offset})"
        ) from exc


def mostly_controls(text: str, limit: float = 0.1) -> bool:
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


def jsonable(value: Any) -> Any:
    """Metadata as JSON-serialisable values (dates become ISO strings)."""
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def make_article(
    ctx: FileContext,
    title: str,
    paragraphs: Iterable[str],
    *,
    id: str | None = None,
    meta: dict[str, Any] | None = None,
    line: int | None = None,
) -> Article:
    """Build an Article, or raise Unusable when title or body is missing."""
    title = clean_text(title)
    paras = tuple(p for p in (clean_text(p) for p in paragraphs) if p)
    if not title:
        raise Unusable("no title", line)
    if not paras:
        raise Unusable("no body text", line)
    return Article(
        id=id or ctx.base_id,
        title=title,
        paragraphs=paras,
        meta=meta or {},
        source=ctx.source,
        line=line,
    )


# A format's reader: the records of one file.
Reader = Callable[[Source, FileContext], Iterator[Item]]
