"""Tests for summarize.readers against hostile inputs, and for read_inputs (one read per file).

Hostile: YAML alias bombs, oversized or deeply nested front matter, deeply nested JSON,
symlinks leaving INPUT, FIFOs. Each must cost one BadRecord with a clear reason while the rest
of the batch is read.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from summarize.readers import (
    MAX_FRONT_MATTER,
    MAX_FRONT_MATTER_DEPTH,
    InputScan,
    iter_articles,
    read_inputs,
)
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


# ---------------------------------------------------------------- read_inputs


def make_batch(root: Path) -> None:
    write(root / "a.txt", "Alpha\n\nFirst body.")
    write(root / "news" / "b.md", GOOD_MD)
    write(root / "news" / "feed.jsonl", json.dumps({"id": "f1", "title": "T", "body": "B"}))
    write(
        root / "news" / "c.html",
        "<html><head><title>C</title></head><body><p>Text.</p></body></html>",
    )
    write(root / "notes.rtf", "{\\rtf1 not an article}")
    write(root / "broken.txt", b"PK\x03\x04\x00\x00")


def test_read_inputs_opens_each_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    scan = read_inputs(tmp_path)
    assert opened == {
        "a.txt": 1,
        "broken.txt": 1,
        "news/b.md": 1,
        "news/c.html": 1,
        "news/feed.jsonl": 1,
    }  # notes.rtf is not read at all: its type is refused first
    monkeypatch.undo()
    assert summary(scan.items) == summary(list(iter_articles(tmp_path)))


def test_read_inputs_file_list_matches_hashlib(tmp_path: Path) -> None:
    make_batch(tmp_path)
    scan = read_inputs(tmp_path)
    assert isinstance(scan, InputScan)
    expected: list[dict[str, object]] = []
    for rel in ("a.txt", "broken.txt", "news/b.md", "news/c.html", "news/feed.jsonl"):
        data = (tmp_path / rel).read_bytes()
        expected.append(
            {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        )
    expected.append({"path": "notes.rtf", "sha256": None, "error": "unsupported file type .rtf"})
    assert scan.files == expected  # walk order: names sorted, a folder's files at its place
    # a file that decodes badly was still read and hashed: its bad record says why
    assert ("bad", "broken.txt", "None", "file is binary") in summary(scan.items)


def test_read_inputs_single_file_and_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = write(tmp_path / "deep" / "story.txt", "Title\n\nBody.")
    single = read_inputs(story)
    digest = hashlib.sha256(story.read_bytes()).hexdigest()
    assert single.files == [{"path": "story.txt", "sha256": digest, "bytes": 12}]
    assert summary(single.items) == [("ok", "story")]

    real = Path.read_bytes

    def guarded(self: Path) -> bytes:
        if self.name == "story.txt":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    locked = read_inputs(tmp_path)
    assert locked.files == [
        {"path": "deep/story.txt", "sha256": None, "error": "cannot read file: Permission denied"}
    ]
    assert summary(locked.items) == [
        ("bad", "deep/story.txt", "None", "cannot read file: Permission denied")
    ]


def test_read_inputs_missing_path_raises(tmp_path: Path) -> None:
    from summarize.errors import InputError

    with pytest.raises(InputError, match="input not found"):
        read_inputs(tmp_path / "nope")
