"""The ray engine against the local one: `summarize run` end to end on the same articles and
the same real-size random-weight translator (opus-mt-en-zh shape), summaries by the tiny
summariser. Reported, never asserted: throughput with 1 and 2 actors, and ray's overhead
against local at the same parallelism (one actor with every core vs this process with every
core). Each ray run starts its own local Ray, as a run without --ray-address does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

RUNS = {  # name: (engine, actors, cpus per actor)
    "local": ("local", 0, 0),
    "ray_1_actor_all_cores": ("ray", 1, None),
    "ray_1_actor_1_core": ("ray", 1, 1),
    "ray_2_actors_1_core": ("ray", 2, 1),
}


def _config(tiny_config: Path, translator: Path, articles: int, engine: str, actors: int,
            cpus: float | None, device: str) -> dict[str, Any]:
    tiny = yaml.safe_load(tiny_config.read_text())
    cores = os.cpu_count() or 1
    # On a GPU the actors of a pool share the one card (half of it each for two actors).
    gpus = 1 / max(1, actors) if device == "cuda" else 0.0
    return {
        "device": device,
        "languages": ["zh-Hans"],
        "summarizer": tiny["summarizer"],
        "translators": {"zh-Hans": {"model": str(translator), "generation": {
            "num_beams": 1, "max_new_tokens": 32, "max_new_tokens_ratio": None}}},
        "batch": {"window_articles": articles},  # one window: each model loads once per stage
        "model_check": False,
        "engine": engine,
        "ray": {"actors": max(1, actors), "cpus_per_actor": cpus or cores, "num_cpus": cores,
                "gpus_per_actor": gpus},
    }


def measure_ray(tiny_config: Path, translator: Path, articles_jsonl: str, articles: int,
                out: Path, env: dict[str, str], device: str = "cpu") -> dict[str, Any]:
    """Wall time and segments/s of each run in RUNS; ``reason`` when one fails."""
    result: dict[str, Any] = {"articles": articles, "runs": {}}
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        inputs = Path(tmp) / "articles.jsonl"
        inputs.write_text(articles_jsonl, encoding="utf-8")
        for name, (engine, actors, cpus) in RUNS.items():
            cfg = Path(tmp) / f"{name}.yaml"
            cfg.write_text(yaml.safe_dump(_config(tiny_config, translator, articles, engine,
                                                  actors, cpus, device)))
            runs = Path(tmp) / f"runs-{name}"
            cmd = [sys.executable, "-m", "summarize", "run", str(inputs), "--config", str(cfg),
                   "--out", str(runs), "--no-cache", "--quiet"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                lines = proc.stderr.strip().splitlines()
                result["reason"] = f"{name}: exit {proc.returncode}: {lines[-1] if lines else ''}"
                print(f"ray: {result['reason']}", file=sys.stderr)
                return result
            manifest = json.loads(next(runs.glob("*/manifest.json")).read_text())
            segments = manifest["counts"]["segments_computed"]
            timings = manifest.get("timings", {})
            generating = timings.get("summarize", 0) + timings.get("translate", 0)
            result["runs"][name] = {
                "wall_s": round(wall, 1), "segments": segments,
                "segments_per_s": round(segments / wall, 2),
                "generate_stages_s": round(generating, 1),
                "actors": len(manifest["engine"].get("actors", [])),
            }
            print(f"ray: {name}: {result['runs'][name]}", file=sys.stderr)
    runs_ = result["runs"]
    result["ray_vs_local_wall"] = round(runs_["ray_1_actor_all_cores"]["wall_s"]
                                        / runs_["local"]["wall_s"], 2)
    result["two_vs_one_actor_throughput"] = round(
        runs_["ray_2_actors_1_core"]["segments_per_s"] / runs_["ray_1_actor_1_core"]["segments_per_s"], 2)
    return result
