"""Device strings, dtype resolution, OOM classification and device statistics (CPU-runnable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from summarize.backends import devices
from summarize.backends.base import OutOfMemory
from summarize.backends.hf import HFBackend
from summarize.backends.hf_load import device_placement
from summarize.config import GenerationSettings, ModelSpec, load_config
from summarize.errors import ConfigError
from summarize.pipeline.runner import RunOptions, run_batch
from tests.fakes import FakeLoader

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"


@pytest.mark.parametrize("bad", ["cuda:abc", "cuda:", "gpu0", "cuda:-1", "CUDA", "cuda:0 "])
def test_bad_device_strings_are_config_errors(bad):
    with pytest.raises(ConfigError, match="is not auto, cpu, cuda, cuda:N or mps"):
        load_config(Path(__file__).resolve().parents[1] / "configs" / "default.yaml", {"device": bad})


@pytest.mark.parametrize(
    ("device", "count", "expected"),
    [("auto", 0, "cpu"), ("auto", 2, "cuda:0"), ("cuda", 1, "cuda:0"), ("cuda:1", 2, "cuda:1"),
     ("cpu", 4, "cpu")],
)
def test_device_picking(device, count, expected):
    assert str(devices.pick_device(device, count)) == expected


@pytest.mark.parametrize(("device", "count", "message"), [
    ("cuda:2", 2, "has 2 CUDA device.*cuda:0 to cuda:1"),
    ("cuda", 0, "CUDA is not available"),
    ("mps", 0, "MPS is not available"),
])
def test_unusable_devices_fail_before_loading(device, count, message):
    with pytest.raises(ConfigError, match=message):
        devices.pick_device(device, count)


@pytest.mark.parametrize(
    ("setting", "kind", "native", "expected"),
    [
        ("auto", "cpu", False, "float32"),
        ("auto", "cuda", True, "bfloat16"),   # A100, H100, L4: bf16 in hardware
        ("auto", "cuda", False, "float16"),   # V100, T4: bf16 only emulated, slow
        ("bfloat16", "cuda", False, "bfloat16"),  # an explicit choice is kept
        ("float32", "cuda", True, "float32"),
    ],
)
def test_dtype_table(setting, kind, native, expected):
    assert devices.resolve_dtype(setting, kind, native) == expected


def test_bf16_native_asks_the_configured_card(monkeypatch):
    asked: list[int] = []
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda index: asked.append(index) or ((7, 0) if index == 1 else (9, 0)))
    assert devices.cuda_bf16_native(0) is True
    assert devices.cuda_bf16_native(1) is False  # a V100 as cuda:1 next to an H100
    assert asked == [0, 1]


def test_cuda_weights_load_straight_onto_the_card():
    assert device_placement(torch.device("cuda:1")) == {"device_map": "cuda:1"}
    assert device_placement(torch.device("cpu")) == {}


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
        RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"),
    ],
)
@pytest.mark.parametrize("method", ["generate_batch", "generate_multi"])
def test_every_device_allocation_failure_becomes_out_of_memory(tiny_models, monkeypatch, error, method):
    be = HFBackend.load(ModelSpec(model=str(tiny_models / "nllb")), device="cpu")

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(be.model, "generate", boom)
    settings = GenerationSettings(num_beams=2, max_new_tokens=4)
    with pytest.raises(OutOfMemory, match="out of device memory"):
        if method == "generate_batch":
            be.generate_batch(["One.", "Two."], "ko", settings)
        else:
            be.generate_multi(["One.", "Two."], ["ko", "zh-Hans"], settings)


def test_other_runtime_errors_are_not_out_of_memory(tiny_models, monkeypatch):
    be = HFBackend.load(ModelSpec(model=str(tiny_models / "nllb")), device="cpu")
    monkeypatch.setattr(be.model, "generate", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("CUDA error: device-side assert triggered")))
    with pytest.raises(RuntimeError, match="device-side assert"):
        be.generate_batch(["One."], "ko", GenerationSettings(num_beams=1, max_new_tokens=4))


class StatsLoader(FakeLoader):
    """Fake backends that report device statistics the way a CUDA backend does."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __call__(self, spec, device="auto", dtype="auto"):
        be = super().__call__(spec, device, dtype)
        if not hasattr(be, "device_stats"):
            info = be.info

            def on_card() -> dict[str, Any]:
                return {**info(), "device": "cuda:0"}

            def device_stats() -> dict[str, Any]:
                self.reads.append(spec.model)
                return {"max_allocated_mb": 1.0}

            be.info = on_card
            be.device_stats = device_stats
        return be


def test_device_stats_are_read_once_per_device_not_per_model(tmp_path):
    loader = StatsLoader()
    cfg = load_config(None, {"summarizer.model": "fake/sum", "translators.ko.model": "fake/a",
                             "translators.zh-Hans.model": "fake/b", "model_check": False})
    result = run_batch(RunOptions(input=EXAMPLES / "briefs.jsonl", out=tmp_path, config=cfg), loader=loader)
    stages = result.manifest["device_stats"]
    assert set(stages) == {"load_models", "summarize", "translate"}
    for stage in stages.values():
        assert list(stage) == ["cuda:0"]
        assert sorted(stage["cuda:0"]["models"]) == ["fake/a", "fake/b", "fake/sum"]
    assert len(loader.reads) == 3  # one reading (and reset) per stage, three models sharing a card
