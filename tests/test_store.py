import json
import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from summarize.errors import RunLockedError, SummarizeError
from summarize.runs import store
from summarize.runs.history import diff_runs, list_rows, prune, resolve_run
from summarize.runs.memory import Memory, unit_key
from summarize.runs.store import TMP_PREFIX, OutputDir, Run, atomic_write


def make_run(od: OutputDir, status: str, articles: dict[str, dict] | None = None) -> Run:
    run = od.create_run("abcdef1234567890")
    run.write_manifest({"run_id": run.run_id, "status": status, "config_hash": "h",
                        "inputs_digest": "d", "config": {"languages": ["ko"]},
                        "started_at": "2026-11-27T10:00:00.000000Z",
                        "finished_at": "2026-11-27T10:00:05.500000Z",
                        "counts": {"articles_ok": len(articles or {}), "articles_failed": 0}})
    for aid, doc in (articles or {}).items():
        run.write_article({"id": aid, **doc})
    return run


def test_run_ids_sort_by_time_and_carry_hash(tmp_path):
    od = OutputDir(tmp_path)
    ids = [od.create_run("0123456789abcdef").run_id for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(i.endswith("-01234567") for i in ids)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a" / "b.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_article_ids_cannot_escape(tmp_path):
    run = OutputDir(tmp_path).create_run("h" * 16)
    with pytest.raises(ValueError, match="outside"):
        run.article_path("../../evil")
    assert run.article_path("world/floods").parent.name == "world"


def test_latest_is_switched_atomically(tmp_path):
    od = OutputDir(tmp_path)
    a, b = make_run(od, "complete"), make_run(od, "complete")
    od.point_latest(a)
    od.point_latest(b)
    assert (tmp_path / "latest").is_symlink()
    assert os.readlink(tmp_path / "latest") == b.run_id  # relative: the folder can be moved
    assert od.latest().path == b.path


def test_find_resumable_matches_config_and_inputs(tmp_path):
    od = OutputDir(tmp_path)
    done = make_run(od, "complete")
    broken = make_run(od, "interrupted")
    assert od.find_resumable("h", "d").path == broken.path
    assert od.find_resumable("other", "d") is None
    assert done.path != broken.path


def _hold_lock(path: str, ready, release) -> None:
    od = OutputDir(Path(path))
    od.lock()
    ready.set()
    release.wait(10)
    od.unlock()


def test_second_run_on_same_folder_is_refused(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(RunLockedError, match="in use by another summarize run"):
            OutputDir(tmp_path).lock()
    finally:
        release.set()
        proc.join(10)
    od = OutputDir(tmp_path)
    od.lock()  # free again once the holder is gone
    od.unlock()


def test_memory_roundtrip_and_wal(tmp_path):
    mem = Memory(tmp_path / "m.sqlite")
    k1 = unit_key("translate", "ko", "model", "settings", "Hello.")
    k2 = unit_key("translate", "ko", "model", "settings2", "Hello.")
    assert k1 != k2
    mem.put_many([(k1, "translate", "ko", "model", "Hello.", "안녕하세요.")])
    assert mem.get_many([k1, k2]) == {k1: "안녕하세요."}
    mode = sqlite3.connect(tmp_path / "m.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    mem.put_human([("Hello.", "ko", "반갑습니다.", "review.xlf")])
    assert mem.human_many(["Hello.", "Bye."], "ko") == {"Hello.": "반갑습니다."}
    mem.close()


def _writer(path: str, start: int) -> None:
    mem = Memory(Path(path))
    for i in range(start, start + 200):
        mem.put_many([(f"k{i}", "t", "ko", "m", f"s{i}", f"o{i}")])
    mem.close()


def test_memory_concurrent_writers_and_readers(tmp_path):
    path = tmp_path / "m.sqlite"
    Memory(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), s)) for s in (0, 1000)]
    for p in procs:
        p.start()
    reader = Memory(path)
    counts = []
    deadline = time.time() + 60
    while any(p.is_alive() for p in procs) and time.time() < deadline:
        counts.append(reader.count())  # would raise "database is locked" if a reader blocked
    for p in procs:
        p.join(30)
    assert counts == sorted(counts) and all(0 <= c <= 400 for c in counts)  # committed rows only
    assert reader.count() == 400
    assert reader.get_many(["k5", "k1005"]) == {"k5": "o5", "k1005": "o1005"}


