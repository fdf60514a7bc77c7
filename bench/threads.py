"""Threads against time and output: the same `summarize run` at several `threads` settings.

Each run is a fresh `summarize run` process on the tiny models (`summarize models tiny`), with
`threads: N` in the config and every model on one backend. It prints, per backend and thread
count, the wall time and a digest of every article's summaries and translations: equal digests
mean the thread count did not change any output.

    python bench/threads.py --articles 20 --threads 1,2 --backends transformers,ctranslate2
    python bench/threads.py --busy 1   # the same next to one process spinning on a core
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _spin() -> None:
    while True:
        pass


def articles(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"a{i}.txt").write_text(
            f"Story {i} about the river\n\nOfficials said on Monday that {i + 3} bridges were "
            f"closed after the storm. Dr. Lee said repairs would take weeks and cost more than "
            f"expected.\n\nResidents were told to stay home. Schools in {i + 2} districts will "
            f"open late on Tuesday.\n", encoding="utf-8")
    return folder


def digest(run_dir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted((run_dir / "articles").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        h.update(json.dumps([doc["id"], doc["summary"], doc["translations"]], sort_keys=True,
                            ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def run_once(config: dict[str, Any], backend: str, threads: int, inp: Path, work: Path
             ) -> dict[str, Any]:
    cfg = json.loads(json.dumps(config))
    cfg["threads"] = threads
    for spec in [cfg["summarizer"], *cfg["translators"].values()]:
        spec["backend"] = backend
    path = work / f"config-{backend}-{threads}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = work / f"out-{backend}-{threads}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("OMP_NUM_THREADS", None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "summarize.cli", "run", str(inp), "--config",
                           str(path), "--out", str(out), "--quiet", "--no-cache"],
                          env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{backend} threads {threads}: exit {proc.returncode}\n{proc.stderr}")
    [run_dir] = [p for p in out.iterdir() if p.is_dir() and p.name != "latest"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {"backend": backend, "threads": threads, "wall_s": round(wall, 1),
            "generate_s": round(sum(v for k, v in manifest["timings"].items()
                                    if k not in ("load_models", "warm_up")), 1),
            "reported_threads": sorted({m.get("threads") for m in manifest["models"]}),
            "digest": digest(run_dir)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--backends", default="transformers,ctranslate2")
    parser.add_argument("--config", default="config.yaml", help="tiny config: config.yaml, "
                        "config-chat.yaml, ...")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning meanwhile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "summarize.cli", "models", "tiny",
                        str(work / "tiny")], check=True, capture_output=True, cwd=ROOT,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
        config = yaml.safe_load((work / "tiny" / args.config).read_text())
        inp = articles(work / "in", args.articles)
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
        for p in spinners:
            p.start()
        try:
            rows = [run_once(config, backend, int(n), inp, work)
                    for backend in args.backends.split(",") for n in args.threads.split(",")]
        finally:
            for p in spinners:
                p.terminate()
    for row in rows:
        print(json.dumps(row))
    for backend in args.backends.split(","):
        found = {r["digest"] for r in rows if r["backend"] == backend}
        print(f"{backend}: outputs {'equal' if len(found) == 1 else 'DIFFER'} across threads "
              f"{args.threads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
