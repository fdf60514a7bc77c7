"""Output is a function of the input alone: byte-identical articles whatever the window, the
batch budget, the backend's batch split or a sentence's neighbours.

The matrix runs the real tiny models (random weights: they rarely emit an end token, so most
outputs run to their new-token budget, which is exactly where a batch-wide budget used to leak
one row's length into another's output): window_articles {1, 7, 128} x max_batch_tokens
{small, default} per case, and cases backend {transformers, ctranslate2} x {greedy, beam 4} x
{one model per language, one multilingual model}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from summarize.config import Config
from summarize.pipeline.runner import RunOptions, run_batch

SHAPES = [(window, tokens) for window in (1, 7, 128) for tokens in (96, 6000)]
LAYOUTS = {
    "per-language": {"ko": "nllb", "zh-Hans": "marian"},
    "multilingual": {"ko": "m2m100", "zh-Hans": "m2m100"},
}
SENTENCES = [
    "Prices rose.",
    "The council met on Monday to discuss the new budget for schools and roads.",
    "Officials said the plan would take effect next year, after a public hearing in the spring "
    "and a final vote by the full council in the summer.",
    "Rain is expected.",
    "The hospital opened two new cooling centres for older residents during the heat wave.",
    "Traffic was slow.",
    "Researchers at the university published a study on air quality near the main highway, "
    "finding levels above the national limit on most weekdays.",
]


def write_input(path: Path, n: int = 6) -> Path:
    """n articles whose paragraphs mix short and long sentences, so every batch shape packs
    different neighbours together."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            paras = [" ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(j + 1))
                     for j in range(1 + i % 2)]
            fh.write(json.dumps({"id": f"a{i}", "title": SENTENCES[(i * 3) % len(SENTENCES)],
                                 "body": "\n\n".join(paras)}) + "\n")
    return path


def config(tiny: Path, backend: str, beams: int, layout: str, window: int, tokens: int) -> Config:
    def gen(ratio: float | None, max_new: int) -> dict[str, Any]:
        return {"num_beams": beams, "max_new_tokens": max_new, "max_new_tokens_ratio": ratio,
                "max_new_tokens_extra": 2, "min_new_tokens": 0, "length_penalty": 1.0,
                "no_repeat_ngram_size": 0, "repetition_penalty": 1.0}

    return Config.model_validate({
        "device": "cpu",
        "model_check": False,
        "summarizer": {"model": str(tiny / "summarizer"), "family": "plain", "backend": backend,
                       "generation": gen(None, 6)},
        "translators": {lang: {"model": str(tiny / family), "backend": backend,
                               "generation": gen(1.0, 24)}
                        for lang, family in LAYOUTS[layout].items()},
        "batch": {"window_articles": window, "max_batch_tokens": tokens, "max_batch_size": 64},
    })


class SharedModels:
    """Loads each model once for the whole matrix (the runs differ only in batching)."""

    def __init__(self) -> None:
        self.loaded: dict[Any, Any] = {}

    def __call__(self, spec: Any, device: str = "auto", dtype: str = "auto", **kw: Any) -> Any:
        from summarize.backends import load_backend

        key = (spec.key(), device, dtype, tuple(sorted(kw.items())))
        if key not in self.loaded:
            self.loaded[key] = load_backend(spec, device=device, dtype=dtype, **kw)
        return self.loaded[key]


def article_bytes(run_path: Path) -> dict[str, bytes]:
    root = run_path / "articles"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.json"))}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("beams", [1, 4], ids=["greedy", "beam4"])
@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_batch_shape_never_changes_articles(tiny_models, tmp_path, monkeypatch, backend, beams,
                                            layout):
    if backend == "ctranslate2":
        pytest.importorskip("ctranslate2")
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    source = write_input(tmp_path / "in.jsonl")
    seen: dict[tuple[int, int], dict[str, bytes]] = {}
    batches: dict[tuple[int, int], int] = {}
    truncated = 0
    loader = SharedModels()
    for window, tokens in SHAPES:
        cfg = config(tiny_models, backend, beams, layout, window, tokens)
        # A fresh output folder each time: nothing comes from the memory.
        result = run_batch(RunOptions(input=source, out=tmp_path / f"out-{window}-{tokens}",
                                      config=cfg, check_models=False), loader=loader)
        assert result.manifest["counts"]["articles_ok"] == 6, result.manifest["counts"]
        seen[(window, tokens)] = article_bytes(result.run.path)
        batches[(window, tokens)] = sum(s["batches"] for s in result.manifest["generation"].values())
        truncated = result.manifest["counts"]["qa_flags"].get("truncated", 0)
    # The shapes really differ (else the test proves nothing) ...
    assert len(set(batches.values())) > 1, batches
    # ... random weights run into budgets, and those cut outputs are flagged ...
    assert truncated > 0
    # ... and every article is the same, byte for byte.
    first = seen[SHAPES[0]]
    assert len(first) == 6
    for shape, docs in seen.items():
        assert docs == first, f"articles differ between {SHAPES[0]} and {shape}"
