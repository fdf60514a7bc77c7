"""Scale bench: does a run cost the same per article at any size, and does an unchanged rerun
cost almost nothing?

Each measurement runs `summarize run`'s own code (read, segment, summarise, translate, QA,
assemble, write, memory) in a fresh child process on a generated JSONL, with an instant
backend (each output is four words of its source), so what is measured is the driver: its
memory and its time per article, not a model's. The child reports its peak RSS.

Targets (issue "Same input, same output, at any scale"):
- driver peak RSS at the large size <= 1.2x that at the small size;
- time per article at the large size <= 1.2x that at the small size;
- an unchanged rerun at --rerun-articles takes <= 5% of the first run's time and adds <= 5% to
  the output folder's disk use. Its first run uses the tiny models with 4-token outputs (the
  setting the issue measured 665 s at 20k articles with), `--rerun-backend instant` the
  instant backend, against which a rerun's fixed cost (parsing every input record) weighs more.

    python bench/scale.py                          # 10k and 200k articles, rerun at 20k
    python bench/scale.py --sizes 2000,20000 --rerun-articles 5000   # quicker

Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

WORDS = ["council", "budget", "schools", "roads", "river", "bridge", "officials", "monday", "residents", "hospital", "cooling", "centre", "heat", "wave", "study", "air", "quality", "highway", "limit", "weekdays", "prices", "market", "energy", "recycling", "battery", "flood", "delta", "farmers", "harvest", "night", "sky", "telescope"]


def generate(path: Path, n: int) -> None:
    """n articles of 3 paragraphs x 3 sentences, deterministic, ~1.2 KB each."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            paras = []
            for p in range(3):
                sents = []
                for s in range(3):
                    k = i * 7 + p * 3 + s
                    words = [WORDS[(k * 5 + j * 3) % len(WORDS)] for j in range(8 + k % 9)]
                    sents.append(f"Article {i} says {' '.join(words)} on day {k % 28 + 1}.")
                paras.append(" ".join(sents))
            fh.write(json.dumps({"id": f"n{i}", "title": f"Report {i} on the {WORDS[i % len(WORDS)]}",
                                 "body": "\n\n".join(paras)}) + "\n")


CHILD = r'''
import json, resource, sys, time
from pathlib import Path
from summarize.config import Config
from summarize.pipeline.runner import RunOptions, run_batch


class Instant:
    """A backend that answers at once: a few words of its source (as the tiny models' short
    outputs do); whitespace tokens."""

    multi_target = False

    def __init__(self, spec):
        self.spec = spec

    def info(self):
        return {"model": self.spec.model, "backend": "instant", "family": "plain", "dtype": "n/a"}

    def max_input_tokens(self):
        return 400

    def count_tokens(self, texts, target_lang=None):
        return [len(t.split()) + 2 for t in texts]

    def generate_batch(self, texts, target_lang, settings):
        if target_lang is None:  # a summary: the first sentence
            return [t.split(". ")[0] + "." for t in texts]
        return [" ".join(t.split()[:4]).upper() for t in texts]


def loader(spec, device="auto", dtype="auto", **kw):
    return Instant(spec)


inp, out, window = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
if len(sys.argv) > 4:  # a config of real (tiny) models, run by the real backends
    from summarize.config import load_config

    cfg = load_config(sys.argv[4], {"batch.window_articles": window})
    loader = None
else:
    cfg = Config.model_validate({
        "summarizer": {"model": "instant/sum", "generation": {"max_new_tokens_ratio": None}},
        "translators": {"ko": {"model": "instant/ko"}, "zh-Hans": {"model": "instant/zh"}},
        "model_check": False, "batch": {"window_articles": window}})
start = time.perf_counter()
result = run_batch(RunOptions(input=inp, out=out, config=cfg, check_models=False), loader=loader)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "counts": result.manifest["counts"], "status": result.manifest["status"]}))
'''


def tiny_config(work: Path) -> Path:
    """The tiny models' config with 4-token outputs (the issue's own rerun measurement)."""
    import yaml

    from summarize.tiny import build_tiny_models

    models = build_tiny_models(work / "tiny")
    data = yaml.safe_load((models / "config.yaml").read_text(encoding="utf-8"))
    for spec in [data["summarizer"], *data["translators"].values()]:
        spec["generation"].update({"max_new_tokens": 4, "min_new_tokens": 1,
                                   "max_new_tokens_ratio": None, "num_beams": 1})
    data["device"] = "cpu"
    path = work / "tiny-4.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run_child(inp: Path, out: Path, window: int, config: Path | None = None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    extra = [str(config)] if config is not None else []
    proc = subprocess.run([sys.executable, "-c", CHILD, str(inp), str(out), str(window), *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def disk_bytes(folder: Path) -> int:
    """Bytes of distinct files under folder (a hard-linked file counts once, as du does)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for p in folder.rglob("*"):
        st = p.lstat()
        if p.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,200000", help="small,large article counts")
    p.add_argument("--rerun-articles", type=int, default=20000)
    p.add_argument("--rerun-backend", choices=("tiny", "instant"), default="tiny",
                   help="first run of the rerun row: the tiny models with 4-token outputs "
                        "(the issue's setting), or the instant backend")
    p.add_argument("--window", type=int, default=128)
    p.add_argument("--work", type=Path, help="scratch folder (default: a temp folder, removed)")
    args = p.parse_args(argv)
    small, large = (int(x) for x in args.sizes.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="summarize-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        rows = {}
        for n in (small, large):
            inp = work / f"in-{n}.jsonl"
            generate(inp, n)
            got = run_child(inp, work / f"out-{n}", args.window)
            assert got["counts"]["articles_ok"] == n, got["counts"]
            rows[n] = got
            print(f"scale  {n:>7} articles ({inp.stat().st_size / 1e6:.0f} MB JSONL): "
                  f"{got['seconds']:.1f} s, {1000 * got['seconds'] / n:.2f} ms/article, "
                  f"driver peak RSS {got['rss_mb']:.0f} MB", flush=True)
            shutil.rmtree(work / f"out-{n}")
        rss = rows[large]["rss_mb"] / rows[small]["rss_mb"]
        per = (rows[large]["seconds"] / large) / (rows[small]["seconds"] / small)
        print(f"scale  {large} vs {small}: peak RSS {rss:.2f}x (target <= 1.2), "
              f"time per article {per:.2f}x (target <= 1.2)")
        ok &= rss <= 1.2 and per <= 1.2

        n = args.rerun_articles
        inp, out = work / f"in-{n}.jsonl", work / "rerun"
        if not inp.exists():
            generate(inp, n)
        config = tiny_config(work) if args.rerun_backend == "tiny" else None
        first = run_child(inp, out, args.window, config)
        before = disk_bytes(out)
        again = run_child(inp, out, args.window, config)
        after = disk_bytes(out)
        assert again["counts"]["articles_unchanged"] == n, again["counts"]
        t, d = again["seconds"] / first["seconds"], (after - before) / before
        print(f"rerun  {n} unchanged articles ({args.rerun_backend} backend): first {first['seconds']:.1f} s, rerun "
              f"{again['seconds']:.1f} s ({100 * t:.1f}% , target <= 5%); disk "
              f"{before / 1e6:.0f} MB -> {after / 1e6:.0f} MB (+{100 * d:.1f}%, target <= 5%)")
        ok &= t <= 0.05 and d <= 0.05
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print("scale: all targets met" if ok else "scale: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.0f} s; {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB max child RSS)")
    raise SystemExit(code)
