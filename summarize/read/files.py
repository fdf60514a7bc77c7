"""Scanning and streaming INPUT: the walk, hashing, the reader chosen by suffix."""


from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.errors import InputChanged, InputError
from summarize.read.common import CHUNK, FileContext, Item, Reader, Source, Unusable, decode_text
from summarize.read.documents import read_html, read_markdown, read_txt
from summarize.read.ids import IdRegistry
from summarize.read.tables import read_csv, read_jsonl
from summarize.records import BadRecord


@dataclass
class InputFiles:
    """What a cheap first pass over INPUT finds, without parsing anything.

    `entries` is the walk in reading order: a Path per file to read, a BadRecord per entry that
    cannot be (unreadable, unsupported type, symlink leaving INPUT, ...). `files` has one entry
    per walked entry, in the same order: {"path", "sha256", "bytes"} for a file that was read, or
    {"path", "sha256": None, "error"} for one that was not; "path" is relative to `root` in posix
    style (the file name for a single-file INPUT). `digest` is the sha256 of `files` as sorted
    JSON. `records_estimate` counts non-blank lines of .jsonl files, lines after the header of
    .csv files and one per other file: good enough for a progress bar, never exact.
    """

    root: Path
    entries: list[Path | BadRecord]
    files: list[dict[str, Any]]
    digest: str
    records_estimate: int


def scan_inputs(path: Path) -> InputFiles:
    """Walk `path` and hash every file in chunks (nothing is parsed or held whole).

    Raises InputError when `path` is missing or is a folder that cannot be listed.
    """
    root, walked = _list_inputs(Path(path))
    entries: list[Path | BadRecord] = []
    files: list[dict[str, Any]] = []
    estimate = 0
    for entry in walked:
        if isinstance(entry, BadRecord):
            entries.append(entry)
            files.append({"path": entry.source, "sha256": None, "error": entry.reason})
            continue
        rel = entry.relative_to(root).as_posix()
        suffix = entry.suffix.lower()
        if suffix not in SUFFIXES:
            reason = f"unsupported file type {suffix or '(no suffix)'}"
        else:
            try:
                digest, size, records = _hash_file(entry, suffix)
            except OSError as exc:
                reason = f"cannot read file: {exc.strerror or exc}"
            else:
                entries.append(entry)
                files.append({"path": rel, "sha256": digest, "bytes": size})
                estimate += records
                continue
        entries.append(BadRecord(source=rel, reason=reason))
        files.append({"path": rel, "sha256": None, "error": reason})
    return InputFiles(root, entries, files, files_digest(files), estimate)


def files_digest(files: list[dict[str, Any]]) -> str:
    """The sha256 over a scan's file list (sorted-key JSON), as the manifest records it."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def stream_inputs(scan: InputFiles, *, workdir: Path | None = None) -> Iterator[Item]:
    """Parse the scanned files lazily, in walk order: one Article or BadRecord at a time.

    .jsonl and .csv files are read line by line, so memory stays bounded whatever their size.
    Each file's bytes are hashed again as they are parsed; when a file's end is reached and its
    sha256 or size differs from the scan, InputChanged is raised (records of that file already
    yielded came from other bytes). Duplicate ids are found through a SQLite table in a temp
    file under `workdir` (default: the system temp folder), deleted when the iterator finishes
    or is closed.
    """
    expected = {
        f["path"]: (f["sha256"], f["bytes"]) for f in scan.files if f.get("sha256") is not None
    }
    return _stream(scan.root, scan.entries, expected, workdir)


def iter_articles(path: Path) -> Iterator[Item]:
    """Yield every article (or bad record) under `path`, a file or a folder, in sorted order.

    Raises InputError at once (not on first iteration) when `path` is missing or unreadable;
    files are listed up front and read lazily. Unlike `stream_inputs` nothing is hashed.
    """
    root, entries = _list_inputs(Path(path))
    return _stream(root, entries, None, None)


@dataclass
class InputScan:
    """Every record under INPUT, in memory, and the file list (see InputFiles.files).

    Kept for small inputs and old callers; runs use `scan_inputs` and `stream_inputs`.
    """

    items: list[Item] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)


def read_inputs(path: Path) -> InputScan:
    """Parse everything under `path`, keeping every record (small inputs only); each file is
    read once, hashed and parsed from the same bytes."""
    root, entries = _list_inputs(Path(path))
    scan = InputScan()
    scan.items.extend(_stream(root, entries, None, None, scan.files))
    return scan


def _list_inputs(path: Path) -> tuple[Path, list[Path | BadRecord]]:
    """INPUT's root folder and its files (or bad records for entries that cannot be read)."""
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if not path.is_dir():
        return path.parent, [path]
    try:
        return path, list(_walk(path, path, path.resolve()))
    except OSError as exc:
        raise InputError(f"cannot read input folder {path}: {exc.strerror or exc}") from exc


def _hash_file(path: Path, suffix: str) -> tuple[str, int, int]:
    """sha256, size and estimated record count of a file, read in chunks."""
    sha = hashlib.sha256()
    size = 0
    lines = _LineCounter()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
            if suffix in (".jsonl", ".csv"):
                lines.feed(chunk)
    if suffix == ".jsonl":
        records = lines.non_blank()
    elif suffix == ".csv":
        records = max(lines.total() - 1, 0)
    else:
        records = 1
    return sha.hexdigest(), size, records


