import json
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import pytest

from summarize.errors import RunLockedError
from summarize.memory import Memory, unit_key
from summarize.runs import diff_runs, list_rows, prune, resolve_run
from summarize.store import TMP_PREFIX, OutputDir, Run, atomic_write


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
    seen = 0
    deadline = time.time() + 60
    while any(p.is_alive() for p in procs) and time.time() < deadline:
        seen = max(seen, reader.count())  # readers never block on writers in WAL mode
    for p in procs:
        p.join(30)
    assert reader.count() == 400
    assert reader.get_many(["k5", "k1005"]) == {"k5": "o5", "k1005": "o1005"}


def test_runs_list_diff_prune(tmp_path):
    od = OutputDir(tmp_path)
    a = make_run(od, "complete", {"x": {"source": {"title": "T", "body": "B"}, "summary": {"en": "S", "ko": "요약"},
                                        "translations": {"ko": {"title": "제목", "body": "본문"}}},
                                  "gone": {"source": {"title": "G"}}})
    b = make_run(od, "complete", {"x": {"source": {"title": "T", "body": "B"}, "summary": {"en": "S", "ko": "요약!"},
                                        "translations": {"ko": {"title": "제목", "body": "본문"}}},
                                  "new": {"source": {"title": "N"}}})
    running = make_run(od, "running")
    od.point_latest(a)
    rows = list_rows(tmp_path)
    assert [r["run_id"] for r in rows] == [a.run_id, b.run_id, running.run_id]
    assert rows[0]["latest"] and rows[0]["duration_s"] == 5.5
    d = diff_runs(a, b)
    assert d.added == ["new"] and d.removed == ["gone"]
    assert d.changed == {"en": [], "ko": ["x"]}
    assert resolve_run(tmp_path, b.run_id[:20]).path == b.path or len({a.run_id[:20], b.run_id[:20]}) == 1
    deleted = prune(tmp_path, keep=0)
    assert deleted == [b.run_id]  # latest (a) and the running one are kept
    assert json.loads((a.path / "manifest.json").read_text())["status"] == "complete"
