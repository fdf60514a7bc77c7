"""The tiny offline models load like hub models and their configs run the pipeline's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarize.backends.hashing import content_hash
from summarize.config import load_config
from summarize.tiny import TINY_CONFIGS, TINY_MODELS, build_tiny_models
from summarize.tiny.corpus import EN_LINES, script_of

# folder -> (model class, tokenizer class, tokens the vocabulary must hold)
EXPECTED = {
    "summarizer": ("BartForConditionalGeneration", "RobertaTokenizer", ["<s>", "</s>", "<pad>"]),
    "marian": ("MarianMTModel", "MarianTokenizer", [">>kor<<", ">>cmn_Hans<<", "<pad>"]),
    "nllb": (
        "M2M100ForConditionalGeneration",
        "NllbTokenizer",
        ["eng_Latn", "kor_Hang", "zho_Hans"],
    ),
    "m2m100": ("M2M100ForConditionalGeneration", "M2M100Tokenizer", ["__en__", "__ko__", "__zh__"]),
    "mbart50": ("MBartForConditionalGeneration", "MBart50Tokenizer", ["en_XX", "ko_KR", "zh_CN"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tiny_model_loads_with_auto_classes(tiny_models: Path, name: str) -> None:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    folder = tiny_models / name
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder, local_files_only=True)
    model_class, tokenizer_class, tokens = EXPECTED[name]
    assert type(model).__name__ == model_class
    assert type(tokenizer).__name__ == tokenizer_class
    unk = tokenizer.unk_token_id
    for token in tokens:
        token_id = tokenizer.convert_tokens_to_ids(token)
        assert token_id != unk and token_id < model.config.vocab_size, token
    assert sum(p.numel() for p in model.parameters()) < 100_000


def test_tiny_models_cover_every_family() -> None:
    assert set(TINY_MODELS.values()) == {"plain", "marian", "nllb", "m2m100", "mbart50"}


@pytest.mark.parametrize("filename", sorted(TINY_CONFIGS))
def test_tiny_configs_validate(tiny_models: Path, filename: str) -> None:
    config = load_config(tiny_models / filename)
    assert Path(config.summarizer.model) == tiny_models / "summarizer"
    for lang, folder in TINY_CONFIGS[filename].items():
        spec = config.translators[lang]  # type: ignore[index]
        assert Path(spec.model).is_absolute() and Path(spec.model) == tiny_models / folder
        # cheap: random weights run to their budget, which is 16 for a sentence of the examples
        assert spec.generation.num_beams <= 2 and spec.generation.budget(40) <= 16
        assert spec.generation.min_new_tokens > 0  # random weights would often stop at once
    assert config.summarizer.generation.min_new_tokens > 0


def test_default_config_mixes_nllb_and_marian(tiny_models: Path) -> None:
    config = load_config(tiny_models / "config.yaml")
    assert Path(config.translators["ko"].model).name == "nllb"
    assert Path(config.translators["zh-Hans"].model).name == "marian"


def test_build_is_deterministic(tiny_models: Path, tmp_path: Path) -> None:
    again = build_tiny_models(tmp_path / "again")
    for name in TINY_MODELS:
        assert content_hash(again / name) == content_hash(tiny_models / name), name


@pytest.mark.parametrize(
    ("config_file", "lang", "script"),
    [
        ("config.yaml", None, "latin"),
        ("config.yaml", "ko", "hangul"),
        ("config.yaml", "zh-Hans", "han"),
        ("config-m2m100.yaml", "ko", "hangul"),
        ("config-m2m100.yaml", "zh-Hans", "han"),
        ("config-mbart50.yaml", "ko", "hangul"),
        ("config-mbart50.yaml", "zh-Hans", "han"),
    ],
)
def test_tiny_output_is_in_the_target_script(
    tiny_models: Path, config_file: str, lang: str | None, script: str
) -> None:
    from summarize.backends.hf import HFBackend

    config = load_config(tiny_models / config_file)
    spec = config.summarizer if lang is None else config.translators[lang]  # type: ignore[index]
    backend = HFBackend.load(spec, device="cpu")
    outputs = backend.generate_batch(list(EN_LINES[:6]), lang, spec.generation)
    letters = [c for text in outputs for c in text if script_of(c)]
    assert all(outputs) and letters
    assert {script_of(c) for c in letters} == {script}


def test_translator_window_fits_a_sentence_but_not_an_article(tiny_models: Path) -> None:
    from summarize.backends.hf import HFBackend

    config = load_config(tiny_models / "config.yaml")
    summarizer = HFBackend.load(config.summarizer, device="cpu")
    translator = HFBackend.load(config.translators["ko"], device="cpu")
    article = " ".join(EN_LINES)
    assert max(translator.count_tokens(list(EN_LINES), "ko")) <= translator.max_input_tokens()
    assert summarizer.count_tokens([article])[0] > summarizer.max_input_tokens()
    assert translator.count_tokens([article], "ko")[0] > translator.max_input_tokens()
