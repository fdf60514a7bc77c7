"""Golden outputs: run the CLI on the tiny models of every family, on both engines, and keep
what users and other tools read (article JSON, manifests, errors, memory rows) in a form that
compares byte for byte between two checkouts.

    python -m tests.golden capture /tmp/golden-before            # on the old code
    python -m tests.golden capture /tmp/golden-after             # on the new code
    python -m tests.golden compare /tmp/golden-before /tmp/golden-after

Each case runs twice into one output folder: a first run, then the same command again (every
article unchanged, shared from the first run), so the resume/reuse path is covered as well.
Only values that differ between two identical runs are normalised: run ids become RUN1/RUN2,
wall-clock fields are dropped. Everything else, digests included, must be equal. The tiny
models are built at one fixed path (``--models``) so model paths and the output identity are
the same in both captures."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODELS = Path("/tmp/summarize-golden-models")
INPUT = ROOT / "examples" / "articles"
# case name -> (tiny config file, engine, backend override for every model or None)
CASES: dict[str, tuple[str, str, str | None]] = {
    "nllb-marian.local": ("config.yaml", "local", None),
    "nllb-marian.ray": ("config.yaml", "ray", None),
    "nllb-marian.ct2.local": ("config.yaml", "local", "ctranslate2"),
    "m2m100.local": ("config-m2m100.yaml", "local", None),
    "mbart50.local": ("config-mbart50.yaml", "local", None),
    "mbart50.ray": ("config-mbart50.yaml", "ray", None),
    "chat.local": ("config-chat.yaml", "local", None),
    "chat.ray": ("config-chat.yaml", "ray", None),
}
# Keys whose values differ between two identical runs (wall clock, the command line).
VOLATILE = {"started_at", "finished_at", "timings", "command", "created_at", "imported_at",
            "node_id", "actor_id", "pid", "node_ip", "hostname"}
RUN_ID = re.compile(r"\d{8}T\d{6}\d*Z-[0-9a-f]{8}")


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()
                if k not in VOLATILE and not k.endswith(("seconds", "_s"))}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _label_runs(text: str, labels: dict[str, str]) -> str:
    def label(match: re.Match[str]) -> str:
        return labels.setdefault(match.group(0), f"RUN{len(labels) + 1}")

    return RUN_ID.sub(label, text)


def _config(case: str, dest: Path) -> Path:
    import yaml

    name, engine, backend = CASES[case]
    data = yaml.safe_load((MODELS / name).read_text(encoding="utf-8"))
    data["engine"] = engine
    if engine == "ray":
        data.setdefault("ray", {}).update({"actors": 1, "cpus_per_actor": 1})
    if backend is not None:
        for spec in [data["summarizer"], *data["translators"].values()]:
            spec["backend"] = backend
    path = dest / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _run(config: Path, out: Path) -> None:
    # PYTHONPATH: Ray's workers import this checkout's code too, not an installed copy.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                         if p)}
    cmd = [sys.executable, "-m", "summarize.cli", "run", str(INPUT), "--config", str(config),
           "--out", str(out), "--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")


def _collect(out: Path, dest: Path, root: Path = ROOT) -> None:
    """The normalised copy of one case's output folder (run ids labelled, wall-clock and
    process fields dropped, the checkout's path written as <checkout>)."""
    labels: dict[str, str] = {}
    runs = sorted(p for p in out.iterdir() if p.is_dir() and RUN_ID.fullmatch(p.name))
    for run in runs:
        label = _label_runs(run.name, labels)
        target = dest / label
        for path in sorted(run.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(run)
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                text = json.dumps(_stable(json.loads(text)), ensure_ascii=False, indent=1)
            elif path.suffix == ".jsonl":
                text = "\n".join(json.dumps(_stable(json.loads(line)), ensure_ascii=False)
                                 for line in text.splitlines() if line.strip())
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            text = text.replace(str(root), "<checkout>")
            (target / rel).write_text(_label_runs(text, labels), encoding="utf-8")
    db = sqlite3.connect(out / "memory.sqlite")
    lines = []
    for table in ("units", "human"):
        cols = [c[1] for c in db.execute(f"PRAGMA table_info({table})")
                if c[1] not in VOLATILE]
        for row in db.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1, 2, 3"):
            lines.append(json.dumps([table, *row], ensure_ascii=False))
    db.close()
    (dest / "memory.jsonl").write_text(_label_runs("\n".join(lines), labels), encoding="utf-8")
    (dest / "latest").write_text(_label_runs((out / "latest").resolve().name, labels))


def capture(dest: Path, cases: list[str]) -> None:
    if not (MODELS / "config.yaml").exists():
        from summarize.tiny import build_tiny_models

        build_tiny_models(MODELS)
    dest.mkdir(parents=True, exist_ok=True)
    for case in cases:
        work = dest / "work" / case
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        config = _config(case, work)
        for _ in range(2):
            _run(config, work / "out")
        shutil.rmtree(dest / case, ignore_errors=True)
        _collect(work / "out", dest / case)
        print(f"{case}: captured", flush=True)


def collect(dest: Path, root: Path) -> None:
    """Normalise again the outputs a capture kept under DEST/work (after a change of rules)."""
    for work in sorted((dest / "work").iterdir()):
        shutil.rmtree(dest / work.name, ignore_errors=True)
        _collect(work / "out", dest / work.name, root)


def compare(a: Path, b: Path) -> int:
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "work" not in p.parts}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "work" not in p.parts}
    problems = [f"only in {a}: {p}" for p in sorted(files_a - files_b)]
    problems += [f"only in {b}: {p}" for p in sorted(files_b - files_a)]
    problems += [f"differs: {p}" for p in sorted(files_a & files_b)
                 if (a / p).read_bytes() != (b / p).read_bytes()]
    print("\n".join(problems) or f"identical: {len(files_a)} files")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("dest", type=Path)
    cap.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    col = sub.add_parser("collect")
    col.add_argument("dest", type=Path)
    col.add_argument("--root", type=Path, default=ROOT, help="the checkout that captured DEST")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.cmd == "capture":
        capture(args.dest, [c for c in args.cases.split(",") if c])
        return 0
    if args.cmd == "collect":
        collect(args.dest, args.root)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    raise SystemExit(main())
