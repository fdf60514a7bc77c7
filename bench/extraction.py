"""HTML main-text extraction on the ScrapingHub article-extraction benchmark.

Scores three extractors on every page of the benchmark against its ground-truth articleBody:

  trafilatura  trafilatura.extract(html, include_comments=False), as the benchmark itself runs it
  old-reader   summarize's hand-written HTML reader as of OLD_COMMIT (loaded with `git show`)
  reader       summarize.read as it is now (read_inputs on a folder of the pages)

Scoring follows the benchmark's description (re-implemented here): texts are split into \\w+
tokens, each page's true and predicted texts become multisets of 4-token shingles (a text with
fewer than 4 tokens is one shorter shingle), and tp/fp/fn counted over them are divided by their
sum so that every page weighs the same. Mean precision is over the pages where the extractor
returned text, mean recall over the pages whose ground truth has text, F1 = 2PR/(P+R) of those
means. "lost" counts pages where the extractor returned nothing (or a bad record).

    .venv/bin/python bench/extraction.py [DATASET]

DATASET is the benchmark as a git directory (a bare mirror, read with `git cat-file`) or a
checkout; the default is the mirror under /work/.mirror. Results go to stdout and to
bench/out/extraction.json.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from summarize.read import read_inputs  # noqa: E402
from summarize.records import Article  # noqa: E402

DEFAULT_DATASET = Path("/work/.mirror/scrapinghub+article-extraction-benchmark/repo")
OLD_COMMIT = "7d8b873d83f257edbcac19d072fd7bc8b2b9750f"  # last commit with the hand-written reader
OUT = REPO / "bench" / "out" / "extraction.json"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")

Triple = tuple[float, float, float]


# ---------------------------------------------------------------- dataset


class Dataset:
    """Ground truth and gzipped pages, from a checkout or straight from a git directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_checkout = (path / "ground-truth.json").is_file()
        self.commit = self._git("rev-parse", "HEAD").strip() if self._has_git() else "unknown"
        self.truth: dict[str, str] = {
            key: value.get("articleBody") or ""
            for key, value in json.loads(self._read("ground-truth.json")).items()
        }

    def _has_git(self) -> bool:
        return (self.path / ".git").exists() or (self.path / "HEAD").is_file()

    def _git(self, *args: str) -> str:
        where = ["-C", str(self.path)] if self.is_checkout else [f"--git-dir={self.path}"]
        done = subprocess.run(["git", *where, *args], capture_output=True, check=True)
        return done.stdout.decode()

    def _read(self, rel: str) -> bytes:
        if self.is_checkout:
            return (self.path / rel).read_bytes()
        where = [f"--git-dir={self.path}"]
        done = subprocess.run(
            ["git", *where, "show", f"HEAD:{rel}"], capture_output=True, check=True
        )
        return done.stdout

    def pages(self) -> dict[str, bytes]:
        """Page bytes (un-gzipped) by ground-truth key."""
        return {key: gzip.decompress(self._read(f"html/{key}.html.gz")) for key in self.truth}


# ---------------------------------------------------------------- scoring


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)] if tokens else [])
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def page_counts(true: str, pred: str) -> Triple:
    """(tp, fp, fn) over shingles, normalised to sum to 1 (all zero when both texts are empty)."""
    t, p = _shingles(true), _shingles(pred)
    tp, fp, fn = sum((t & p).values()), sum((p - t).values()), sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _ratio(hit: float, miss: float, other: float) -> float:
    if miss == other == 0:
        return 1.0
    return hit / (hit + miss) if hit + miss else 0.0


def summarise(triples: list[Triple]) -> dict[str, float]:
    precision = statistics.mean(_ratio(tp, fp, fn) for tp, fp, fn in triples if tp + fp > 0)
    recall = statistics.mean(_ratio(tp, fn, fp) for tp, fp, fn in triples if tp + fn > 0)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
    }


# ---------------------------------------------------------------- extractors

Extractor = Callable[[dict[str, bytes], Path], dict[str, str]]


def plain_trafilatura(pages: dict[str, bytes], folder: Path) -> dict[str, str]:
    import trafilatura

    return {
        key: trafilatura.extract(data.decode("utf-8"), include_comments=False) or ""
        for key, data in pages.items()
    }


def _bodies(items: Any) -> dict[str, str]:
    return {
        Path(item.source).stem: item.body if isinstance(item, Article) else "" for item in items
    }


def old_reader(pages: dict[str, bytes], folder: Path) -> dict[str, str]:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:summarize/readers.py"],
        capture_output=True,
        check=True,
    ).stdout
    module_path = folder.parent / "old_readers.py"
    module_path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("old_readers", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return _bodies(module.iter_articles(folder))


def reader(pages: dict[str, bytes], folder: Path) -> dict[str, str]:
    return _bodies(read_inputs(folder).items)


EXTRACTORS: dict[str, Extractor] = {
    "trafilatura": plain_trafilatura,
    "old-reader": old_reader,
    "reader": reader,
}


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    args = parser.parse_args()
    if not args.dataset.exists():
        sys.exit(
            f"benchmark not found at {args.dataset} (fetch scrapinghub/article-extraction-benchmark)"
        )
    dataset = Dataset(args.dataset)
    pages = dataset.pages()
    results: dict[str, Any] = {
        "dataset": str(args.dataset),
        "dataset_commit": dataset.commit,
        "old_reader_commit": OLD_COMMIT,
        "pages": len(pages),
        "extractors": {},
    }
    print(f"{len(pages)} pages, dataset commit {dataset.commit}")
    print(f"{'extractor':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'lost':>5} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pages"
        folder.mkdir()
        for key, data in pages.items():
            (folder / f"{key}.html").write_bytes(data)
        for name, extract in EXTRACTORS.items():
            start = time.perf_counter()
            texts = extract(pages, folder)
            seconds = time.perf_counter() - start
            triples = [page_counts(dataset.truth[key], texts.get(key, "")) for key in pages]
            scores = summarise(triples)
            lost = sorted(key for key in pages if not texts.get(key))
            print(
                f"{name:<12} {scores['precision']:>9.4f} {scores['recall']:>7.4f}"
                f" {scores['f1']:>6.4f} {len(lost):>5} {seconds:>8.1f}"
            )
            results["extractors"][name] = {
                **scores,
                "lost": lost,
                "seconds": seconds,
                "per_page": dict(zip(pages, triples, strict=True)),
            }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))
    print(f"wrote {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