def test_memory_reader_is_not_blocked_by_an_open_write(tmp_path):
    """WAL: while a writer holds an exclusive transaction, a reader gets the last committed
    rows at once (in rollback-journal mode it would wait, then fail with "database is locked")."""
    path = tmp_path / "m.sqlite"
    mem = Memory(path)
    mem.put_many([("k0", "t", "ko", "m", "s0", "o0")])
    reader = Memory(path)
    reader.conn.execute("PRAGMA busy_timeout = 2000")  # a blocked reader fails in 2 s, not 60
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO units (key, task, lang, model, source, output) "
                   "VALUES ('k1', 't', 'ko', 'm', 's1', 'o1')")
    try:
        assert reader.count() == 1
        assert reader.get_many(["k0", "k1"]) == {"k0": "o0"}  # nothing uncommitted leaks
        writer.execute("COMMIT")
        assert reader.get_many(["k0", "k1"]) == {"k0": "o0", "k1": "o1"}
    finally:
        writer.close()
        reader.close()
        mem.close()


def test_atomic_write_reader_mid_write_sees_old_or_new_file(tmp_path, monkeypatch):
    """A reader looking at the target at every pause of a write (each fsync) finds the
    old complete file or the new one, never a truncated or half-written one."""
    target = tmp_path / "doc.json"
    old, new = b"old " * 50_000, b"new " * 70_000
    atomic_write(target, old)
    seen: list[bytes] = []
    real_fsync = os.fsync

    def fsync_then_read(fd: int) -> None:
        real_fsync(fd)
        seen.append(target.read_bytes())

    monkeypatch.setattr(store.os, "fsync", fsync_then_read)
    atomic_write(target, new)
    monkeypatch.undo()
    assert seen, "atomic_write must fsync what it writes"
    assert all(data in (old, new) for data in seen), sorted({len(d) for d in seen})
    assert seen[0] == old  # the data is synced before the target changes
    assert target.read_bytes() == new


def test_atomic_write_concurrent_reader_never_sees_partial_file(tmp_path):
    target = tmp_path / "doc.json"
    a, b = b"a" * (1 << 20), b"b" * (1 << 19)
    atomic_write(target, a)
    writer = threading.Thread(target=lambda: [atomic_write(target, b if i % 2 else a)
                                              for i in range(60)])
    reads, partial = 0, []
    writer.start()
    while writer.is_alive() or reads == 0:
        data = target.read_bytes()
        reads += 1
        if data not in (a, b):
            partial.append(len(data))
    writer.join()
    assert not partial, f"{len(partial)} of {reads} reads saw a partial file: sizes {partial[:5]}"


def test_runs_list_diff_prune(tmp_path):
    od = OutputDir(tmp_path)
    a = make_run(od, "complete", {"x": {"source": {"title": "T", "body": "B"}, "summary": {"en": "S", "ko": "요약"},
                                        "translations": {"ko": {"title": "제목", "body": "본문"}}},
                                  "gone": {"source": {"title": "G"}}})
    b = make_run(od, "complete", {"x": {"source": {"title": "T", "body": "B"}, "summary": {"en": "S", "ko": "요약!"},
                                        "translations": {"ko": {"title": "제목", "body": "본문"}}},
                                  "new": {"source": {"title": "N"}}})
    killed = make_run(od, "running")  # its process is gone: nobody holds the lock
    od.point_latest(a)
    rows = list_rows(tmp_path)
    assert [r["run_id"] for r in rows] == [a.run_id, b.run_id, killed.run_id]
    assert [r["status"] for r in rows] == ["complete", "complete", "interrupted"]
    assert rows[0]["latest"] and rows[0]["duration_s"] == 5.5
    d = diff_runs(a, b)
    assert d.added == ["new"] and d.removed == ["gone"]
    assert d.changed == {"en": [], "ko": ["x"]}
    ids = [r.run_id for r in (a, b, killed)]
    unique = next(b.run_id[:n] for n in range(1, 40) if sum(i.startswith(b.run_id[:n]) for i in ids) == 1)
    assert resolve_run(tmp_path, unique).path == b.path
    with pytest.raises(SummarizeError, match="matches 3 runs"):
        resolve_run(tmp_path, a.run_id[:4])
    assert prune(tmp_path, keep=1) == [b.run_id]  # the newest run and latest (a) are kept
    assert prune(tmp_path, keep=0) == [killed.run_id]  # latest (a) is never deleted
    assert json.loads((a.path / "manifest.json").read_text())["status"] == "complete"
