"""Runs whose process died: shown as interrupted, prunable, resumable; a live run stays safe."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarize.cli import app
from summarize.errors import RunLockedError, SummarizeError
from summarize.runs import store
from summarize.runs.history import list_rows, prune, resolve_run, run_state
from summarize.runs.store import LOCK_NAME, OutputDir, Run


def make_run(od: OutputDir, status: str) -> Run:
    run = od.create_run("abcdef1234567890")
    run.write_manifest({"run_id": run.run_id, "status": status, "config_hash": "h",
                        "inputs_digest": "d", "started_at": "2026-11-27T10:00:00.000000Z",
                        "counts": {"articles_ok": 0, "articles_failed": 0}})
    return run


def _live_run(path: str, ready, release, run_id) -> None:  # type: ignore[no-untyped-def]
    """Play a live `summarize run`: hold the lock and write a running manifest."""
    od = OutputDir(Path(path))
    od.lock()
    run_id.value = make_run(od, "running").run_id.encode()
    ready.set()
    release.wait(60)
    od.unlock()


def _start_live_run(out: Path) -> tuple[multiprocessing.process.BaseProcess, object, str]:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    run_id = ctx.Array("c", 64)
    proc = ctx.Process(target=_live_run, args=(str(out), ready, release, run_id))
    proc.start()
    assert ready.wait(60), "the helper process never took the lock"
    return proc, release, run_id.value.decode()


def test_stale_running_run_is_listed_interrupted_pruned_and_resumable(tmp_path):
    od = OutputDir(tmp_path)
    done = make_run(od, "complete")
    od.point_latest(done)
    stale = make_run(od, "running")  # written by a process that no longer holds the lock
    assert stale.read_manifest()["status"] == "running"

    rows = {r["run_id"]: r["status"] for r in list_rows(tmp_path)}
    assert rows == {done.run_id: "complete", stale.run_id: "interrupted"}
    _, status, why = run_state(stale)
    assert status == "interrupted" and f"process {os.getpid()}" in (why or "")
    assert od.find_resumable("h", "d").path == stale.path  # the same `summarize run` resumes it

    runner = CliRunner()
    listed = runner.invoke(app, ["runs", "list", "--out", str(tmp_path)])
    assert listed.exit_code == 0
    assert next(x for x in listed.output.splitlines() if stale.run_id in x).split()[1] == "interrupted"
    shown = runner.invoke(app, ["runs", "show", stale.run_id, "--out", str(tmp_path)])
    assert shown.exit_code == 0 and "status    interrupted (manifest says running" in shown.output

    pruned = runner.invoke(app, ["runs", "prune", "--keep", "0", "--out", str(tmp_path)])
    assert pruned.exit_code == 0, pruned.output
    assert stale.run_id in pruned.output
    assert [r.run_id for r in od.runs()] == [done.run_id]  # latest stays


def test_prune_is_refused_while_a_live_run_holds_the_lock(tmp_path):
    od = OutputDir(tmp_path)
    stale = make_run(od, "running")
    proc, release, live_id = _start_live_run(tmp_path)
    try:
        rows = {r["run_id"]: r["status"] for r in list_rows(tmp_path)}
        assert rows == {stale.run_id: "interrupted", live_id: "running"}
        assert run_state(resolve_run(tmp_path, live_id))[1:] == ("running", None)

        with pytest.raises(RunLockedError, match=rf"in use by another summarize run \(pid {proc.pid}\)"):
            prune(tmp_path, keep=0)
        result = CliRunner().invoke(app, ["runs", "prune", "--keep", "0", "--out", str(tmp_path)])
        assert result.exit_code == 5
        assert "in use by another summarize run" in result.output and "prune again" in result.output
        assert {r.run_id for r in od.runs()} == {stale.run_id, live_id}  # nothing deleted
    finally:
        release.set()  # type: ignore[attr-defined]
        proc.join(30)
    # the live run's process is gone: its "running" manifest is now a killed run's
    assert {r["status"] for r in list_rows(tmp_path)} == {"interrupted"}
    assert sorted(prune(tmp_path, keep=0)) == sorted([stale.run_id, live_id])


def test_sigkilled_holder_frees_the_lock_and_its_run_is_interrupted(tmp_path):
    proc, _, live_id = _start_live_run(tmp_path)
    assert OutputDir(tmp_path).lock_state().held
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    assert json.loads((tmp_path / live_id / "manifest.json").read_text())["status"] == "running"
    assert OutputDir(tmp_path).lock_state().held is False
    assert [r["status"] for r in list_rows(tmp_path)] == ["interrupted"]
    assert prune(tmp_path, keep=0) == [live_id]


def test_a_run_starting_during_a_lock_probe_waits_instead_of_failing(tmp_path, monkeypatch):
    """`runs list` probes the lock with a shared flock for an instant; `lock` retries."""
    (tmp_path / LOCK_NAME).write_text("")
    probe = os.open(tmp_path / LOCK_NAME, os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
    slept: list[float] = []

    def probe_ends(seconds: float) -> None:
        slept.append(seconds)
        fcntl.flock(probe, fcntl.LOCK_UN)

    monkeypatch.setattr(store.time, "sleep", probe_ends)
    od = OutputDir(tmp_path)
    od.lock()
    try:
        assert slept, "the first attempt should have met the probe"
        assert (tmp_path / LOCK_NAME).read_text() == str(os.getpid())
        assert od.lock_state().held
    finally:
        od.unlock()
        os.close(probe)


def test_prune_of_a_missing_folder_is_an_error_and_creates_nothing(tmp_path):
    with pytest.raises(SummarizeError, match="does not exist"):
        prune(tmp_path / "nope", keep=1)
    assert not (tmp_path / "nope").exists()
