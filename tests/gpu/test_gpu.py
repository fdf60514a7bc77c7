"""On a CUDA machine: the demo, the settings matrix and a bench smoke run, on the GPU.

Skipped where torch sees no CUDA device (every CI run here); run with `make test-gpu` on a GPU
machine. These exercise what CPU tests cannot: bf16/fp16 weights loaded straight onto the card,
per-device memory statistics, CTranslate2's CUDA build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from summarize.cli import app
from tests.test_matrix import BACKENDS, CONFIGS, EXAMPLES, swapped

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _run(config: Path, out: Path, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["run", str(EXAMPLES), "--config", str(config), "--out",
                                      str(out), "-q", "--no-check", *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))


def test_demo_on_cuda(tiny_models, tmp_path):
    manifest = _run(tiny_models / "config.yaml", tmp_path, "--device", "cuda")
    native = torch.cuda.get_device_capability(0)[0] >= 8
    for model in manifest["models"]:
        assert model["device"] == "cuda:0"
        assert model["dtype"] == ("bfloat16" if native else "float16")
    stats = manifest["device_stats"]
    assert set(stats) >= {"load_models", "translate"} and "cuda:0" in stats["translate"]
    assert manifest["counts"]["articles_failed"] == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_matrix_on_cuda(tiny_models, tmp_path, monkeypatch, config, backend):
    if backend == "ctranslate2":
        ct2 = pytest.importorskip("ctranslate2")
        if ct2.get_cuda_device_count() == 0:
            pytest.skip("this ctranslate2 build has no CUDA")
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    data = swapped(config, tiny_models, backend)
    data["device"] = "cuda"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    manifest = _run(cfg, tmp_path / "out")
    assert all(s["error_splits"] == 0 for s in manifest["generation"].values())
    assert all(m["device"].startswith("cuda") for m in manifest["models"])


def test_bench_smoke_on_cuda(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench.py"), "--device", "cuda", "--sentences", "32",
         "--repeats", "1", "--memory-articles", "0", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1200, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_ray_engine_on_cuda_writes_what_local_writes(tiny_models, tmp_path):
    """One actor per model on the GPU (gpus_per_actor 1): the same articles as the local engine
    on the same card, the actors' device and precision in the manifest."""
    pytest.importorskip("ray")
    local = _run(tiny_models / "config.yaml", tmp_path / "local", "--device", "cuda")
    data = yaml.safe_load((tiny_models / "config.yaml").read_text(encoding="utf-8"))
    data.update(device="cuda", engine="ray", ray={"gpus_per_actor": 1, "actors": 1})
    cfg = tmp_path / "ray.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    remote = _run(cfg, tmp_path / "ray")
    assert remote["engine"]["gpus"] >= 1
    assert all(a["device"] == "cuda:0" for a in remote["engine"]["actors"])
    assert [m["dtype"] for m in remote["models"]] == [m["dtype"] for m in local["models"]]
    a = tmp_path / "local" / "latest" / "articles"
    b = tmp_path / "ray" / "latest" / "articles"
    files = sorted(p.relative_to(a) for p in a.rglob("*.json"))
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*.json"))
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
