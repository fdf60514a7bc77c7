"""CTranslate2 backend on the tiny models: conversion cache, tokens, language handling, limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ctranslate2")

from summarize.backends import ct2, ct2_convert, ct2_setup, load_backend
from summarize.backends.hashing import content_hash
from summarize.backends.scheduler import generate_all
from summarize.config import GenerationSettings, ModelSpec, load_config
from summarize.errors import ModelLoadError

REPO = Path(__file__).resolve().parents[1]
TEXTS = [
    "The city council approved a new budget for schools.",
    "Heavy rain caused floods in the northern region, and thousands of people left their homes.",
    "Police closed the bridge.",
]
GREEDY = GenerationSettings(num_beams=1, max_new_tokens=10, min_new_tokens=3, max_new_tokens_ratio=None)
# Beam search with repetition_penalty != 1 is left out: transformers applies it to log-probs in
# beam search and CTranslate2 to logits, so the two legitimately differ there.
BEAM = GenerationSettings(num_beams=3, max_new_tokens=10, min_new_tokens=3, max_new_tokens_ratio=None,
                          length_penalty=2.0)
NGRAM = GenerationSettings(num_beams=1, max_new_tokens=10, min_new_tokens=3, max_new_tokens_ratio=None,
                           no_repeat_ngram_size=2, repetition_penalty=1.2)

# (tiny model folder, family in the spec, target languages, forced first target token per language)
CASES = [
    ("summarizer", "plain", {None: "<s>"}),
    ("marian", "auto", {"zh-Hans": None}),
    ("nllb", "auto", {"ko": "kor_Hang", "zh-Hans": "zho_Hans"}),
    ("m2m100", "auto", {"ko": "__ko__", "zh-Hans": "__zh__"}),
    ("mbart50", "auto", {"ko": "ko_KR", "zh-Hans": "zh_CN"}),
]
PAIRS = [(name, family, lang) for name, family, langs in CASES for lang in langs]


@pytest.fixture(scope="module", autouse=True)
def ct2_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Conversions go to a private cache, shared by this module's tests."""
    cache = tmp_path_factory.mktemp("ct2-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUMMARIZE_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield cache


def spec_for(models: Path, name: str, family: str = "auto", **extra: Any) -> ModelSpec:
    return ModelSpec(model=str(models / name), family=family, backend="ctranslate2", **extra)


_loaded: dict[tuple[str, str, str], Any] = {}


def backends(models: Path, name: str, family: str, quantization: str = "float32") -> tuple[Any, Any]:
    """(CT2 backend, HF backend) for a tiny model, loaded once per module."""
    from summarize.backends.hf import HFBackend

    key = (str(models), name, quantization)
    if key not in _loaded:
        spec = spec_for(models, name, family, ct2={"quantization": quantization})
        _loaded[key] = (
            ct2.CT2Backend.load(spec, device="cpu"),
            HFBackend.load(spec.model_copy(update={"backend": "transformers"}), device="cpu"),
        )
    return _loaded[key]


def hf_tokens(hf: Any, texts: list[str], lang: str | None) -> list[list[str]]:
    return [hf.tokenizer.convert_ids_to_tokens(ids) for ids in hf._encode(texts, hf.lang_plan(lang), tensors=False)["input_ids"]]


# ---------------------------------------------------------------- conversion cache


def test_conversion_is_cached_and_keyed_by_quantization(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path))
    calls: list[str] = []
    real = ct2_convert.convert

    def counting(source: Path, out: Path, quantization: str, **kw: Any) -> None:
        calls.append(quantization)
        real(source, out, quantization, **kw)

    monkeypatch.setattr(ct2_convert, "convert", counting)
    first = ct2.CT2Backend.load(spec_for(tiny_models, "marian", ct2={"quantization": "int8"}), device="cpu")
    again = ct2.CT2Backend.load(spec_for(tiny_models, "marian", ct2={"quantization": "int8"}), device="cpu")
    assert calls == ["int8"]
    assert again.model_dir == first.model_dir
    assert first.model_dir.parent == tmp_path / "ct2"
    other = ct2.CT2Backend.load(spec_for(tiny_models, "marian", ct2={"quantization": "float32"}), device="cpu")
    assert calls == ["int8", "float32"]
    assert other.model_dir != first.model_dir
    # Nothing but finished model folders (and their lock files) is left behind.
    leftovers = [p.name for p in (tmp_path / "ct2").iterdir() if p.is_dir() and not (p / ct2_convert.MARKER).exists()]
    assert leftovers == []


