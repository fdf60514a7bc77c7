"""Peak memory and time of `summarize export` against the number of articles in a run.

    python bench/export_scale.py                          # 500, 2000, 20000 articles, every format
    python bench/export_scale.py --sizes 200 2000 --formats xliff   # a quick run

Run folders are generated without models: article JSON shaped as `summarize run` writes it
(4-10 paragraphs, both languages, QA flags, human segments) and a complete manifest, through
the store (`OutputDir.create_run`, `Run.article_path`, `store.dump_json`, `Run.write_manifest`,
`OutputDir.point_latest`; `--fsync` writes each article with `Run.write_article`, fsync
included, as a run does). They are kept under bench/out/export_scale/ and reused while the
generator is unchanged. Each export is the real CLI (`python -m summarize export`) in its own
process, started by a bare interpreter that reports its peak RSS (getrusage of its child).

After each XLIFF export, `summarize import --dry-run` reads its ko.xlf back (nothing edited, so
every segment is judged and skipped): the review import is measured the same way.

Exits 1 when an XLIFF export peaks at or above --limit-mb (300 MB), or when a format's (or the
import's) peak at the largest size is more than --max-ratio (1.2) times its peak at the
smallest. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from summarize.runs.store import OutputDir, utcnow  # noqa: E402

GENERATOR = 1  # bump when the generated articles change, so kept runs are rebuilt
FORMATS = ("xliff", "hugo", "i18next")
LANGS = ("ko", "zh-Hans")
CONFIG_HASH = "e0b7c1a5f3d24e6b8a9c0d1e2f3a4b5c"

EN = ("the", "council", "said", "on", "Monday", "that", "river", "levels", "would", "fall",
      "after", "rain", "farmers", "market", "prices", "rose", "by", "percent", "in", "city",
      "officials", "expect", "new", "bridge", "to", "open", "next", "year", "while", "schools")
HANGUL = [chr(c) for c in range(0xAC00, 0xAC00 + 400, 7)]
HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 600, 5)]


def _en(rng: random.Random) -> str:
    words = [rng.choice(EN) for _ in range(rng.randint(12, 28))]
    return " ".join(words).capitalize() + f" {rng.randint(1, 99)} percent."


def _ko(rng: random.Random) -> str:
    words = ["".join(rng.choices(HANGUL, k=rng.randint(1, 4))) for _ in range(rng.randint(8, 18))]
    return " ".join(words) + f" {rng.randint(1, 99)}퍼센트."


def _zh(rng: random.Random) -> str:
    return "".join(rng.choices(HAN, k=rng.randint(18, 40))) + f"{rng.randint(1, 99)}%。"


def article(i: int) -> dict[str, Any]:
    """Article `i` as `summarize run` stores it (assemble.py's shape)."""
    rng = random.Random(i)
    article_id = f"news/{i:06d}"
    layout = [("title", 0, 1)] + [("body", p, rng.randint(1, 4)) for p in range(rng.randint(4, 10))]
    layout.append(("summary", 0, rng.randint(1, 3)))
    segments: list[dict[str, Any]] = []
    for part, para, count in layout:
        for sent in range(count):
            segments.append({"part": part, "para": para, "sent": sent, "en": _en(rng),
                             "ko": _ko(rng), "zh-Hans": _zh(rng),
                             "origin": {"ko": "model", "zh-Hans": "model"}})
    qa: list[dict[str, Any]] = []
    for seg in segments:
        where = f"{seg['part']}/p{seg['para']}s{seg['sent']}"
        roll = rng.random()
        if roll < 0.03:
            seg["origin"]["ko"] = "human"
        elif roll < 0.06:
            qa.append({"segment": where, "language": "zh-Hans", "check": "number_mismatch",
                       "detail": "numbers differ: source has 12, target has 21"})
        elif roll < 0.07:
            qa.append({"segment": where, "language": "ko", "check": "wrong_script",
                       "detail": "Korean target is 40% Hangul"})

    def joined(lang: str, part: str) -> list[str]:
        sep = "" if lang == "zh-Hans" else " "
        paras: dict[int, list[str]] = {}
        for seg in segments:
            if seg["part"] == part:
                paras.setdefault(seg["para"], []).append(seg[lang])
        return [sep.join(paras[p]) for p in sorted(paras)]

    return {
        "id": article_id,
        "source": {"lang": "en", "title": joined("en", "title")[0],
                   "body": "\n\n".join(joined("en", "body")), "file": f"{article_id}.md",
                   "meta": {"date": f"2026-11-{1 + i % 28:02d}",
                            "url": f"https://news.example/{article_id}"}},
        "summary": {lang: " ".join(joined(lang, "summary")) for lang in ("en", *LANGS)},
        "translations": {lang: {"title": joined(lang, "title")[0],
                                "body": "\n\n".join(joined(lang, "body"))} for lang in LANGS},
        "segments": segments,
        "qa": qa,
        "input_sha256": f"{i:064x}",
        "config_hash": CONFIG_HASH,
        "summary_levels": 1,
    }


def make_run(out: Path, n: int, *, fsync: bool) -> tuple[Path, float]:
    """An output folder whose `latest` is a complete run of `n` generated articles (reused when
    an earlier call made the same one); returns it and the seconds spent generating."""
    stamp = {"generator": GENERATOR, "articles": n}
    marker = out / "generated.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return out, 0.0
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    od = OutputDir(out)
    started = utcnow()
    run = od.create_run(CONFIG_HASH, {"status": "running", "config_hash": CONFIG_HASH,
                                      "started_at": started})
    for i in range(n):
        doc = article(i)
        if fsync:
            run.write_article(doc)  # what a run does: temp file, fsync, rename
        else:  # same bytes and path, without one fsync per file
            path = run.article_path(doc["id"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_dump(doc))
    run.write_manifest({
        "run_id": run.run_id, "status": "complete", "config_hash": CONFIG_HASH,
        "config": {"languages": list(LANGS)}, "inputs": {"generated": n},
        "counts": {"articles_ok": n, "articles_failed": 0}, "started_at": started,
        "finished_at": utcnow(),
    })
    od.point_latest(run)
    marker.write_text(json.dumps(stamp))
    return out, time.perf_counter() - start


def _dump(doc: dict[str, Any]) -> bytes:
    from summarize.runs.store import dump_json

    return dump_json(doc)


# Spawns one command and reports its peak RSS. It runs in a bare interpreter of its own: a
# child's ru_maxrss also counts the pages it shared with its parent before exec (vfork/fork),
# so spawning straight from this process, which grows as it works, would inflate the figure.
_RUNNER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
print(json.dumps({"rc": proc.returncode, "seconds": time.perf_counter() - start,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stderr": proc.stderr.decode(errors="replace")[-4000:]}))
"""


def _measure(args: list[str]) -> tuple[float, float]:
    """Run `python -m summarize ARGS` in a fresh process: its peak RSS (MB) and seconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                      os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "summarize", *args]
    done = subprocess.run([sys.executable, "-c", _RUNNER, *cmd], env=env, cwd=REPO,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"failed ({result['rc']}): {' '.join(cmd)}\n{result['stderr']}")
    return round(result["maxrss_kb"] / 1024, 1), round(result["seconds"], 2)


def _size(folder: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def measure_export(out: Path, fmt: str, to: Path) -> dict[str, Any]:
    """`summarize export` of OUT's latest run: peak RSS, seconds and output size."""
    shutil.rmtree(to, ignore_errors=True)
    peak, seconds = _measure(["export", str(out), "--format", fmt, "--to", str(to)])
    return {"format": fmt, "peak_rss_mb": peak, "seconds": seconds,
            "output_mb": round(_size(to) / 1e6, 1)}


def measure_import(out: Path, xlf: Path) -> dict[str, Any]:
    """`summarize import --dry-run` of an exported, unedited XLIFF file back into OUT."""
    peak, seconds = _measure(["import", str(xlf), "--out", str(out), "--dry-run"])
    return {"format": "import", "peak_rss_mb": peak, "seconds": seconds,
            "output_mb": round(xlf.stat().st_size / 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 20000],
                        help="numbers of articles (default: 500 2000 20000)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--out", type=Path, default=HERE / "out" / "export_scale")
    parser.add_argument("--limit-mb", type=float, default=300.0,
                        help="XLIFF peak RSS must stay below this (default 300)")
    parser.add_argument("--max-ratio", type=float, default=1.2,
                        help="peak at the largest size / peak at the smallest (default 1.2)")
    parser.add_argument("--no-import", action="store_true",
                        help="skip `summarize import --dry-run` of each exported ko.xlf")
    parser.add_argument("--fsync", action="store_true",
                        help="generate articles with the store's fsync per file, as a run does")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes))

    rows: list[dict[str, Any]] = []
    for n in sizes:
        out, gen_s = make_run(args.out / f"run-{n}", n, fsync=args.fsync)
        if gen_s:
            print(f"generated {n} articles in {gen_s:.1f} s", file=sys.stderr)
        for fmt in args.formats:
            row = {"articles": n, **measure_export(out, fmt, args.out / f"export-{fmt}-{n}")}
            rows.append(row)
            if fmt == "xliff" and not args.no_import:
                xlf = args.out / f"export-{fmt}-{n}" / "ko.xlf"
                rows.append({"articles": n, **measure_import(out, xlf)})
        for row in rows:
            if row["articles"] == n:
                print(f"{row['format']:8} {n:>7} articles  peak RSS {row['peak_rss_mb']:>7.1f} MB"
                      f"  {row['seconds']:>7.2f} s  file(s) {row['output_mb']:>7.1f} MB",
                      flush=True)

    failures = []
    for row in rows:
        if row["format"] == "xliff" and row["peak_rss_mb"] >= args.limit_mb:
            failures.append(f"xliff at {row['articles']} articles peaks at {row['peak_rss_mb']} MB "
                            f"(limit {args.limit_mb:g} MB)")
    ratios = {}
    for fmt in [*args.formats, *([] if args.no_import or "xliff" not in args.formats
                                 else ["import"])]:
        peaks = {r["articles"]: r["peak_rss_mb"] for r in rows if r["format"] == fmt}
        if len(peaks) > 1:
            ratios[fmt] = round(peaks[sizes[-1]] / peaks[sizes[0]], 3)
            print(f"{fmt:8} peak at {sizes[-1]} / peak at {sizes[0]} articles: {ratios[fmt]:.2f}x")
            if ratios[fmt] > args.max_ratio:
                failures.append(f"{fmt}: peak RSS at {sizes[-1]} articles is {ratios[fmt]:.2f}x "
                                f"that at {sizes[0]} (limit {args.max_ratio:g}x)")
    for line in failures:
        print(f"FAIL {line}", file=sys.stderr)
    print(json.dumps({"rows": rows, "ratios": ratios, "ok": not failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
