"""Record-per-line formats: JSONL and CSV, read line by line with bounded memory."""


from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from summarize.read.common import (
    CHUNK,
    HEAD_BYTES,
    MAX_RECORD_BYTES,
    PIECE_BYTES,
    FileContext,
    Item,
    Source,
    Unusable,
    jsonable,
    make_article,
    mostly_controls,
    normalize_newlines,
    split_paragraphs,
)
from summarize.records import Article, BadRecord

# ---------------------------------------------------------------- jsonl / csv


def _record(fields: dict[str, Any], ctx: FileContext, line: int) -> Article:
    """An Article from one jsonl/csv record; raises Unusable with a specific reason."""
    raw_id = fields.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int | None):
        raise Unusable(f"id is not a string or number (got {type(raw_id).__name__})", line)
    rid = str(raw_id).strip() if raw_id is not None else ""
    title = fields.get("title")
    body_key = "body" if fields.get("body") not in (None, "") else "text"
    body = fields.get(body_key)
    for name, value in (("title", title), (body_key, body)):
        if value is not None and not isinstance(value, str):
            raise Unusable(f"{name} is not a string (got {type(value).__name__})", line)
    meta = {k: jsonable(v) for k, v in fields.items() if k not in ("id", "title", body_key)}
    return make_article(
        ctx,
        title or "",
        split_paragraphs(body or ""),
        id=rid or f"{ctx.base_id}/{line}",
        meta=meta,
        line=line,
    )


def _bad(ctx: FileContext, exc: Unusable, fields: dict[str, Any]) -> BadRecord:
    rid = fields.get("id")
    return BadRecord(
        source=ctx.source,
        reason=exc.reason,
        line=exc.line,
        id=str(rid) if rid not in (None, "") else None,
    )


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_TOO_LONG = f"longer than the {MAX_RECORD_BYTES // (1024 * 1024)} MiB limit"


