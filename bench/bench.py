"""Throughput and memory benchmark of summarize's generation paths (``make bench``).

    python bench/bench.py                 # greedy, opus-mt-en-zh shape, CPU (< 5 min on 2 cores)
    python bench/bench.py --beams         # also a beam-4 table
    python bench/bench.py --full          # also NLLB-600M and distilbart-cnn-12-6 shapes
    python bench/bench.py --device cuda   # HF bf16 + fp32, CT2 int8_float16 + float16

Models have the real architectures' sizes with random weights, built offline under bench/out/;
output length is forced (min = max new tokens), so the compute is what the real model costs.
Each path runs in a fresh subprocess, so its peak RSS is its own. The last line printed is one
JSON object with every figure; it is also written to bench/out/last.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

PATH_NAMES = ("naive_hf", "batched_hf", "summarize_hf", "raw_ct2", "summarize_ct2")
HF_PATHS = ("naive_hf", "batched_hf", "summarize_hf")
# (name, numerator path, denominator path, minimum ratio): checked on the greedy table.
TARGETS = (
    ("summarize_hf >= 0.9 x batched_hf", "summarize_hf", "batched_hf", 0.9),
    ("summarize_hf >= 8 x naive_hf", "summarize_hf", "naive_hf", 8.0),
    ("summarize_ct2 >= 0.9 x raw_ct2", "summarize_ct2", "raw_ct2", 0.9),
)
WARMUP_SENTENCES = 8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--full", action="store_true", help="also NLLB-600M and distilbart-cnn-12-6 shapes")
    p.add_argument("--beams", action="store_true", help="also a beam-4 table")
    p.add_argument("--sentences", type=int, default=128)
    p.add_argument("--min-tokens", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=60)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--naive-sentences", type=int, default=32,
                   help="naive_hf runs on every k-th sentence by length (same length spread); "
                        "its rate is per sentence, so it compares; 0 = all")
    p.add_argument("--repeats", type=int, default=2,
                   help="timed passes per path, fastest kept (naive_hf: 1); the CPU may be shared")
    p.add_argument("--max-batch-tokens", type=int, help="override BatchSettings for the tool's paths")
    p.add_argument("--max-batch-size", type=int, help="override BatchSettings for the tool's paths")
    p.add_argument("--paths", default=",".join(PATH_NAMES), help="comma-separated subset of paths")
    p.add_argument("--memory-articles", type=int, default=20, help="N for the N / 10N memory runs; 0 skips")
    p.add_argument("--ray-articles", type=int, default=64,
                   help="articles for the ray vs local engine runs (bench_ray.py); 0 skips")
    p.add_argument("--out", type=Path, default=HERE / "out")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ---------------------------------------------------------------- children


def child_main(args: argparse.Namespace) -> None:
    """Runs inside a fresh process: prepare models, or measure one path; prints one JSON line."""
    job = json.loads(args.job.read_text(encoding="utf-8"))
    if args.child == "prepare":
        result = _prepare(job)
    else:
        import bench_paths

        result = bench_paths.run(bench_paths.Job(**job))
    print(json.dumps(result))


def _prepare(job: dict[str, Any]) -> dict[str, Any]:
    import bench_models
    import bench_paths
    import torch
    from transformers import AutoTokenizer

    device = job["device"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")
    root = Path(job["out"]) / "models"
    models = {}
    for name in job["models"]:
        shape = bench_models.SHAPES[name]
        t0 = time.perf_counter()
        folder = bench_models.build_model(shape, root)
        built = time.perf_counter() - t0
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        workload_file = folder / f"workload-{job['sentences']}-{job['min_tokens']}-{job['max_tokens']}.json"
        if workload_file.exists():
            sentences = json.loads(workload_file.read_text(encoding="utf-8"))
        else:
            sentences = bench_models.make_workload(tokenizer, job["sentences"], job["min_tokens"], job["max_tokens"])
            workload_file.write_text(json.dumps(sentences, ensure_ascii=False), encoding="utf-8")
        lengths = [len(ids) for ids in tokenizer(sentences).input_ids]
        models[name] = {
            "dir": str(folder), "family": shape.family, "target_lang": shape.target_lang,
            "describe": shape.describe(), "parameters": bench_models.parameters(folder),
            "sentences": sentences, "source_tokens": lengths, "build_seconds": round(built, 1),
        }
    quantizations = ["int8"] + (["float16"] if device == "cuda" else [])
    t0 = time.perf_counter()
    bench_paths.prepare({n: m["dir"] for n, m in models.items()}, quantizations)
    return {"device": device, "device_name": _device_name(device), "models": models,
            "convert_seconds": round(time.perf_counter() - t0, 1)}


def _device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"{os.cpu_count()}-core CPU ({_cpu_model()})"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _child_env(out: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "SUMMARIZE_CACHE": str(out / "cache"), "PYTHONWARNINGS": "ignore",
    })
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def spawn(kind: str, job: dict[str, Any], out: Path) -> dict[str, Any]:
    """Run one child and return its JSON; a failing child is reported, not fatal."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=out, delete=False) as fh:
        json.dump(job, fh)
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--job", fh.name],
            capture_output=True, text=True, env=_child_env(out), check=False,
        )
    finally:
        os.unlink(fh.name)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        print(f"  {kind} failed (exit {proc.returncode}):\n{tail}", file=sys.stderr)
        return {"error": f"exit {proc.returncode}: {tail.splitlines()[-1] if tail else ''}"}
    return dict(json.loads(lines[-1]))


