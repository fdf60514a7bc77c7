"""Tests for summarize.read against hostile inputs, and for scan_inputs / stream_inputs.

Hostile: YAML alias bombs, oversized or deeply nested front matter, deeply nested JSON,
symlinks leaving INPUT, FIFOs. Each must cost one BadRecord with a clear reason while the rest
of the batch is read.
"""

from __future__ import annotations

import builtins
import csv
import hashlib
import io
import json
import os
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarize.errors import InputChanged, InputError
from summarize.read import (
    MAX_FRONT_MATTER,
    MAX_FRONT_MATTER_DEPTH,
    InputFiles,
    iter_articles,
    read_inputs,
    scan_inputs,
    stream_inputs,
)
from summarize.read.tables import _csv_records, _parse_row, _pieces
from summarize.records import Article, BadRecord

GOOD_MD = "---\ntitle: Good\n---\nBody.\n"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def summary(items: list[Article | BadRecord]) -> list[tuple[str, ...]]:
    return [
        ("ok", i.id) if isinstance(i, Article) else ("bad", i.source, str(i.line), i.reason)
        for i in items
    ]


def billion_laughs(levels: int = 9) -> str:
    """Front matter whose last key expands to 10**levels strings if aliases are followed."""
    lines = ["---", 'l0: &l0 "lol"']
    for n in range(1, levels + 1):
        refs = ", ".join([f"*l{n - 1}"] * 10)
        lines.append(f"l{n}: &l{n} [{refs}]")
    lines += ["title: Bomb", "---", "Body."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- YAML front matter


def test_billion_laughs_is_refused_and_the_batch_goes_on(tmp_path: Path, hang_guard) -> None:
    write(tmp_path / "a.md", GOOD_MD)
    bomb = billion_laughs()
    assert len(bomb) < 700
    write(tmp_path / "b.md", bomb)
    write(tmp_path / "c.md", GOOD_MD.replace("Good", "Also good"))
    with hang_guard(60):  # generous: refused at once, an expansion takes hours or all memory
        items = list(iter_articles(tmp_path))
    assert summary(items) == [
        ("ok", "a"),
        ("bad", "b.md", "3", "front matter uses YAML aliases, which are not allowed"),
        ("ok", "c"),
    ]


def test_merge_keys_are_aliases_too_but_plain_anchors_are_fine(tmp_path: Path) -> None:
    merge = "---\nbase: &b {x: 1}\nother:\n  <<: *b\ntitle: T\n---\nBody.\n"
    anchor = "---\ntitle: &t Anchored\nurl: u\n---\nBody.\n"
    write(tmp_path / "merge.md", merge)
    write(tmp_path / "anchor.md", anchor)
    anchored, merged = list(iter_articles(tmp_path))
    assert isinstance(anchored, Article) and anchored.title == "Anchored"
    assert isinstance(merged, BadRecord) and merged.reason.startswith(
        "front matter uses YAML alias"
    )
    assert merged.line == 4


def test_oversized_front_matter_is_refused(tmp_path: Path) -> None:
    filler = "\n".join(f"k{i}: {'x' * 60}" for i in range(MAX_FRONT_MATTER // 60))
    write(tmp_path / "big.md", f"---\n{filler}\ntitle: T\n---\nBody.\n")
    (bad,) = iter_articles(tmp_path / "big.md")
    assert isinstance(bad, BadRecord)
    assert (bad.reason, bad.line) == ("front matter is longer than 64 KiB", 1)


def test_deeply_nested_front_matter_is_refused_not_a_crash(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000  # would overflow the recursive YAML composer
    write(tmp_path / "deep.md", f"---\ntitle: T\nx: {deep}\n---\nBody.\n")
    ok = "[" * (MAX_FRONT_MATTER_DEPTH - 1) + "]" * (MAX_FRONT_MATTER_DEPTH - 1)  # + the mapping
    write(tmp_path / "ok.md", f"---\ntitle: T\nx: {ok}\n---\nBody.\n")
    bad, good = iter_articles(tmp_path)
    assert isinstance(bad, BadRecord) and bad.source == "deep.md"
    assert bad.reason == f"front matter is nested more than {MAX_FRONT_MATTER_DEPTH} levels deep"
    assert isinstance(good, Article) and good.id == "ok"


def test_deeply_nested_json_line_is_one_bad_record(tmp_path: Path) -> None:
    lines = ["[" * 100_000, json.dumps({"id": "fine", "title": "T", "body": "B"})]
    write(tmp_path / "f.jsonl", "\n".join(lines))
    assert summary(list(iter_articles(tmp_path))) == [
        ("bad", "f.jsonl", "1", "JSON is nested too deeply"),
        ("ok", "fine"),
    ]


# ---------------------------------------------------------------- symlinks and special files

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")


@needs_symlinks
def test_symlinked_file_inside_input_is_read(tmp_path: Path) -> None:
    write(tmp_path / "in" / "real" / "story.txt", "Title\n\nBody.")
    (tmp_path / "in" / "alias.txt").symlink_to(tmp_path / "in" / "real" / "story.txt")
    assert summary(list(iter_articles(tmp_path / "in"))) == [("ok", "alias"), ("ok", "real/story")]


@needs_symlinks
def test_symlinked_file_outside_input_is_a_bad_record(tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.txt", "Private\n\nNot for the batch.")
    write(tmp_path / "in" / "a.txt", "Title\n\nBody.")
    (tmp_path / "in" / "leak.txt").symlink_to(secret)
    (tmp_path / "in" / "up.txt").symlink_to(Path("..") / "secret.txt")  # relative, same target
    (tmp_path / "in" / "gone.txt").symlink_to(tmp_path / "in" / "missing.txt")
    scan = read_inputs(tmp_path / "in")
    assert summary(scan.items) == [
        ("ok", "a"),
        ("bad", "gone.txt", "None", "symlink target does not exist"),
        ("bad", "leak.txt", "None", "symlink points outside the input folder"),
        ("bad", "up.txt", "None", "symlink points outside the input folder"),
    ]
    assert [f["path"] for f in scan.files if f["sha256"] is None] == [
        "gone.txt",
        "leak.txt",
        "up.txt",
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_a_bad_record_not_a_hang(tmp_path: Path, hang_guard) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    write(tmp_path / "z.txt", "Title\n\nBody.")
    with hang_guard(60):  # reading a FIFO with no writer would block forever
        items = list(iter_articles(tmp_path))
    assert summary(items) == [("bad", "pipe.txt", "None", "not a regular file"), ("ok", "z")]


# ---------------------------------------------------------------- scan_inputs / stream_inputs


def make_batch(root: Path) -> None:
    write(root / "a.txt", "Alpha\n\nFirst body.")
    write(root / "news" / "b.md", GOOD_MD)
    feed = [json.dumps({"id": f"f{i}", "title": "T", "body": "B"}) for i in (1, 2)]
    write(root / "news" / "feed.jsonl", feed[0] + "\n\n" + feed[1] + "\n")
    write(
        root / "news" / "c.html",
        "<html><head><title>C</title></head><body><p>Text.</p></body></html>",
    )
    write(root / "news" / "t.csv", "id,title,body\nt1,T,B\nt2,T,B\nt3,T,B")
    write(root / "notes.rtf", "{\\rtf1 not an article}")
    write(root / "broken.txt", b"PK\x03\x04\x00\x00")


READ_FILES = ("a.txt", "broken.txt", "news/b.md", "news/c.html", "news/feed.jsonl", "news/t.csv")


def test_scan_and_stream_each_open_every_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_batch(tmp_path)
    opened: Counter[str] = Counter()
    real_open = io.open

    def counting_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        path = Path(os.fsdecode(file)) if isinstance(file, str | bytes | os.PathLike) else None
        if path is not None and path.is_relative_to(tmp_path):
            opened[path.relative_to(tmp_path).as_posix()] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    scan = scan_inputs(tmp_path)
    assert opened == dict.fromkeys(READ_FILES, 1)  # notes.rtf is refused by its type, unread
    items = list(stream_inputs(scan))
    assert opened == dict.fromkeys(READ_FILES, 2)
    opened.clear()
    whole = read_inputs(tmp_path)  # the in-memory wrapper hashes and parses in one read
    assert opened == dict.fromkeys(READ_FILES, 1)
    monkeypatch.undo()
    assert summary(items) == summary(list(iter_articles(tmp_path)))
    assert summary(items) == summary(whole.items)
    assert whole.files == scan.files


def test_scan_file_list_digest_and_estimate(tmp_path: Path) -> None:
    make_batch(tmp_path)
    scan = scan_inputs(tmp_path)
    assert isinstance(scan, InputFiles) and scan.root == tmp_path
    expected: list[dict[str, object]] = []
    for rel in READ_FILES:
        data = (tmp_path / rel).read_bytes()
        expected.append(
            {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        )
    expected.append({"path": "notes.rtf", "sha256": None, "error": "unsupported file type .rtf"})
    assert scan.files == expected  # walk order: names sorted, a folder's files at its place
    assert scan.digest == hashlib.sha256(json.dumps(expected, sort_keys=True).encode()).hexdigest()
    assert [
        e if isinstance(e, BadRecord) else e.relative_to(tmp_path).as_posix() for e in scan.entries
    ] == [*READ_FILES, BadRecord("notes.rtf", "unsupported file type .rtf")]
    # 4 one-article files, 2 non-blank .jsonl lines, 3 .csv lines after the header
    assert scan.records_estimate == 4 + 2 + 3
    # a file that decodes badly was still hashed: its bad record says why
    assert ("bad", "broken.txt", "None", "file is binary") in summary(list(stream_inputs(scan)))


def test_scan_single_file_and_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = write(tmp_path / "deep" / "story.txt", "Title\n\nBody.")
    single = scan_inputs(story)
    digest = hashlib.sha256(story.read_bytes()).hexdigest()
    assert single.root == tmp_path / "deep" and single.entries == [story]
    assert single.files == [{"path": "story.txt", "sha256": digest, "bytes": 12}]
    assert summary(list(stream_inputs(single))) == [("ok", "story")]

    real = builtins.open

    def guarded(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(os.fsdecode(file)).name == "story.txt":
            raise PermissionError(13, "Permission denied")
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    locked = scan_inputs(tmp_path)
    reason = "cannot read file: Permission denied"
    assert locked.files == [{"path": "deep/story.txt", "sha256": None, "error": reason}]
    assert summary(list(stream_inputs(locked))) == [("bad", "deep/story.txt", "None", reason)]
    # readable when scanned, unreadable when streamed: the input changed under the run
    with pytest.raises(InputChanged, match=r"story\.txt changed during the run.*Permission denied"):
        list(stream_inputs(single))


def test_scan_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input not found"):
        scan_inputs(tmp_path / "nope")
    with pytest.raises(InputError, match="input not found"):
        read_inputs(tmp_path / "nope")


def test_file_changed_between_scan_and_stream_raises_input_changed(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", json.dumps({"id": "a1", "title": "T", "body": "B"}) + "\n")
    feed = write(tmp_path / "b.jsonl", json.dumps({"id": "b1", "title": "T", "body": "B"}) + "\n")
    story = write(tmp_path / "c.md", GOOD_MD)
    scan = scan_inputs(tmp_path)
    with feed.open("a") as f:  # appended after the scan
        f.write(json.dumps({"id": "b2", "title": "T", "body": "B"}) + "\n")
    stream = stream_inputs(scan)
    seen = [next(stream), next(stream), next(stream)]
    assert summary(seen) == [("ok", "a1"), ("ok", "b1"), ("ok", "b2")]
    with pytest.raises(InputChanged, match=r"b\.jsonl changed during the run"):
        next(stream)  # at the end of b.jsonl

    # same size, other bytes; a one-article file is checked before it is parsed
    scan = scan_inputs(tmp_path)
    story.write_text(GOOD_MD.replace("Good", "Evil"))
    stream = stream_inputs(scan)
    assert summary([next(stream), next(stream), next(stream)]) == [
        ("ok", "a1"),
        ("ok", "b1"),
        ("ok", "b2"),
    ]
    with pytest.raises(InputChanged, match=r"c\.md changed during the run"):
        next(stream)

    scan = scan_inputs(tmp_path)
    feed.unlink()
    with pytest.raises(InputChanged, match=r"b\.jsonl changed during the run"):
        list(stream_inputs(scan))


def test_duplicates_across_files_and_the_ids_table_is_deleted(tmp_path: Path) -> None:
    root, work = tmp_path / "in", tmp_path / "work"
    write(
        root / "a.jsonl", "\n".join(json.dumps({"id": i, "title": "T", "body": "B"}) for i in "xy")
    )
    write(root / "b.csv", "id,title,body\nY,T,B\nz,T,B\n")
    write(root / "c" / "x.md", "---\nid: X\ntitle: T\n---\nB\n")
    scan = scan_inputs(root)
    stream = stream_inputs(scan, workdir=work)
    assert not work.exists() or not list(work.iterdir())  # nothing until iteration starts
    first = next(stream)
    (table,) = work.iterdir()  # the ids live in a SQLite file while streaming
    assert table.name.startswith("summarize-ids-")
    assert summary([first, *stream]) == [
        ("ok", "x"),
        ("ok", "y"),
        ("bad", "b.csv", "2", "duplicate id 'Y' (first seen in a.jsonl:2)"),
        ("ok", "z"),
        ("bad", "c/x.md", "None", "duplicate id 'X' (first seen in a.jsonl:1)"),
    ]
    assert list(work.iterdir()) == []  # deleted when the iterator finished

    stream = stream_inputs(scan, workdir=work)
    next(stream)
    assert len(list(work.iterdir())) == 1
    stream.close()  # a consumer that stops early
    assert list(work.iterdir()) == []


def test_streaming_a_large_jsonl_keeps_memory_small(tmp_path: Path) -> None:
    body = "Body-text-" * 50  # few spaces: the paragraph clean-up stays cheap
    feed = tmp_path / "feed.jsonl"
    with feed.open("w") as f:
        for n in range(20_000):
            f.write(json.dumps({"id": f"a{n}", "title": f"Title {n}", "body": body}) + "\n")
    size = feed.stat().st_size
    assert size > 10_000_000
    tracemalloc.start()
    try:
        scan = scan_inputs(feed)
        count = sum(
            1 for item in stream_inputs(scan, workdir=tmp_path) if isinstance(item, Article)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000 and scan.records_estimate == 20_000
    # Reading the file whole (bytes, then text, then a list of lines) peaks at over 2x its
    # size; line by line it is a few buffers. (SQLite's page cache is outside tracemalloc's
    # view; it is bounded by SQLite's default cache size.)
    assert peak < size / 10, (peak, size)


# The csv module's parser on a whole text, as the reader used it before it streamed.
def whole_text_rows(data: bytes) -> list[tuple[int, list[str]]]:
    text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, end = [], 0
    for row in reader:
        rows.append((end + 1, row))
        end = reader.line_num
    return rows


def streamed_rows(data: bytes, piece: int) -> list[tuple[int, list[str]]]:
    """Rows as the streaming reader cuts them, reading lines in pieces of `piece` bytes."""
    stream = io.BytesIO(data)
    pieces = _pieces(lambda: stream.readline(piece))
    return [(r.start, _parse_row(r.lines)) for r in _csv_records(pieces)]


@given(
    st.lists(st.sampled_from(["a", "b ", ",", '"', '""', "\n", "\r", "\r\n", " "]), max_size=40),
    st.integers(min_value=1, max_value=8),
)
def test_csv_rows_cut_from_lines_match_the_whole_text_parse(tokens: list[str], piece: int) -> None:
    data = "".join(tokens).encode()
    expected = [(line, row) for line, row in whole_text_rows(data) if row]
    assert [(line, row) for line, row in streamed_rows(data, piece) if row] == expected


def test_csv_rows_split_across_reads_match_too() -> None:
    data = b'id,title,body\r\n1,"a ""b"" c",x\r\n2,"multi\r\nline,\r\n""q""",y\r3,x"y,z\n'
    for piece in (1, 2, 3, 5, 7, 1000):
        assert streamed_rows(data, piece) == whole_text_rows(data), piece
