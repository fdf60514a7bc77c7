"""End-to-end `summarize run` on the tiny offline models: CLI, subprocess, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from summarize.cli import app
from summarize.errors import EXIT_INTERRUPTED, EXIT_PARTIAL
from summarize.runs.store import TMP_PREFIX
from summarize.text.segment import split_paragraphs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"
BROKEN = ROOT / "examples" / "broken"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}

pytestmark = pytest.mark.slow


def cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "summarize", *args], env=env or ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "summarize", *args], env=env or ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def docs(run_dir: Path) -> dict[str, dict]:
    root = run_dir / "articles"
    return {p.relative_to(root).with_suffix("").as_posix(): json.loads(p.read_text())
            for p in sorted(root.rglob("*.json"))}


def small_input(tmp_path: Path, n: int = 4) -> Path:
    inp = tmp_path / "in"
    inp.mkdir(exist_ok=True)
    for i in range(n):
        (inp / f"a{i}.txt").write_text(
            f"Story number {i} about the river\n\n"
            f"Officials in the city said on Monday that {i + 3} bridges were closed. Dr. Lee said repairs "
            f"would take weeks.\n\nThe U.S. agency sent 2.5 million dollars. Residents were told to stay home.\n"
        )
    return inp


def fast_config(tiny: Path, tmp_path: Path) -> Path:
    cfg = yaml.safe_load((tiny / "config.yaml").read_text())
    cfg["batch"]["window_articles"] = 1  # articles land one by one: more places to kill
    path = tmp_path / "fast.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cli_run_examples_contract(tiny_models, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(EXAMPLES), "--config", str(tiny_models / "config.yaml"),
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    latest = out / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["articles_ok"] == 8
    assert manifest["packages"]["transformers"] and manifest["packages"]["torch"]
    for m in manifest["models"]:
        assert m["backend"] == "transformers" and m["device"] == "cpu" and m["dtype"] == "float32"
        assert len(m["content_hash"]) == 64  # local folders are identified by content
    articles = docs(latest)
    assert len(articles) == 8
    for doc in articles.values():
        n = len(split_paragraphs(doc["source"]["body"]))
        assert set(doc["summary"]) == {"en", "ko", "zh-Hans"} and all(doc["summary"].values())
        for lang in ("ko", "zh-Hans"):
            assert doc["translations"][lang]["title"]
            assert len(split_paragraphs(doc["translations"][lang]["body"])) == n
        hangul = sum("\uac00" <= c <= "\ud7a3" for c in doc["translations"]["ko"]["body"])
        han = sum("\u4e00" <= c <= "\u9fff" for c in doc["translations"]["zh-Hans"]["body"])
        assert hangul > 0 and han > 0  # the tiny models write in the target script
    assert (latest / "errors.jsonl").read_text() == ""


def test_subprocess_broken_folder_exit_code_and_errors(tiny_models, tmp_path):
    proc = cli("run", str(BROKEN), "--config", str(tiny_models / "config.yaml"), "--out", str(tmp_path))
    assert proc.returncode == EXIT_PARTIAL, proc.stderr
    errors = [json.loads(x) for x in (tmp_path / "latest" / "errors.jsonl").read_text().splitlines()]
    assert len(errors) >= 10
    for e in errors:  # each broken record is also named on stderr with its file
        assert e["file"] in proc.stderr
    assert "malformed JSON" in proc.stderr and "duplicate id" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(docs(tmp_path / "latest")) == 3


def test_usage_and_config_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("summarizer: {model: x}\ntranslators: {ko: {model: y}, zh-Hans: {model: z}}\nbogus: 1\n")
    proc = cli("run", str(EXAMPLES), "--config", str(bad), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "bogus: unknown key" in proc.stderr and "Traceback" not in proc.stderr

def test_missing_input_exits_2(tiny_models, tmp_path):
    proc = cli("run", str(tmp_path / "missing"), "--config", str(tiny_models / "config.yaml"),
               "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_model_is_one_clear_message(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("summarizer: {model: nobody/no-such-model-xyz}\n"
                   "translators: {ko: {model: nobody/no-such-model-xyz}, zh-Hans: {model: nobody/no-such-model-xyz}}\n")
    t0 = time.monotonic()
    proc = cli("run", str(EXAMPLES), "--config", str(cfg), "--out", str(tmp_path / "o"), timeout=120)
    assert proc.returncode == 4
    assert "nobody/no-such-model-xyz" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 100
    debug = cli("--debug", "run", str(EXAMPLES), "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert "Traceback" in debug.stderr


def _rows(out: Path) -> int:
    db = out / "memory.sqlite"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db, timeout=5)
        n = con.execute("SELECT COUNT(*) FROM units").fetchone()[0]
        con.close()
        return int(n)
    except sqlite3.OperationalError:
        return 0


def _article_files(out: Path) -> int:
    return sum(1 for p in out.glob("*/articles/**/*.json") if not p.name.startswith(TMP_PREFIX))


def _wait(cond, proc, timeout=240.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _run_dirs(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    """Run folders that exist for good (a half-created `.tmp-` one is not a run yet)."""
    return [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()
            and not p.name.startswith(TMP_PREFIX) and (p / "manifest.json").exists()]


KILL_ARTICLES = 12  # ~1 s of work per article on the tiny models: the kill lands long before the end


@pytest.mark.parametrize("point", ["startup", "units_stored", "articles_written"])
def test_sigkill_then_resume_exactly_once(tiny_models, tmp_path, point):
    inp = small_input(tmp_path, n=KILL_ARTICLES)
    out = tmp_path / "out"
    cfg = fast_config(tiny_models, tmp_path)
    args = ("run", str(inp), "--config", str(cfg), "--out", str(out), "--quiet")
    proc = start(*args)
    conditions = {
        "startup": lambda: bool(_run_dirs(out)),  # the run folder exists, models still loading
        "units_stored": lambda: _rows(out) >= 3,
        "articles_written": lambda: _article_files(out) >= 1,
    }
    reached = _wait(conditions[point], proc)
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=30)
    assert reached, f"the run ended (exit {proc.returncode}) before the kill point: {stderr[-2000:]}"
    assert proc.returncode == -signal.SIGKILL, "the run must die by the kill, not finish first"

    # What the kill left: a run folder still saying "running", not all articles written.
    [killed] = _run_dirs(out)
    assert json.loads((killed / "manifest.json").read_text())["status"] == "running"
    written = {p.name: p.read_bytes() for p in (killed / "articles").glob("*.json")}
    assert len(written) < KILL_ARTICLES
    assert not (out / "latest").exists()
    listed = CliRunner().invoke(app, ["runs", "list", "--out", str(out)])
    assert listed.exit_code == 0 and listed.output.split(killed.name)[1].split()[0] == "interrupted"

    before = _rows(out)
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert _run_dirs(out) == [killed], "the rerun resumes the killed run in its folder"
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] is True
    counts = manifest["counts"]
    assert counts["articles_resumed"] == len(written)  # what was written is not redone
    assert counts["articles_ok"] == KILL_ARTICLES and counts["articles_failed"] == 0
    assert sorted(docs(killed)) == sorted(f"a{i}" for i in range(KILL_ARTICLES))
    for name, data in written.items():  # articles done before the kill were not written again
        assert (killed / "articles" / name).read_bytes() == data
    assert not list(out.rglob(f"{TMP_PREFIX}*")), "stray temporary files"
    # nothing already stored was generated again
    assert _rows(out) == before + counts["segments_computed"]
    assert (out / "latest").resolve() == killed.resolve()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_marks_interrupted_and_resumes(tiny_models, tmp_path, signum):
    """Ctrl-C, and the SIGTERM a scheduler (Kubernetes, systemd, Slurm) stops a job with.
    Twelve articles: with four, a loaded machine could deliver the signal after the run ended."""
    inp = small_input(tmp_path, 12)
    out = tmp_path / "out"
    cfg = fast_config(tiny_models, tmp_path)
    args = ("run", str(inp), "--config", str(cfg), "--out", str(out), "--quiet")
    proc = start(*args)
    assert _wait(lambda: _rows(out) >= 3, proc)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, stderr
    run_dir = next(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    assert not (out / "latest").exists()
    before = _rows(out)
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] is True
    assert _rows(out) == before + manifest["counts"]["segments_computed"]
    assert sorted(docs(run_dir)) == sorted(f"a{i}" for i in range(12))


def test_two_concurrent_runs_do_not_corrupt(tiny_models, tmp_path):
    inp = small_input(tmp_path, n=40)  # long enough that the second run starts during the first
    out = tmp_path / "out"
    args = ("run", str(inp), "--config", str(fast_config(tiny_models, tmp_path)), "--out", str(out), "--quiet")
    first = start(*args)
    assert _wait(lambda: (out / ".lock").exists() and _rows(out) >= 1, first)
    second = cli(*args)
    assert second.returncode == 5 and "in use by another summarize run" in second.stderr
    first.communicate(timeout=240)
    assert first.returncode == 0
    assert len(docs(out / "latest")) == 40
    assert len([p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]) == 1


def test_unchanged_rerun_computes_zero(tiny_models, tmp_path):
    inp = small_input(tmp_path, n=2)
    out = tmp_path / "out"
    args = ("run", str(inp), "--config", str(tiny_models / "config.yaml"), "--out", str(out), "--quiet")
    assert cli(*args).returncode == 0
    first = (out / "latest").resolve()
    assert cli(*args).returncode == 0
    second = (out / "latest").resolve()
    assert first != second
    m = json.loads((second / "manifest.json").read_text())
    # Unchanged articles are neither generated nor looked up again: the rerun shares the files.
    assert m["counts"]["segments_computed"] == 0 and m["counts"]["segments_reused"] == 0
    assert m["counts"]["articles_unchanged"] == m["counts"]["articles_ok"] == 2
    for aid in docs(first):
        a, b = first / "articles" / f"{aid}.json", second / "articles" / f"{aid}.json"
        assert a.read_bytes() == b.read_bytes() and os.stat(a).st_ino == os.stat(b).st_ino
