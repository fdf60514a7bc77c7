"""Encode once, decode per language: same outputs as separate calls, for each multilingual family."""

import pytest

from summarize.backends.hf import HFBackend
from summarize.config import load_config

TEXTS = ["The council met on Monday to discuss the bridge.", "Dr. Lee said repairs would take weeks.",
         "Short one."]


@pytest.mark.parametrize("config_name", ["config.yaml", "config-m2m100.yaml", "config-mbart50.yaml"])
def test_generate_multi_matches_separate_calls(tiny_models, config_name, monkeypatch):
    spec = load_config(tiny_models / config_name).translators["ko"]
    be = HFBackend.load(spec, device="cpu")
    assert be.family in ("nllb", "m2m100", "mbart50")
    separate = {lang: be.generate_batch(TEXTS, lang, spec.generation) for lang in ("ko", "zh-Hans")}
    encoder = be.model.get_encoder()
    calls = []
    original = encoder.forward

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(encoder, "forward", counting)
    multi = be.generate_multi(TEXTS, ["ko", "zh-Hans"], spec.generation)
    assert multi == separate
    assert len(calls) == 1  # one encoder pass for both languages