def _open_lines(source: Source) -> tuple[Iterator[tuple[bytes, bool]], str]:
    """The pieces of a .jsonl/.csv file's lines as UTF-8 bytes (see `_pieces`), and the file's
    encoding name for messages.

    Empty and binary files are refused from their first bytes, as `decode_text` does for a whole
    file; invalid UTF-8 further on is left to the record it falls in. UTF-16 (with a BOM) is
    decoded on the fly; an unpaired surrogate is left to its record (it cannot be encoded
    back to UTF-8), a file cut in the middle of a character ends with a bad record.
    """
    head = source.head()
    if not head:
        raise Unusable("empty file")
    buffered = io.BufferedReader(source, CHUNK)
    if head.startswith(_UTF16_BOMS):
        if mostly_controls(normalize_newlines(head.decode("utf-16", "replace"))):
            raise Unusable("file is binary")
        text = io.TextIOWrapper(buffered, encoding="utf-16", errors="surrogatepass", newline="\n")
        pieces = _pieces(lambda: text.readline(PIECE_BYTES // 4).encode("utf-8", "surrogatepass"))
        return pieces, "UTF-16"
    if b"\x00" in head:
        raise Unusable("file is binary")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        head_text = decoder.decode(head, final=len(head) < HEAD_BYTES)
    except UnicodeDecodeError:
        if mostly_controls(head.decode("latin-1")):
            raise Unusable("file is binary") from None
    else:
        if mostly_controls(normalize_newlines(head_text).lstrip("\ufeff")):
            raise Unusable("file is binary")
    return _pieces(lambda: buffered.readline(PIECE_BYTES)), "UTF-8"


def _pieces(readline: Callable[[], bytes]) -> Iterator[tuple[bytes, bool]]:
    """(piece, ends_line) for each piece of each line, split at "\\n", "\\r\\n" and "\\r" as
    `normalize_newlines` splits text; a line longer than one read comes in several pieces, the
    last with ends_line True (or False at the end of a file without a final newline). The
    file's leading byte-order marks are dropped.
    """
    first, after_cr, number = True, False, 1
    while True:
        try:
            chunk = readline()
        except UnicodeDecodeError as exc:  # only from the UTF-16 decoder
            raise Unusable(
                f"not valid UTF-16 text ({exc.reason}); the rest of the file is not read", number
            ) from exc
        if not chunk:
            return
        if after_cr and chunk == b"\n":  # the "\n" of a "\r\n" cut between two reads
            after_cr = False
            continue
        if first:
            while chunk.startswith(_UTF8_BOM):
                chunk = chunk[len(_UTF8_BOM) :]
            first = False
        ends = chunk.endswith(b"\n")
        body = chunk[:-1] if ends else chunk
        if ends and body.endswith(b"\r"):
            body = body[:-1]
        after_cr = not ends and body.endswith(b"\r")
        if b"\r" in body:
            *lines, body = body.split(b"\r")
            for line in lines:
                yield line, True
                number += 1
        yield body, ends
        number += ends


def _lines(pieces: Iterator[tuple[bytes, bool]]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line bytes) per line; None for a line over MAX_RECORD_BYTES (not kept)."""
    number, parts, size, pending = 1, [], 0, False
    for piece, ends in pieces:
        pending = True
        size += len(piece)
        if size <= MAX_RECORD_BYTES:
            parts.append(piece)
        else:
            parts = []  # too long: reported, not kept
        if ends:
            yield number, b"".join(parts) if size <= MAX_RECORD_BYTES else None
            number, parts, size, pending = number + 1, [], 0, False
    if pending and size:
        yield number, b"".join(parts) if size <= MAX_RECORD_BYTES else None


def _decode_line(data: bytes, number: int, encoding: str) -> str:
    """One line as text; raises Unusable naming the line for a NUL byte or invalid text."""
    if b"\x00" in data:
        raise Unusable(f"line {number} contains a NUL byte (binary data)", number)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if encoding != "UTF-8":  # UTF-16 decoded with surrogatepass: a lone surrogate
            raise Unusable(
                f"not valid {encoding} text (unpaired surrogate in line {number})", number
            ) from exc
        raise Unusable(
            f"not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}"
            f" of line {number})",
            number,
        ) from exc


def read_jsonl(source: Source, ctx: FileContext) -> Iterator[Item]:
    content = False
    pieces, encoding = _open_lines(source)
    for number, data in _lines(pieces):
        if data is None:
            content = True
            yield BadRecord(ctx.source, f"line is {_TOO_LONG}", number)
            continue
        try:
            line = _decode_line(data, number, encoding)
        except Unusable as exc:
            content = True
            yield BadRecord(ctx.source, exc.reason, number)
            continue
        if not line.strip():
            continue
        content = True
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRecord(ctx.source, f"malformed JSON: {exc.msg} (column {exc.colno})", number)
            continue
        except RecursionError:
            yield BadRecord(ctx.source, "JSON is nested too deeply", number)
            continue
        if not isinstance(value, dict):
            yield BadRecord(ctx.source, f"JSON line is {_json_kind(value)}, not an object", number)
            continue
        try:
            yield _record(value, ctx, number)
        except Unusable as exc:
            yield _bad(ctx, exc, value)
    if not content:
        raise Unusable("file contains only whitespace")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), "null")


@dataclass
class _CsvRecord:
    """The lines of one CSV row (decoded, each with its newline), or why it cannot be parsed."""

    start: int
    lines: list[str]
    problem: str | None

    def blank(self) -> bool:
        return self.problem is None and not any(line.strip() for line in self.lines)


class _CsvQuotes:
    """Follows the csv module's parser (default dialect, not strict) far enough to tell whether
    a line ends inside a quoted field, so rows can be cut out of a file without parsing it whole.

    A quote opens a quoted field only at the start of a field; inside one, a quote followed by
    anything but a second quote closes it; elsewhere quotes are plain characters.
    """

    def __init__(self) -> None:
        self.state = _FIELD_START

    def feed(self, data: bytes) -> None:
        state, i, n = self.state, 0, len(data)
        while i < n:
            if state == _QUOTED:
                j = data.find(b'"', i)
                if j < 0:
                    break
                state, i = _FIELD_START, j + 1  # a closing quote, or the first of a pair
            elif state == _UNQUOTED:
                j = data.find(b",", i)
                if j < 0:
                    break
                state, i = _FIELD_START, j + 1
            else:  # at a field's start, or just after a quote inside a quoted field
                c = data[i]
                i += 1
                if c == 0x22:  # '"': opens a quoted field, or is the second of a doubled quote
                    state = _QUOTED
                elif c == 0x2C:  # ','
                    state = _FIELD_START
                else:
                    state = _UNQUOTED
        self.state = state

    def end_line(self) -> bool:
        """Whether the row ends with this line (it does unless a quoted field is still open)."""
        if self.state == _QUOTED:
            return False
        self.state = _FIELD_START
        return True


# States of _CsvQuotes. After a quote inside a quoted field the parser behaves as at a field's
# start for '"', ',' and other characters alike, so the two share one state.
_FIELD_START = 0
_UNQUOTED = 1
_QUOTED = 2


def _csv_records(
    pieces: Iterator[tuple[bytes, bool]], encoding: str = "UTF-8"
) -> Iterator[_CsvRecord]:
    """The file's rows as _CsvRecord, a row over MAX_RECORD_BYTES or with a bad line marked."""
    quotes = _CsvQuotes()
    number = start = 1
    lines: list[str] = []
    current: list[bytes] = []
    size = line_size = 0
    problem: str | None = None
    too_long = False

    def finish(last: int) -> _CsvRecord:
        reason = f"row is {_TOO_LONG} (lines {start}-{last})" if too_long else problem
        return _CsvRecord(start, lines, reason)

    for piece, ends in pieces:
        quotes.feed(piece)
        size += len(piece) + ends
        line_size += len(piece) + ends
        if problem is None and size > MAX_RECORD_BYTES:
            problem, too_long, lines, current = "too long", True, [], []
        if problem is None:
            current.append(piece)
        if not ends:
            continue
        if problem is None:
            try:
                lines.append(_decode_line(b"".join(current), number, encoding) + "\n")
            except Unusable as exc:
                problem, lines = exc.reason, []
        current, line_size = [], 0
        number += 1
        if quotes.end_line():
            yield finish(number - 1)
            start, lines, size, problem, too_long = number, [], 0, None, False
    if line_size or number > start:  # a last line without newline, or a row open at the end
        if problem is None and line_size:
            try:
                lines.append(_decode_line(b"".join(current), number, encoding))
            except Unusable as exc:
                problem, lines = exc.reason, []
        yield finish(number if line_size else number - 1)


def _parse_row(lines: list[str]) -> list[str]:
    """The fields of one row's lines (raises csv.Error)."""
    return next(csv.reader(lines), [])


def read_csv(source: Source, ctx: FileContext) -> Iterator[Item]:
    # csv's own limit (131,072 characters a field by default) would end the file at a long
    # body; a field is never longer than its row, which MAX_RECORD_BYTES already bounds.
    if csv.field_size_limit() < MAX_RECORD_BYTES:
        csv.field_size_limit(MAX_RECORD_BYTES)
    records = _csv_records(*_open_lines(source))
    first = next(records, None)
    if first is None:
        raise Unusable("file contains only whitespace")
    if first.problem is not None:
        raise Unusable(f"malformed CSV header: {first.problem}", 1)
    if first.blank() and all(record.blank() for record in records):
        raise Unusable("file contains only whitespace")
    try:
        header = [h.strip().lower() for h in _parse_row(first.lines)]
    except csv.Error as exc:
        raise Unusable(f"malformed CSV header: {exc}", 1) from exc
    if "title" not in header or not {"body", "text"} & set(header):
        raise Unusable("CSV header needs a 'title' and a 'body' (or 'text') column", 1)
    for record in records:
        if record.problem is not None:
            yield BadRecord(ctx.source, record.problem, record.start)
            continue
        try:
            row = _parse_row(record.lines)
        except csv.Error as exc:
            yield BadRecord(ctx.source, f"malformed CSV: {exc}", record.start)
            continue
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            reason = f"row has {len(row)} fields but the header has {len(header)}"
            yield BadRecord(ctx.source, reason, record.start)
            continue
        fields = {k: v for k, v in zip(header, row, strict=True) if v.strip() or k == "title"}
        try:
            yield _record(fields, ctx, record.start)
        except Unusable as exc:
            yield _bad(ctx, exc, fields)