def test_crashed_conversion_is_never_trusted(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path))
    spec = spec_for(tiny_models, "nllb", ct2={"quantization": "int8"})
    real = ct2_convert.convert

    def crash(source: Path, out: Path, quantization: str, **kw: Any) -> None:
        (out / "model.bin").write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(ct2_convert, "convert", crash)
    with pytest.raises(KeyboardInterrupt):
        ct2.CT2Backend.load(spec, device="cpu")
    assert [p for p in (tmp_path / "ct2").iterdir() if p.is_dir()] == []

    monkeypatch.setattr(ct2_convert, "convert", real)
    backend = ct2.CT2Backend.load(spec, device="cpu")
    assert backend.generate_batch(TEXTS[:1], "ko", GREEDY)[0]


def test_a_changed_local_model_is_converted_again(tmp_path: Path, tiny_models: Path) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_models / "marian", folder)
    spec = ModelSpec(model=str(folder), backend="ctranslate2", ct2={"quantization": "int8"})
    source = ct2_convert.resolve_source(spec)
    before = ct2_convert.cache_dir(spec, source, "int8")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "dropout": 0.5}))
    assert ct2_convert.cache_dir(spec, ct2_convert.resolve_source(spec), "int8") != before


def test_unconvertible_architecture_is_a_model_load_error(tmp_path: Path, tiny_models: Path) -> None:
    from transformers import AutoTokenizer, LEDConfig, LEDForConditionalGeneration

    folder = tmp_path / "led"
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_models / "summarizer"))
    config = LEDConfig(
        vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_encoder_position_embeddings=64, max_decoder_position_embeddings=64,
        attention_window=[4],
    )
    LEDForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    with pytest.raises(ModelLoadError, match=r"cannot convert .*led.*backend: transformers"):
        ct2.CT2Backend.load(ModelSpec(model=str(folder), family="plain", backend="ctranslate2"), device="cpu")


def test_missing_local_folder_is_a_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        ct2.CT2Backend.load(ModelSpec(model=str(tmp_path / "nope"), backend="ctranslate2"), device="cpu")


# ---------------------------------------------------------------- tokens and languages


@pytest.mark.parametrize(("name", "family", "lang"), PAIRS)
def test_source_tokens_equal_hf_tokens_and_ids(tiny_models: Path, name: str, family: str, lang: str | None) -> None:
    backend, hf = backends(tiny_models, name, family)
    tokens = backend.source_tokens(TEXTS, lang)
    assert tokens == hf_tokens(hf, TEXTS, lang)
    assert backend.count_tokens(TEXTS, lang) == hf.count_tokens(TEXTS, lang)
    # The converted vocabulary gives every token the id the HF model was trained with.
    vocab = json.loads((backend.model_dir / "shared_vocabulary.json").read_text(encoding="utf-8"))
    for text_tokens in tokens:
        assert [vocab.index(t) for t in text_tokens] == hf.tokenizer.convert_tokens_to_ids(text_tokens)
    prefix = backend.target_prefix(lang)
    if prefix is not None:
        assert vocab.index(prefix) == hf.tokenizer.convert_tokens_to_ids(prefix)


@pytest.mark.parametrize(("name", "family", "lang"), PAIRS)
def test_language_token_reaches_translate_batch(tiny_models: Path, name: str, family: str, lang: str | None) -> None:
    backend, _ = backends(tiny_models, name, family)
    expected = dict(next(langs for n, _, langs in CASES if n == name))[lang]
    seen: dict[str, Any] = {}
    real = backend.translator

    class Spy:
        compute_type = real.compute_type

        def translate_batch(self, source: list[list[str]], **kwargs: Any) -> Any:
            seen.update(kwargs, source=source)
            return real.translate_batch(source, **kwargs)

    backend.translator = Spy()
    try:
        outputs = backend.generate_batch(TEXTS, lang, GREEDY)
    finally:
        backend.translator = real
    assert len(outputs) == len(TEXTS)
    if expected is None:
        assert seen["target_prefix"] is None
    else:
        assert seen["target_prefix"] == [[expected]] * len(TEXTS)
        assert not any(expected in out for out in outputs)  # the code never leaks into outputs
    if name == "marian":
        assert all(src[0] == ">>cmn_Hans<<" for src in seen["source"])
    assert seen["max_input_length"] == 0  # CTranslate2 must never truncate on its own
    assert (seen["beam_size"], seen["min_decoding_length"], seen["max_decoding_length"]) == (1, 3, 10)