class _LineCounter:
    """Counts lines (split at b"\\n") and the non-blank ones over a file's chunks."""

    def __init__(self) -> None:
        self._ended = 0  # lines ended by a newline
        self._blank_ended = 0
        self._open = False  # bytes seen after the last newline
        self._open_blank = True

    def feed(self, chunk: bytes) -> None:
        parts = chunk.split(b"\n")
        for part in parts[:-1]:
            if self._open_blank and not part.strip():
                self._blank_ended += 1
            self._ended += 1
            self._open, self._open_blank = False, True
        if parts[-1]:
            self._open = True
            self._open_blank = self._open_blank and not parts[-1].strip()

    def total(self) -> int:
        return self._ended + self._open

    def non_blank(self) -> int:
        return self._ended - self._blank_ended + (self._open and not self._open_blank)


def _stream(
    root: Path,
    entries: list[Path | BadRecord],
    expected: dict[str, tuple[str, int]] | None,
    workdir: Path | None,
    files: list[dict[str, Any]] | None = None,
) -> Iterator[Item]:
    """Records of `entries`; checked against `expected` hashes, or hashed into `files`."""
    ids = IdRegistry(workdir)
    try:
        for entry in entries:
            if isinstance(entry, BadRecord):
                if files is not None:
                    files.append({"path": entry.source, "sha256": None, "error": entry.reason})
                yield entry
                continue
            rel = entry.relative_to(root).as_posix()
            base_id = rel[: len(rel) - len(entry.suffix)] if entry.suffix else rel
            want = None
            if expected is not None:
                if rel not in expected:
                    raise ValueError(f"{rel} is not a file of this scan")
                want = expected[rel]
            ctx = FileContext(source=rel, base_id=base_id)
            for item in _read_file(entry, ctx, want, files):
                yield ids.admit(item)
    finally:
        ids.close()


def _walk(root: Path, folder: Path, real_root: Path) -> Iterator[Path | BadRecord]:
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
        path = Path(entry.path)
        rel = path.relative_to(root).as_posix()
        # Symlinked folders are not followed: they can loop or leave the input tree.
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, path, real_root)
        elif entry.is_symlink():
            checked = _check_symlink(path, rel, real_root)
            if checked is not None:
                yield checked
        elif entry.is_file(follow_symlinks=False):
            yield path
        else:  # a FIFO would block the read forever; sockets and devices are not articles
            yield BadRecord(source=rel, reason="not a regular file")


def _check_symlink(link: Path, rel: str, real_root: Path) -> Path | BadRecord | None:
    """`link` when it points to a regular file inside INPUT, None for a folder, else why not."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a loop of links
        return BadRecord(source=rel, reason="symlink target does not exist")
    if not target.is_relative_to(real_root):
        return BadRecord(source=rel, reason="symlink points outside the input folder")
    if target.is_dir():
        return None
    if not target.is_file():
        return BadRecord(source=rel, reason="not a regular file")
    return link


def _read_file(
    path: Path,
    ctx: FileContext,
    expected: tuple[str, int] | None,
    files: list[dict[str, Any]] | None = None,
) -> Iterator[Item]:
    """A file's records; with `expected` (sha256, size) from a scan, check the bytes match it;
    with `files`, append the file's entry (sha256 and size of the bytes parsed, or why not)."""
    suffix = path.suffix.lower()
    reader = SUFFIXES.get(suffix)
    if reader is None:
        reason = f"unsupported file type {suffix or '(no suffix)'}"
        if files is not None:
            files.append({"path": ctx.source, "sha256": None, "error": reason})
        yield BadRecord(source=ctx.source, reason=reason)
        return
    try:
        raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below, across yields
    except OSError as exc:
        if expected is not None:
            raise InputChanged(
                f"input file {ctx.source} changed during the run: it cannot be read any more"
                f" ({exc.strerror or exc})"
            ) from exc
        reason = f"cannot read file: {exc.strerror or exc}"
        if files is not None:
            files.append({"path": ctx.source, "sha256": None, "error": reason})
        yield BadRecord(source=ctx.source, reason=reason)
        return
    with raw:
        source = Source(raw, ctx.source, expected)
        try:
            try:
                yield from reader(source, ctx)
            except Unusable as exc:
                yield BadRecord(source=ctx.source, reason=exc.reason, line=exc.line)
            source.verify()
            if files is not None:
                files.append({"path": ctx.source, "sha256": source.sha256(), "bytes": source.size})
        except OSError as exc:
            raise InputError(f"cannot read input file {ctx.source}: {exc.strerror or exc}") from exc



def _whole_file(read_text: Callable[[str, FileContext], Iterator[Item]], *, html: bool) -> Reader:
    """A reader for a one-article format: the file is read whole, checked, decoded, parsed."""

    def read(source: Source, ctx: FileContext) -> Iterator[Item]:
        yield from read_text(decode_text(source.read_all(), html=html), ctx)

    return read


SUFFIXES: dict[str, Reader] = {
    ".txt": _whole_file(read_txt, html=False),
    ".md": _whole_file(read_markdown, html=False),
    ".markdown": _whole_file(read_markdown, html=False),
    ".html": _whole_file(read_html, html=True),
    ".htm": _whole_file(read_html, html=True),
    ".jsonl": read_jsonl,
    ".csv": read_csv,
}