# ---------------------------------------------------------------- measuring


def dtype_plan(device: str) -> dict[str, list[str]]:
    """Per family of paths, the dtypes measured; the first is the one the targets use."""
    if device == "cuda":
        return {"hf": ["bfloat16", "float32"], "ct2": ["int8_float16", "float16"]}
    return {"hf": ["float32"], "ct2": ["int8"]}


def measure_paths(model: dict[str, Any], args: argparse.Namespace, device: str, beams: int,
                  paths: list[str]) -> dict[str, Any]:
    """Every path on one model at one beam width: {path: figures}, variants nested."""
    sentences = model["sentences"]
    by_length = sorted(sentences, key=lambda s: (len(s), s))
    step = max(1, len(sentences) // args.naive_sentences) if args.naive_sentences else 1
    results: dict[str, Any] = {}
    for path in paths:
        kind = "hf" if path in HF_PATHS else "ct2"
        figures: dict[str, Any] = {}
        for dtype in dtype_plan(device)[kind]:
            job = {
                "path": path, "model_dir": model["dir"], "family": model["family"],
                "target_lang": model["target_lang"],
                "sentences": by_length[::step] if path == "naive_hf" else sentences,
                "warmup": sentences[:WARMUP_SENTENCES], "new_tokens": args.new_tokens,
                "beams": beams, "device": device, "dtype": dtype,
                "repeats": 1 if path == "naive_hf" else args.repeats,
                "batch": _batch_overrides(args),
            }
            print(f"  {path:<14} {dtype:<13} beams={beams} ...", end="", flush=True, file=sys.stderr)
            res = spawn(path, job, args.out)
            print(f" {res.get('tokens_per_s', 'failed')} tok/s", file=sys.stderr)
            if not figures:
                figures = res
            else:
                figures.setdefault("variants", {})[dtype] = res
        results[path] = figures
    return results


def _batch_overrides(args: argparse.Namespace) -> dict[str, int]:
    given = {"max_batch_tokens": args.max_batch_tokens, "max_batch_size": args.max_batch_size}
    return {k: v for k, v in given.items() if v is not None}


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks = []
    for name, num, den, minimum in TARGETS:
        a = results.get(num, {}).get("tokens_per_s")
        b = results.get(den, {}).get("tokens_per_s")
        ratio = round(a / b, 2) if a and b else None
        checks.append({"target": name, "ratio": ratio,
                       "pass": None if ratio is None else ratio >= minimum})
    return checks


# ---------------------------------------------------------------- memory of a whole run


def measure_memory(articles: list[int], out: Path) -> dict[str, Any]:
    """Peak RSS of ``summarize run`` on the tiny models for each article count.

    Runs ``python -m summarize models tiny`` once, then ``python -m summarize run`` as a child
    per count on generated distinct articles (translation memory off) and reads that child's
    peak RSS from wait4(). Reports null with a reason when the command is not available.
    """
    result: dict[str, Any] = {"articles": articles, "peak_rss_mb": [None] * len(articles)}
    env = _child_env(out)
    config, why = tiny_config(out, env)
    if config is None:
        result["reason"] = why
        print(f"memory: {result['reason']}", file=sys.stderr)
        return result
    seconds = []
    for i, n in enumerate(articles):
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            inputs = Path(tmp) / "articles.jsonl"
            inputs.write_text(_articles_jsonl(n), encoding="utf-8")
            cmd = [sys.executable, "-m", "summarize", "run", str(inputs), "--config", str(config),
                   "--out", str(Path(tmp) / "runs"), "--no-cache", "--quiet"]
            t0 = time.perf_counter()
            code, peak, stderr = _run_measured(cmd, env, Path(tmp) / "stderr.txt")
            seconds.append(round(time.perf_counter() - t0, 1))
        if code != 0:
            result["reason"] = f"`summarize run` exited {code}: " + (stderr.strip().splitlines() or [""])[-1]
            print(f"memory: {result['reason']}", file=sys.stderr)
            return result
        result["peak_rss_mb"][i] = peak
    result["seconds"] = seconds
    return result


def tiny_config(out: Path, env: dict[str, str]) -> tuple[Path | None, str]:
    """The tiny models' config.yaml (built once in OUT), or None and why not."""
    tiny = out / "tiny-models"
    config = tiny / "config.yaml"
    if not config.exists():
        proc = subprocess.run([sys.executable, "-m", "summarize", "models", "tiny", str(tiny)],
                              capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0 or not config.exists():
            return None, "`summarize models tiny` failed: " + _last_line(proc)
    return config, ""


def measure_engines(n: int, translator: Path, out: Path, device: str) -> dict[str, Any]:
    """bench_ray.measure_ray on n generated articles (see bench/bench_ray.py)."""
    from bench_ray import measure_ray

    env = _child_env(out)
    config, why = tiny_config(out, env)
    if config is None:
        return {"articles": n, "runs": {}, "reason": why}
    try:
        import ray  # noqa: F401
    except ImportError:
        return {"articles": n, "runs": {}, "reason": "ray not installed: pip install -e '.[ray]'"}
    return measure_ray(config, translator, _articles_jsonl(n), n, out, env, device)


def _run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, float, str]:
    """(exit code, peak RSS MB, stderr) of one child, its RSS read from wait4()."""
    with open(log, "w+b") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    scale = 1 << 20 if sys.platform == "darwin" else 1 << 10  # ru_maxrss: bytes on macOS, KiB on Linux
    return proc.returncode, round(usage.ru_maxrss / scale, 1), text


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def _articles_jsonl(n: int) -> str:
    """``n`` distinct articles of 3 paragraphs x 3 sentences, from the tiny models' lines."""
    try:
        from summarize.tiny.corpus import EN_LINES
    except ImportError:
        EN_LINES = ("The city council approved a new budget for schools and roads on Monday.",)
    rows = []
    for a in range(n):
        paragraphs = []
        for p in range(3):
            sents = [
                EN_LINES[(a * 7 + p * 3 + s) % len(EN_LINES)].rstrip(".") + f", report {a}-{p}-{s}."
                for s in range(3)
            ]
            paragraphs.append(" ".join(sents))
        title = f"Report {a}: " + EN_LINES[a % len(EN_LINES)].split(",")[0].rstrip(".")
        rows.append(json.dumps({"id": f"a{a:05d}", "title": title, "body": "\n\n".join(paragraphs)}))
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------- report


def print_table(title: str, results: dict[str, Any]) -> None:
    print(f"\n{title}")
    header = (f"{'path':<15}{'dtype':<14}{'tokens/s':>10}{'sent/s':>9}{'peak RSS MB':>13}"
              f"{'seconds':>9}{'load':>6}")
    print(header)
    print("-" * len(header))
    for path, res in results.items():
        rows = [(res.get("dtype", ""), res), *res.get("variants", {}).items()]
        for dtype, r in rows:
            if "error" in r:
                print(f"{path:<15}{dtype:<14}{'failed: ' + r['error'][:60]}")
                continue
            print(f"{path:<15}{dtype:<14}{r['tokens_per_s']:>10.1f}{r['sentences_per_s']:>9.2f}"
                  f"{r['peak_rss_mb']:>13.0f}{r['seconds']:>9.1f}{r.get('load_average', 0):>6.1f}")


def print_targets(checks: list[dict[str, Any]]) -> None:
    for c in checks:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[c["pass"]]
        print(f"{verdict}  {c['target']:<34} measured {c['ratio']}x")


def _short(figures: dict[str, Any]) -> dict[str, Any]:
    """The JSON line's per-path entry: the three figures, plus dtype variants on CUDA."""
    if "error" in figures:
        return {"tokens_per_s": None, "sentences_per_s": None, "peak_rss_mb": None, "error": figures["error"]}
    entry = {k: figures[k] for k in ("tokens_per_s", "sentences_per_s", "peak_rss_mb")}
    if "variants" in figures:
        entry["dtype"] = figures["dtype"]
        entry["variants"] = {d: _short(v) for d, v in figures["variants"].items()}
    return entry


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = [p for p in args.paths.split(",") if p]
    unknown = sorted(set(paths) - set(PATH_NAMES))
    if unknown:
        raise SystemExit(f"unknown path(s): {', '.join(unknown)}")
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    if load_at_start > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load_at_start} -- other processes share the CPU; "
              "figures will be low and noisy", file=sys.stderr)
    model_names = ["opus-mt-en-zh"] + (["nllb-200-distilled-600M", "distilbart-cnn-12-6"] if args.full else [])
    print(f"preparing models (built and converted once, cached in {args.out}) ...", file=sys.stderr)
    prep = spawn("prepare", {"out": str(args.out), "device": args.device, "models": model_names,
                             "sentences": args.sentences, "min_tokens": args.min_tokens,
                             "max_tokens": args.max_tokens}, args.out)
    if "error" in prep:
        print(f"preparing models failed: {prep['error']}", file=sys.stderr)
        return 1
    device = prep["device"]
    beam_widths = [1, 4] if args.beams else [1]
    tables: dict[str, dict[int, dict[str, Any]]] = {}
    for name in model_names:
        model = prep["models"][name]
        print(f"{name}: {model['describe']}", file=sys.stderr)
        tables[name] = {b: measure_paths(model, args, device, b, paths) for b in beam_widths}
    memory = (measure_memory([args.memory_articles, 10 * args.memory_articles], args.out)
              if args.memory_articles else {"articles": [], "peak_rss_mb": [], "reason": "skipped"})

    main_model = prep["models"][model_names[0]]
    engines = (measure_engines(args.ray_articles, Path(main_model["dir"]), args.out, device)
               if args.ray_articles else {"runs": {}, "reason": "skipped"})
    lengths = main_model["source_tokens"]
    for name in model_names:
        for b in beam_widths:
            print_table(f"{name} ({prep['models'][name]['describe']}), {'greedy' if b == 1 else f'beam {b}'}, "
                        f"{prep['device_name']}", tables[name][b])
    greedy = tables[model_names[0]][1]
    checks = check_targets(greedy)
    print()
    print_targets(checks)
    if args.beams:
        print("beam 4, same ratios (informational, the targets are for greedy):")
        print_targets(check_targets(tables[model_names[0]][4]))
    if memory["articles"]:
        print(f"memory (summarize run, tiny models): {dict(zip(memory['articles'], memory['peak_rss_mb'], strict=True))} MB"
              + (f" -- {memory['reason']}" if memory.get("reason") else ""))
    if engines["runs"]:
        print(f"engines (summarize run, {engines['articles']} articles, opus-mt-en-zh shape): "
              + ", ".join(f"{k} {v['wall_s']}s {v['segments_per_s']} seg/s"
                          for k, v in engines["runs"].items())
              + f"; ray/local wall {engines.get('ray_vs_local_wall')}, 2 vs 1 actor "
              f"{engines.get('two_vs_one_actor_throughput')}x"
              + (f" -- {engines['reason']}" if engines.get("reason") else ""))
    print(f"total {time.perf_counter() - started:.0f}s")

    workload = {
        "sentences": len(main_model["sentences"]),
        "source_tokens": {"min": min(lengths), "max": max(lengths), "mean": round(sum(lengths) / len(lengths), 1)},
        "new_tokens": args.new_tokens,
        "beams": 1,
        "naive_hf_sentences": len(main_model["sentences"][:: max(1, len(lengths) // args.naive_sentences)])
        if args.naive_sentences else len(lengths),
        "user_batch": 32,
        "raw_ct2_batch_type": "examples",
        "batch_settings": {**_batch_defaults(), **_batch_overrides(args)},
        "warmup_sentences": WARMUP_SENTENCES,
        "repeats": args.repeats,
        "load_average_at_start": load_at_start,
        "timing": "tokenise + generate + decode after load and warm-up, fastest of repeats; tokens = sentences x new_tokens",
    }
    report: dict[str, Any] = {
        "device": prep["device_name"],
        "model": main_model["describe"] + (f", {main_model['parameters'] / 1e6:.1f}M params" if main_model["parameters"] else ""),
        "workload": workload,
        "results": {p: _short(greedy[p]) for p in paths},
        "memory": {"articles": memory["articles"], "peak_rss_mb": memory["peak_rss_mb"]},
    }
    if memory.get("reason"):
        report["memory"]["reason"] = memory["reason"]
    report["engines"] = engines
    if args.beams:
        report["results_beam4"] = {p: _short(tables[model_names[0]][4][p]) for p in paths}
    if args.full:
        report["other_models"] = {
            n: {"model": prep["models"][n]["describe"],
                "results": {p: _short(tables[n][1][p]) for p in paths}}
            for n in model_names[1:]
        }
    line = json.dumps(report)
    detail = {"prepare": {k: v for k, v in prep.items() if k != "models"},
              "tables": {n: {str(b): t for b, t in tables[n].items()} for n in model_names},
              "memory": memory}
    (args.out / "last-detail.json").write_text(json.dumps(detail, indent=1) + "\n", encoding="utf-8")
    (args.out / "last.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(line)
    return 0


def _batch_defaults() -> dict[str, Any]:
    try:
        from summarize.config import BatchSettings
    except ImportError:
        return {}
    return {k: f.default for k, f in BatchSettings.model_fields.items()}


if __name__ == "__main__":
    sys.exit(main())