@pytest.mark.parametrize(("name", "family", "lang"), PAIRS)
@pytest.mark.parametrize("settings", [GREEDY, BEAM, NGRAM], ids=["greedy", "beam", "penalties"])
def test_float32_outputs_equal_hf_outputs(
    tiny_models: Path, name: str, family: str, lang: str | None, settings: GenerationSettings
) -> None:
    backend, hf = backends(tiny_models, name, family)
    assert backend.generate_batch(TEXTS, lang, settings) == hf.generate_batch(TEXTS, lang, settings)


def test_outputs_one_per_input_in_order(tiny_models: Path) -> None:
    backend, _ = backends(tiny_models, "nllb", "auto", quantization="int8")
    texts = [TEXTS[1], TEXTS[0], TEXTS[1], TEXTS[2], "Short."]
    alone = {t: backend.generate_batch([t], "ko", GREEDY)[0] for t in set(texts)}
    result = generate_all(backend, texts, "ko", GREEDY, max_batch_tokens=64, max_batch_size=2)
    assert result.outputs == [alone[t] for t in texts]
    assert all(out and out.strip() for out in result.outputs)
    assert result.failures == {}
    assert result.stats.unique == 4 and result.stats.batches >= 2


def test_over_long_input_raises(tiny_models: Path) -> None:
    backend, _ = backends(tiny_models, "marian", "auto", quantization="int8")
    long_text = " ".join(TEXTS * 20)
    assert backend.count_tokens([long_text], "zh-Hans")[0] > backend.max_input_tokens()
    with pytest.raises(ValueError, match=r"longer than \d+ tokens"):
        backend.generate_batch([TEXTS[0], long_text], "zh-Hans", GREEDY)


def test_info_and_load_backend(tiny_models: Path) -> None:
    spec = spec_for(tiny_models, "m2m100", ct2={"quantization": "int8"})
    backend = load_backend(spec, device="cpu")
    assert isinstance(backend, ct2.CT2Backend)
    info = backend.info()
    assert info["backend"] == "ctranslate2" and info["family"] == "m2m100"
    assert info["quantization"] == "int8" and info["compute_type"].startswith("int8")
    assert info["content_hash"] == content_hash(tiny_models / "m2m100")
    assert (Path(info["converted_path"]) / "model.bin").is_file()


@pytest.mark.parametrize(
    ("setting", "device", "dtype", "native", "expected"),
    [
        ("auto", "cpu", "auto", True, ("int8", "int8_float32")),
        # dtype auto means what it means for transformers: bf16 where native, else fp16.
        ("auto", "cuda", "auto", True, ("int8", "int8_bfloat16")),
        ("auto", "cuda", "auto", False, ("int8", "int8_float16")),
        ("auto", "cuda", "bfloat16", False, ("int8", "int8_bfloat16")),
        ("auto", "cuda", "float32", True, ("int8", "int8_float32")),
        ("float16", "cuda", "auto", True, ("float16", "float16")),
    ],
)
def test_quantization_choice(
    setting: str, device: str, dtype: str, native: bool, expected: tuple[str, str]
) -> None:
    assert ct2_setup.pick_quantization(setting, device, dtype, native) == expected


def test_cpu_fast_config_validates() -> None:
    fast = load_config(REPO / "configs" / "cpu-fast.yaml")
    specs = [fast.summarizer, *fast.translators.values()]
    assert all(s.backend == "ctranslate2" and s.ct2.quantization == "int8" for s in specs)
    default_path = REPO / "configs" / "default.yaml"
    if default_path.exists():
        default = load_config(default_path)
        assert fast.summarizer.model == default.summarizer.model
        assert {k: v.model for k, v in fast.translators.items()} == {
            k: v.model for k, v in default.translators.items()
        }
