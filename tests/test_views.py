"""Tokenizer-only model views (``load_backend(..., weights=False)``): what the driver of a
distributed run holds. They must count tokens, report limits and ``info()`` (so fingerprints)
exactly as the loaded model does, for every family and backend, without reading the weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from summarize.backends import load_backend
from summarize.config import ModelSpec
from summarize.errors import ModelLoadError
from summarize.models.load import Models, identity

CASES = [
    ("summarizer", "plain", "transformers"),
    ("nllb", "auto", "transformers"),
    ("marian", "auto", "transformers"),
    ("m2m100", "auto", "transformers"),
    ("mbart50", "auto", "transformers"),
    ("chat-qwen2", "chat", "transformers"),
    ("chat-gemma2", "chat", "transformers"),
    ("nllb", "auto", "ctranslate2"),
    ("marian", "auto", "ctranslate2"),
    ("m2m100", "auto", "ctranslate2"),
    ("chat-qwen3", "chat", "ctranslate2"),
    ("chat-gemma3", "chat", "transformers"),
    ("chat-gemma3", "chat", "ctranslate2"),
    ("marian", "auto", "auto"),  # ctranslate2 here when installed
    ("chat-qwen2", "chat", "auto"),  # transformers on a CPU
]
TEXTS = ["Officials said on Monday that 3 bridges were closed.", "Dr. Lee agreed.", ""]


def _spec(tiny: Path, name: str, family: str, backend: str) -> ModelSpec:
    return ModelSpec(model=str(tiny / name), family=family, backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "family", "backend"), CASES)
def test_view_reports_what_the_loaded_model_reports(tiny_models, name, family, backend):
    spec = _spec(tiny_models, name, family, backend)
    loaded = load_backend(spec, device="cpu")
    view = load_backend(spec, device="cpu", weights=False)
    assert view.info() == loaded.info()
    assert identity(view.info()) == identity(loaded.info())
    assert view.max_input_tokens() == loaded.max_input_tokens()
    for lang in (None, "ko", "zh-Hans"):
        assert view.count_tokens(TEXTS, lang) == loaded.count_tokens(TEXTS, lang), lang


@pytest.mark.parametrize(("name", "family", "backend"), CASES[:7])
def test_view_reads_no_weights(tiny_models, tmp_path, name, family, backend):
    """With the weight file gone the view still loads; the model itself cannot."""
    folder = tmp_path / name
    shutil.copytree(tiny_models / name, folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    spec = ModelSpec(model=str(folder), family=family, backend=backend)  # type: ignore[arg-type]
    view = load_backend(spec, device="cpu", weights=False)
    assert view.count_tokens(["Hello world."], "ko")[0] > 0
    with pytest.raises(ModelLoadError):
        load_backend(spec, device="cpu")


def test_ct2_view_converts_nothing(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    spec = _spec(tiny_models, "marian", "auto", "ctranslate2")
    view = load_backend(spec, device="cpu", weights=False)
    assert view.count_tokens(["Hello world."], "zh-Hans")[0] > 0
    assert not (tmp_path / "cache").exists(), "the view converted the model"


def test_models_without_weights_fingerprint_from_where_they_run(tiny_models):
    """A driver's Models: views for counting, identity from ``info_of`` (the workers' answer),
    so a worker's precision is in the fingerprint even when the driver has another device."""
    from summarize.config import load_config

    cfg = load_config(tiny_models / "config.yaml")
    calls = []

    def loader(spec, *, device="auto", dtype="auto", weights=True):
        calls.append(weights)
        return load_backend(spec, device=device, dtype=dtype, weights=weights)

    def on_worker(spec):
        return {**load_backend(spec, device="cpu", weights=False).info(), "dtype": "bfloat16"}

    local = Models(cfg, load_backend)
    remote = Models(cfg, loader, weights=False, info_of=on_worker)
    spec = cfg.translators["ko"]
    assert remote.get(spec).count_tokens(TEXTS, "ko") == local.get(spec).count_tokens(TEXTS, "ko")
    assert remote.identity(spec)["dtype"] == "bfloat16"
    assert remote.fingerprint(spec) != local.fingerprint(spec)
    assert calls and not any(calls)
    entry = next(e for e in remote.entries() if e["target_lang"] == "ko")
    assert entry["dtype"] == "bfloat16"


def test_driver_views_follow_the_engine_the_workers_resolved(tiny_models):
    """backend auto under a remote engine: the driver's view is built for the engine the
    workers chose (transformers on their GPU), not the one the driver's CPU would pick."""
    from summarize.config import load_config

    cfg = load_config(tiny_models / "config.yaml",
                      {"translators.zh-Hans.backend": "auto"})
    asked = []

    def loader(spec, *, device="auto", dtype="auto", weights=True):
        asked.append(spec.backend)
        return load_backend(spec, device=device, dtype=dtype, weights=weights)

    def on_worker(spec):
        spec = spec.model_copy(update={"backend": "transformers"})
        return load_backend(spec, device="cpu", weights=False).info()

    remote = Models(cfg, loader, weights=False, info_of=on_worker)
    view = remote.get(cfg.translators["zh-Hans"])
    assert asked == ["transformers"] and view.info()["backend"] == "transformers"
    assert remote.identity(cfg.translators["zh-Hans"])["backend"] == "transformers"
    entry = next(e for e in remote.entries() if e["target_lang"] == "zh-Hans")
    assert (entry["backend_setting"], entry["backend"]) == ("auto", "transformers")
