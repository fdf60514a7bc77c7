"""Ray against local at the same parallelism: `summarize run` end to end on generated articles
with the tiny offline models (summariser, ko and zh-Hans translators), the default window,
``--actors`` actors of one CPU each against one local process with as many torch threads.
Each ray run starts its own local Ray (counted in its wall time), as a run without
--ray-address does. Prints a table and one JSON line; asserts nothing.

    python bench/ray_scale.py                    # 300 articles, 1 actor vs 1 thread
    python bench/ray_scale.py --articles 60 --actors 2
    python bench/ray_scale.py --read-ahead both  # each engine with and without batch.read_ahead
    python bench/ray_scale.py --repeats 3        # local and ray alternated 3 times: median ratio

This machine's speed drifts by a quarter from one minute to the next (other tenants), so one
pair of runs can land anywhere from 1.2x to 1.6x; ``--repeats`` alternates the two engines and
reports each pair's ratio and their median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def articles_jsonl(n: int) -> str:
    """``n`` distinct articles of three paragraphs of three sentences, from the tiny models'
    training lines (so the tiny tokenizers know the words)."""
    from summarize.tiny.corpus import EN_LINES

    lines = [ln.rstrip(".") for ln in EN_LINES if ln.strip()]
    out = []
    for i in range(n):
        paras = []
        for p in range(3):
            sentences = [f"{lines[(i * 7 + p * 3 + s) % len(lines)]} in district {i}-{p}{s}."
                         for s in range(3)]
            paras.append(" ".join(sentences))
        out.append(json.dumps({"id": f"a{i:04d}", "title": f"Report {i}",
                               "body": "\n\n".join(paras)}, ensure_ascii=False))
    return "\n".join(out) + "\n"


def run_once(name: str, inputs: Path, cfg: dict[str, Any], work: Path, env: dict[str, str]
             ) -> dict[str, Any]:
    slug = name.replace(" ", "-")
    path = work / f"{slug}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = work / f"runs-{slug}"
    cmd = [sys.executable, "-m", "summarize", "run", str(inputs), "--config", str(path),
           "--out", str(out), "--no-cache", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}: {proc.stderr[-2000:]}")
    manifest = json.loads(next(out.glob("*/manifest.json")).read_text())
    engine = manifest["engine"]
    row = {"wall_s": round(wall, 1), "segments": manifest["counts"]["segments_computed"],
           "articles_ok": manifest["counts"]["articles_ok"]}
    for key in ("pool_starts", "actor_starts", "model_loads", "model_load_seconds",
                "actor_deaths"):
        if key in engine:
            row[key] = engine[key]
    if "actors" in engine:
        row["actor_generate_s"] = round(sum(a["seconds"] for a in engine["actors"]), 1)
    print(f"{name}: {row}", file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=300)
    p.add_argument("--actors", type=int, default=1,
                   help="ray actors of one CPU each; the local run gets as many threads")
    p.add_argument("--read-ahead", choices=("on", "off", "both"), default="off",
                   help="batch.read_ahead for the runs (both: each engine twice, off first)")
    p.add_argument("--repeats", type=int, default=1,
                   help="alternate local and ray this many times; report the median ratio")
    p.add_argument("--tiny", type=Path, default=None,
                   help="a `summarize models tiny` folder to reuse (built in a temp dir if unset)")
    args = p.parse_args(argv)

    threads = str(args.actors)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "PYTHONPATH": os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH"))
                                         if x)}
    env.pop("RAY_ADDRESS", None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tiny = args.tiny or work / "tiny"
        if not (tiny / "config.yaml").exists():
            subprocess.run([sys.executable, "-m", "summarize", "models", "tiny", str(tiny)],
                           env=env, cwd=ROOT, check=True, capture_output=True)
        base = yaml.safe_load((tiny / "config.yaml").read_text())
        base["model_check"] = False
        base.setdefault("batch", {}).pop("window_articles", None)  # the default window
        inputs = work / "articles.jsonl"
        inputs.write_text(articles_jsonl(args.articles), encoding="utf-8")
        rows: dict[str, dict[str, Any]] = {}
        ratios: list[float] = []
        for repeat in range(1, args.repeats + 1):
            for read_ahead in {"on": [True], "off": [False], "both": [False, True]}[args.read_ahead]:
                tag = "" if args.read_ahead != "both" else f" read-ahead {'on' if read_ahead else 'off'}"
                tag += f" #{repeat}" if args.repeats > 1 else ""
                batch = {**base.get("batch", {}), "read_ahead": read_ahead}
                rows[f"local{tag}"] = run_once(f"local{tag}", inputs, {**base, "batch": batch,
                                               "engine": "local"}, work, env)
                ray_cfg = {"actors": args.actors, "cpus_per_actor": 1, "num_cpus": args.actors}
                rows[f"ray{tag}"] = run_once(f"ray{tag}", inputs, {**base, "batch": batch,
                                             "engine": "ray", "ray": ray_cfg}, work, env)
            # each repeat's ratio: its last pair (read ahead on with --read-ahead both)
            ratios.append(rows[f"ray{tag}"]["wall_s"] / rows[f"local{tag}"]["wall_s"])
    result = {"bench": "ray_scale", "articles": args.articles, "actors": args.actors,
              "threads_local": args.actors, "cpus": os.cpu_count(), "read_ahead": args.read_ahead,
              "load": round(os.getloadavg()[0], 2), "runs": rows,
              "ray_vs_local_each": [round(r, 2) for r in ratios],
              "ray_vs_local_wall": round(statistics.median(ratios), 2)}
    print("| run | wall s | segments | pool starts | actor starts | model loads |\n"
          "|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        engine = (f"local ({args.actors} thread(s))" if name.startswith("local")
                  else f"ray ({args.actors} actor(s) x 1 CPU)")
        what = engine + name.removeprefix("local").removeprefix("ray")
        print(f"| {what} | {row['wall_s']} | {row['segments']} | {row.get('pool_starts', '–')} | "
              f"{row.get('actor_starts', '–')} | {row.get('model_loads', '–')} |")
    each = ", ".join(f"{r}x" for r in result["ray_vs_local_each"])
    print(f"ray / local wall (read ahead {'off' if args.read_ahead == 'off' else 'on'}): "
          f"{result['ray_vs_local_wall']}x" + (f" (median of {each})" if args.repeats > 1 else ""))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
