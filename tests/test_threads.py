"""``threads``: every backend computes with the process's thread count (config, else
OMP_NUM_THREADS, else one per core), and the count never changes outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from summarize.backends import ct2_setup, load_backend, threads, vllm_chat
from summarize.config import Config, GenerationSettings, ModelSpec
from summarize.models.load import Models, identity

GREEDY = GenerationSettings(num_beams=1, max_new_tokens=16, max_new_tokens_ratio=None)
TEXTS = ["Officials said on Monday that 3 bridges were closed.", "Dr. Lee agreed."]


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch: pytest.MonkeyPatch) -> Any:
    """torch's pool and the configured count are process-wide: put both back."""
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    threads.configure(None)
    yield
    threads.configure(None)
    torch.set_num_threads(before)


def _config(tiny: Path, backend: str, **extra: Any) -> Config:
    spec = {"model": str(tiny / "marian"), "backend": backend}
    return Config.model_validate({"languages": ["zh-Hans"], "device": "cpu",
                                  "summarizer": {"model": str(tiny / "summarizer"),
                                                 "family": "plain", "backend": backend},
                                  "translators": {"zh-Hans": spec}, "model_check": False,
                                  **extra})


def test_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert threads.resolved() == threads.cores() and threads.explicit() is None
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.resolved() == 3 == threads.explicit()
    threads.configure(5)
    assert threads.resolved() == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "2,1")  # an OpenMP nested list: not a count
    threads.configure(None)
    assert threads.explicit() is None


@pytest.mark.parametrize("source", ["config", "env"])
def test_transformers_sets_torch_threads(tiny_models: Path, monkeypatch: pytest.MonkeyPatch,
                                         source: str) -> None:
    """Loading through the run's Models sets torch's (process-wide) pool; both models of the
    run share it, and info() reports it."""
    want = 1 if torch.get_num_threads() != 1 else 2
    torch.set_num_threads(want + 1)
    if source == "env":
        monkeypatch.setenv("OMP_NUM_THREADS", str(want))
        cfg = _config(tiny_models, "transformers")
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", str(want + 2))  # the config wins
        cfg = _config(tiny_models, "transformers", threads=want)
    models = Models(cfg, load_backend)
    summarizer = models.get(cfg.summarizer)
    assert torch.get_num_threads() == want
    translator = models.get(cfg.translators["zh-Hans"])
    assert torch.get_num_threads() == want
    assert summarizer.info()["threads"] == translator.info()["threads"] == want  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", ["config", "env", "spec"])
def test_ctranslate2_intra_threads(tiny_models: Path, monkeypatch: pytest.MonkeyPatch,
                                   source: str) -> None:
    """Each Translator gets the count as intra_threads; ``ct2.intra_threads`` overrides it."""
    pytest.importorskip("ctranslate2")
    import ctranslate2

    seen: list[dict[str, Any]] = []
    real = ctranslate2.Translator

    def spy(path: str, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(ctranslate2, "Translator", spy)
    cfg = _config(tiny_models, "ctranslate2", threads=3)
    if source == "env":
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        cfg = _config(tiny_models, "ctranslate2")
    spec = cfg.translators["zh-Hans"]
    if source == "spec":
        spec = spec.model_copy(update={"ct2": spec.ct2.model_copy(update={"intra_threads": 4})})
    backend = Models(cfg, load_backend).get(spec)
    want = 4 if source == "spec" else 3
    assert seen[-1]["intra_threads"] == want and backend.info()["threads"] == want  # type: ignore[attr-defined]


def test_vllm_binds_the_configured_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM's CPU worker reads VLLM_CPU_OMP_THREADS_BIND when it starts: set from the count
    only while the engine starts, and only when the count is explicit."""
    spec = ModelSpec(model="x", family="chat", backend="vllm")
    assert vllm_chat.cpu_threads(spec, "cpu") == "auto"
    assert vllm_chat.cpu_threads(spec, "cuda") is None
    threads.configure(1)
    assert vllm_chat.cpu_threads(spec, "cpu") == 1
    with vllm_chat._thread_binding(spec, "cpu"):
        import os

        bound = os.environ["VLLM_CPU_OMP_THREADS_BIND"]
        assert bound == threads.cpu_list(1) and "," not in bound
    assert "VLLM_CPU_OMP_THREADS_BIND" not in os.environ
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0-1")  # the user's own binding wins
    assert vllm_chat.cpu_threads(spec, "cpu") is None


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_threads_change_neither_outputs_nor_identity(tiny_models: Path, backend: str) -> None:
    if backend == "ctranslate2":
        pytest.importorskip("ctranslate2")
    spec = ModelSpec(model=str(tiny_models / "nllb"), backend=backend)  # type: ignore[arg-type]
    outputs, idents = [], []
    for n in (1, 2):
        threads.configure(n)
        model = load_backend(spec, device="cpu")
        outputs.append([model.generate_batch(TEXTS, lang, GREEDY) for lang in ("ko", "zh-Hans")])
        idents.append(identity(model.info(), spec))
        assert model.info()["threads"] == n  # type: ignore[attr-defined]
    assert outputs[0] == outputs[1] and idents[0] == idents[1]
    assert _config(tiny_models, backend, threads=1).hash() == _config(tiny_models, backend).hash()


def test_ct2_runtime_follows_the_process_count() -> None:
    spec = ModelSpec(model="x", backend="ctranslate2")
    threads.configure(2)
    assert ct2_setup.intra_threads(spec) == 2
