"""Tiny offline models: random weights, real architecture classes, real tokenizers.

``build_tiny_models(out)`` writes one folder per model with ``save_pretrained``, so tests and
the demo load them through the same ``from_pretrained`` code as real hub models, plus ready
configs (``config.yaml``, ``config-m2m100.yaml``, ``config-mbart50.yaml``, ``config-chat.yaml``).
Modules: corpus (training text, tokenizer helpers), seq2seq and chat (the builders).
Nothing here is imported by a run: only tests, the demo and the benchmarks build models.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from summarize.tiny.seq2seq import (
    build_bart,
    build_m2m100,
    build_marian,
    build_mbart50,
    build_nllb,
)

# Folder name -> family the backend must detect for it.
TINY_MODELS: dict[str, str] = {
    "summarizer": "plain",
    "marian": "marian",
    "nllb": "nllb",
    "m2m100": "m2m100",
    "mbart50": "mbart50",
}
TINY_FAMILIES: tuple[str, ...] = ("marian", "nllb", "m2m100", "mbart50")



def build_tiny_models(out_dir: Path, *, seed: int = 0) -> Path:
    """Build all tiny models and their configs under ``out_dir``; returns ``out_dir``."""
    import torch
    from transformers.utils import logging as hf_logging

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    builders: dict[str, Callable[[Path], None]] = {
        "summarizer": build_bart,
        "marian": build_marian,
        "nllb": build_nllb,
        "m2m100": build_m2m100,
        "mbart50": build_mbart50,
    }
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        for offset, (name, build) in enumerate(builders.items()):
            target = out_dir / name
            if target.exists():
                shutil.rmtree(target)
            with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
                # MarianTokenizer recommends sacremoses; the tiny models do not need it.
                warnings.filterwarnings("ignore", message=".*sacremoses")
                torch.manual_seed(seed + offset)
                build(target)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    from summarize.tiny.chat import build_tiny_chat_models

    build_tiny_chat_models(out_dir, seed=seed + len(builders))
    write_tiny_configs(out_dir)
    return out_dir


# ---------------------------------------------------------------- configs


def _generation(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "num_beams": 1,
        # Random weights run to their budget: 16 new tokens for most sentences (a budget is
        # rounded up to 16), and room for sources up to 176 tokens before they are split.
        "max_new_tokens": 48,
        "max_new_tokens_ratio": 0.25,
        "max_new_tokens_extra": 4,
        "min_new_tokens": 3,
        "no_repeat_ngram_size": 2,
        "repetition_penalty": 1.3,
    }
    return {**base, **overrides}


def _summarizer_spec(out_dir: Path) -> dict[str, Any]:
    return {
        "model": str(out_dir / "summarizer"),
        "family": "plain",
        "generation": _generation(
            num_beams=2,
            max_new_tokens=24,
            max_new_tokens_ratio=None,
            min_new_tokens=8,
            length_penalty=1.0,
            no_repeat_ngram_size=3,
            repetition_penalty=1.0,
        ),
    }


def _translator_spec(out_dir: Path, name: str) -> dict[str, Any]:
    return {"model": str(out_dir / name), "generation": _generation()}


def tiny_config(out_dir: Path, translators: dict[str, str]) -> dict[str, Any]:
    """A config (as a dict) running the pipeline on the tiny models in ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    return {
        "languages": list(translators),
        "summarizer": _summarizer_spec(out_dir),
        "translators": {
            lang: _translator_spec(out_dir, name) for lang, name in translators.items()
        },
        "batch": {"max_batch_tokens": 2048, "max_batch_size": 16, "window_articles": 16},
        # Random weights fail the model check by design (tests/test_modelcheck.py proves it).
        "model_check": False,
    }


TINY_CONFIGS: dict[str, dict[str, str]] = {
    "config.yaml": {"ko": "nllb", "zh-Hans": "marian"},
    "config-m2m100.yaml": {"ko": "m2m100", "zh-Hans": "m2m100"},
    "config-mbart50.yaml": {"ko": "mbart50", "zh-Hans": "mbart50"},
}


def write_tiny_configs(out_dir: Path) -> None:
    """Write the tiny configs next to the model folders (absolute model paths)."""
    header = ("# Tiny offline models (random weights) built by summarize.tiny.seq2seq.\n"
              "# Their output is meaningless, so the model check is off (model_check: false).\n")
    for filename, translators in TINY_CONFIGS.items():
        data = tiny_config(out_dir, translators)
        text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        (Path(out_dir) / filename).write_text(text, encoding="utf-8")
    from summarize.tiny.chat import chat_config

    text = header + yaml.safe_dump(chat_config(out_dir), sort_keys=False, allow_unicode=True)
    (Path(out_dir) / "config-chat.yaml").write_text(text, encoding="utf-8")
