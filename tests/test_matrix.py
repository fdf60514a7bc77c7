"""The settings matrix: every shipped profile, on both backends, end to end.

For each file in configs/, each model id is swapped for the tiny model of the same family and
everything else (beams, lengths, penalties, batching, language codes) is kept, then
`summarize run` runs the examples. A new config is picked up without touching this file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from summarize.cli import app

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
EXAMPLES = REPO / "examples" / "articles"
# An article longer than the tiny summariser's window (map-reduce), front matter, CSV records: the
# shipped settings (beam 4, 56-142 token summaries) make every article cost, so a subset.
SUBSET = ["health/cooling-clinics.md", "local/council-briefs.csv"]
BACKENDS = ["transformers", "ctranslate2"]
# How a hub id names its family, for specs that leave `family: auto`.
ID_FAMILIES = {"opus-mt": "marian", "nllb": "nllb", "m2m100": "m2m100", "mbart": "mbart50"}
# How a hub id of a `family: chat` spec names its architecture: the tiny chat model of that class
# (summarize/tiny/chat.py), in the same folder as the other tiny models.
CHAT_IDS = {"gemma-3": "chat-gemma3", "gemma-2": "chat-gemma2", "qwen3": "chat-qwen3",
            "qwen2": "chat-qwen2", "llama": "chat-llama"}


def tiny_chat(spec: dict[str, Any]) -> str:
    model = str(spec["model"]).lower()
    for marker, name in CHAT_IDS.items():
        if marker in model:
            return name
    raise AssertionError(f"no tiny chat model for {spec['model']}: add it to CHAT_IDS")


def tiny_family(spec: dict[str, Any]) -> str:
    family = spec.get("family", "auto")
    if family == "chat":
        return tiny_chat(spec)
    if family not in ("auto", None, "plain"):
        return str(family)
    model = str(spec["model"]).lower()
    for marker, name in ID_FAMILIES.items():
        if marker in model:
            return name
    raise AssertionError(f"no tiny model for {spec['model']}: add its family to ID_FAMILIES")


def swapped(config: Path, tiny: Path, backend: str) -> dict[str, Any]:
    """The config with tiny models of the same families, and ``backend`` for every model."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    if data["summarizer"].get("family") == "chat":
        data["summarizer"]["model"] = str(tiny / tiny_chat(data["summarizer"]))
    else:
        data["summarizer"]["model"] = str(tiny / "summarizer")
        data["summarizer"]["family"] = "plain"
    specs = [data["summarizer"]]
    for lang, spec in data["translators"].items():
        spec = dict(spec)  # YAML anchors share one dict between languages
        spec["model"] = str(tiny / tiny_family(spec))
        data["translators"][lang] = spec
        specs.append(spec)
    for spec in specs:
        spec.pop("revision", None)
        spec["backend"] = backend
    data["device"] = "cpu"
    return data


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_shipped_profile_runs_clean(tiny_models, tmp_path, monkeypatch, config, backend):
    if backend == "ctranslate2":
        pytest.importorskip("ctranslate2")
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    data = swapped(config, tiny_models, backend)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    out, inp = tmp_path / "out", tmp_path / "in"
    for name in SUBSET:
        (inp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / name, inp / name)
    result = CliRunner().invoke(
        app, ["run", str(inp), "--config", str(cfg), "--out", str(out), "--no-check", "-q"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    assert manifest["status"] == "complete"
    assert counts["articles_failed"] == 0 and counts["bad_records"] == 0
    assert counts["articles_ok"] == len(list((out / "latest" / "articles").rglob("*.json"))) > 0
    gen = manifest["generation"]
    assert gen and all(s["error_splits"] == 0 and s["oom_splits"] == 0 for s in gen.values()), gen
    assert all(m["backend"] == backend for m in manifest["models"])
    levels = [json.loads(p.read_text(encoding="utf-8"))["summary_levels"]
              for p in (out / "latest" / "articles").rglob("*.json")]
    assert max(levels) > 1  # the long article went through map-reduce with the shipped settings
    # the profile's own settings reached the run unchanged
    assert manifest["config"]["summarizer"]["generation"]["num_beams"] == \
        data["summarizer"]["generation"].get("num_beams", 4)
    shipped = yaml.safe_load(config.read_text(encoding="utf-8"))["translators"]
    if len({s["model"] for s in shipped.values()}) == 1 and len(shipped) > 1:
        assert "translate:ko+zh-Hans" in gen  # one multilingual model: languages generated together


def test_matrix_covers_every_config():
    assert {c.name for c in CONFIGS} >= {"default.yaml", "cpu-fast.yaml", "m2m100.yaml", "nllb.yaml",
                                         "quality-gpu.yaml"}
