"""``backend: auto``: the resolution table, the resolved engine in the output identity, and a
run on it. Only the two probes are faked: what is installed, and how many CUDA cards torch sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from summarize.backends import auto, load_backend
from summarize.config import GenerationSettings, ModelSpec, load_config
from summarize.models.load import identity
from summarize.runs.memory import fingerprint

ROOT = Path(__file__).resolve().parents[1]


def _probes(monkeypatch: pytest.MonkeyPatch, *, gpus: int, installed: set[str]) -> None:
    monkeypatch.setattr(auto, "cuda_available", lambda: gpus)
    monkeypatch.setattr(auto, "installed", lambda name: name in installed)


def _spec(tiny: Path, name: str, family: str = "auto", **extra: Any) -> ModelSpec:
    return ModelSpec(model=str(tiny / name), family=family, backend="auto",  # type: ignore[arg-type]
                     **extra)


SEQ2SEQ = [("summarizer", "plain"), ("nllb", "auto"), ("marian", "auto"), ("m2m100", "auto"),
           ("mbart50", "auto")]


@pytest.mark.parametrize(("device", "gpus", "installed", "seq2seq", "chat"), [
    # device auto follows torch's CUDA probe
    ("auto", 0, {"ctranslate2", "vllm-cuda"}, "ctranslate2", "transformers"),
    ("auto", 0, set(), "transformers", "transformers"),
    ("auto", 1, {"ctranslate2", "vllm-cuda"}, "transformers", "vllm"),
    ("auto", 1, {"ctranslate2"}, "transformers", "transformers"),
    ("cpu", 1, {"ctranslate2", "vllm-cuda"}, "ctranslate2", "transformers"),
    ("cpu", 0, {"vllm-cuda"}, "transformers", "transformers"),
    ("cuda", 1, {"ctranslate2", "vllm-cuda"}, "transformers", "vllm"),
    ("cuda:1", 2, {"vllm-cuda"}, "transformers", "transformers"),  # vLLM takes the first card
    ("mps", 0, {"ctranslate2", "vllm-cuda"}, "transformers", "transformers"),
])
def test_resolution_table(tiny_models: Path, monkeypatch: pytest.MonkeyPatch, device: str,
                          gpus: int, installed: set[str], seq2seq: str, chat: str) -> None:
    _probes(monkeypatch, gpus=gpus, installed=installed)
    for name, family in SEQ2SEQ:
        assert auto.resolve(_spec(tiny_models, name, family), device) == seq2seq, name
    greedy = GenerationSettings(num_beams=1)
    assert auto.resolve(_spec(tiny_models, "chat-qwen2", "chat", generation=greedy),
                        device) == chat


def test_explicit_backends_are_kept(tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _probes(monkeypatch, gpus=0, installed={"ctranslate2"})
    for backend in ("transformers", "ctranslate2", "vllm"):
        spec = ModelSpec(model=str(tiny_models / "marian"), backend=backend)  # type: ignore[arg-type]
        assert auto.resolve(spec, "cpu") == backend


def test_not_convertible_or_not_honoured_falls_back(tiny_models: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A seq2seq architecture the converter is not tested on, an unreadable config, and chat
    settings vLLM refuses (beam search) all resolve to transformers."""
    _probes(monkeypatch, gpus=1, installed={"ctranslate2", "vllm-cuda"})
    other = tmp_path / "t5"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "t5"}))
    assert auto.resolve(ModelSpec(model=str(other), backend="auto"), "cpu") == "transformers"
    missing = ModelSpec(model=str(tmp_path / "nothing-here"), backend="auto")
    assert auto.resolve(missing, "cpu") == "transformers"
    beams = _spec(tiny_models, "chat-qwen2", "chat", generation=GenerationSettings(num_beams=4))
    assert auto.resolve(beams, "cuda") == "transformers"


def test_resolved_backend_is_in_the_identity(tiny_models: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The same auto spec resolved to two engines has two identities (a rerun where ctranslate2
    appeared or disappeared recomputes); the view reports the engine the load gives."""
    spec = _spec(tiny_models, "marian")
    got = {}
    for installed in ({"ctranslate2"}, set()):
        _probes(monkeypatch, gpus=0, installed=installed)
        view = load_backend(spec, device="cpu", weights=False)
        got[bool(installed)] = identity(view.info(), spec)
    assert got[True]["backend"] == "ctranslate2" and got[False]["backend"] == "transformers"
    assert fingerprint(got[True]) != fingerprint(got[False])
    _probes(monkeypatch, gpus=0, installed={"ctranslate2"})
    loaded = load_backend(spec, device="cpu")
    assert identity(loaded.info(), spec) == got[True]
    assert loaded.spec.backend == "ctranslate2"  # type: ignore[attr-defined]


def test_shipped_profiles_choose_the_engine(tiny_models: Path) -> None:
    """default.yaml (what `make run` uses) leaves the engine to auto; cpu-fast stays explicit."""
    for name in ("default", "m2m100", "nllb", "gpu", "quality-gpu"):
        cfg = load_config(ROOT / "configs" / f"{name}.yaml")
        specs = [cfg.summarizer, *cfg.translators.values()]
        assert {s.backend for s in specs} == {"auto"}, name


@pytest.mark.slow
def test_run_on_auto_uses_ctranslate2_on_a_cpu(tiny_models: Path, tmp_path: Path) -> None:
    """summarize run with backend auto on a CPU where ctranslate2 is installed: every model runs
    on CTranslate2, the manifest says so (and that auto chose it), so does the closing line;
    --threads reaches every model."""
    pytest.importorskip("ctranslate2")
    from summarize.cli import app

    data = yaml.safe_load((tiny_models / "config.yaml").read_text())
    for spec in [data["summarizer"], *data["translators"].values()]:
        spec["backend"] = "auto"
    data["device"] = "cpu"
    cfg = tmp_path / "auto.yaml"
    cfg.write_text(yaml.safe_dump(data))
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("River closes\n\nOfficials said 3 bridges were closed. Dr. Lee "
                               "agreed.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(inp), "--config", str(cfg), "--out",
                                      str(tmp_path / "out"), "--threads", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "latest" / "manifest.json").read_text())
    assert {m["backend"] for m in manifest["models"]} == {"ctranslate2"}
    assert {m["backend_setting"] for m in manifest["models"]} == {"auto"}
    idents = manifest["output_identity"]["models"].values()
    assert {i["backend"] for i in idents} == {"ctranslate2"}
    assert "summary ctranslate2 (auto) on cpu" in result.output
    assert "ko ctranslate2 (auto)" in result.output and "zh-Hans ctranslate2 (auto)" in result.output
    assert {m["threads"] for m in manifest["models"]} == {1} and "; threads 1" in result.output
