"""CLI surface: runs list/show/diff/prune, help speed, progress output."""

import io
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from summarize.cli import app
from summarize.config import Config
from summarize.pipeline.runner import RunOptions, run_batch
from summarize.progress import LogProgress
from tests.fakes import FakeLoader

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"


def two_runs(tmp_path: Path) -> tuple[Path, str, str]:
    out = tmp_path / "out"
    cfg = Config.model_validate({"summarizer": {"model": "fake/sum"},
                                 "translators": {"ko": {"model": "fake/a"}, "zh-Hans": {"model": "fake/a"}}})
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "keep.txt").write_text("Kept story\n\nNothing changes here.\n")
    (inp / "edit.txt").write_text("Edited story\n\nThe first version.\n")
    # the fake models' output is not a translation: the canary model check would refuse it
    opts = {"out": out, "config": cfg, "check_models": False}
    a = run_batch(RunOptions(input=inp, **opts), loader=FakeLoader()).run.run_id
    (inp / "edit.txt").write_text("Edited story\n\nThe second version.\n")
    (inp / "new.txt").write_text("New story\n\nJust arrived.\n")
    b = run_batch(RunOptions(input=inp, **opts), loader=FakeLoader()).run.run_id
    return out, a, b


def test_runs_commands(tmp_path):
    out, a, b = two_runs(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(app, ["runs", "list", "--out", str(out)])
    assert listed.exit_code == 0 and a in listed.output and f"{b} (latest)" in listed.output
    assert "complete" in listed.output
    shown = runner.invoke(app, ["runs", "show", "latest", "--out", str(out)])
    assert shown.exit_code == 0 and b in shown.output and "segments_computed" in shown.output
    diff = runner.invoke(app, ["runs", "diff", a, b, "--out", str(out), "--json"])
    assert diff.exit_code == 0, diff.output
    d = json.loads(diff.output)
    assert d["added"] == ["new"] and d["removed"] == []
    assert d["changed"]["en"] == ["edit"] and d["changed"]["ko"] == ["edit"]
    missing = runner.invoke(app, ["runs", "show", "nope", "--out", str(out)])
    assert missing.exit_code != 0 and "no run 'nope'" in missing.output
    pruned = runner.invoke(app, ["runs", "prune", "--keep", "0", "--out", str(out)])
    assert pruned.exit_code == 0 and a in pruned.output
    assert not (out / a).exists() and (out / b).exists()  # latest survives


def test_help_does_not_import_torch():
    code = "import sys; from summarize.cli import app; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_log_progress_plain_lines_and_quiet():
    buf = io.StringIO()
    p = LogProgress(stream=buf, every=0.0)
    p.start("articles", 3)
    p.advance("articles")
    p.bad_record("a.txt: file is empty")
    assert "articles 1/3" in buf.getvalue() and "error: a.txt: file is empty" in buf.getvalue()
    quiet = io.StringIO()
    q = LogProgress(stream=quiet, every=0.0, quiet=True)
    q.start("articles", 3)
    q.advance("articles")
    q.log("hello")
    q.bad_record("b.txt: binary")
    assert quiet.getvalue() == "error: b.txt: binary\n"  # errors are never silenced
