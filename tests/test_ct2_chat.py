"""The chat backend on CTranslate2 (ct2_chat) against the transformers one, on tiny chat models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ctranslate2")

from summarize.backends import load_backend
from summarize.backends.base import OutOfMemory
from summarize.backends.chat import ChatBackend
from summarize.backends.ct2_chat import CT2_CHAT_ARCHITECTURES, CT2ChatBackend
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ModelLoadError
from summarize.tiny.chat import TINY_CHAT_MODELS, build_tiny_chat_models
from summarize.tiny.corpus import EN_LINES

# Prompts of different lengths, so CTranslate2 feeds part of the longer ones in its loop.
TEXTS = [EN_LINES[0], "Heavy rain caused floods.", EN_LINES[5], EN_LINES[3]]
GREEDY = GenerationSettings(num_beams=1, max_new_tokens=12, max_new_tokens_ratio=None,
                            min_new_tokens=3)
PENALTIES = GREEDY.model_copy(update={"repetition_penalty": 1.3, "no_repeat_ngram_size": 2})


@pytest.fixture(scope="module")
def chat_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-chat-ct2")
    build_tiny_chat_models(folder)
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ct2-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(cache))


def _spec(folder: Path, backend: str = "ctranslate2", **ct2: Any) -> ModelSpec:
    return ModelSpec(model=str(folder), family="chat", backend=backend, ct2=ct2)


@pytest.fixture(scope="module")
def pairs(chat_models: Path, cache: Path) -> dict[str, tuple[ChatBackend, CT2ChatBackend]]:
    """(transformers, CTranslate2 float32) backends of every tiny chat model."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUMMARIZE_CACHE", str(cache))
        return {
            name: (ChatBackend.load(_spec(chat_models / name, "transformers"), device="cpu"),
                   CT2ChatBackend.load(_spec(chat_models / name, quantization="float32"),
                                       device="cpu"))
            for name in TINY_CHAT_MODELS
        }


def spy(monkeypatch: pytest.MonkeyPatch, backend: CT2ChatBackend) -> list[list[list[str]]]:
    """Record the start tokens of every real generator.generate_batch call."""
    calls: list[list[list[str]]] = []
    original = backend.generator.generate_batch

    class Recording:  # ctranslate2.Generator's attributes are read-only: wrap the object
        compute_type = backend.generator.compute_type

        def generate_batch(self, start: list[list[str]], **kwargs: Any) -> Any:
            calls.append(start)
            return original(start, **kwargs)

    monkeypatch.setattr(backend, "generator", Recording())
    return calls


def test_every_tiny_chat_architecture_is_one_ct2_supports() -> None:
    assert set(TINY_CHAT_MODELS.values()) == set(CT2_CHAT_ARCHITECTURES)


@pytest.mark.parametrize("settings", [GREEDY, PENALTIES], ids=["greedy", "penalties"])
@pytest.mark.parametrize("lang", [None, "ko"])
@pytest.mark.parametrize("name", sorted(TINY_CHAT_MODELS))
def test_float32_greedy_output_equals_transformers(
    pairs: dict[str, tuple[ChatBackend, CT2ChatBackend]], name: str, lang: str | None,
    settings: GenerationSettings,
) -> None:
    hf, ct = pairs[name]
    assert ct.count_tokens(TEXTS, lang) == hf.count_tokens(TEXTS, lang)
    expected = hf.generate_batch(TEXTS, lang, settings)
    hf_flags = hf.last_flags
    got = ct.generate_batch(TEXTS, lang, settings)
    differ = [i for i, (e, g) in enumerate(zip(expected, got, strict=True)) if e != g]
    # Random weights make near-ties: a row may differ only where transformers' own top two
    # logits were within float noise of each other.
    assert len(differ) <= 1, differ
    for i in differ:
        assert smallest_top2_gap(hf, TEXTS[i], lang, settings) < 1e-4, (TEXTS[i], got[i])
    if not differ:
        assert ct.last_flags == hf_flags
    assert any(text.strip() for text in expected)  # not trivially equal


def smallest_top2_gap(hf: ChatBackend, text: str, lang: str | None,
                      settings: GenerationSettings) -> float:
    """The smallest gap between the two best next-token scores along transformers' greedy
    reply to ``text`` (penalties applied as the backend applies them)."""
    import torch

    from summarize.backends.chat import reply_only_processors

    encoded = hf._encode([(text, lang, False)], tensors=True)
    width = int(encoded["input_ids"].shape[1])
    out = hf.model.generate(
        input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"],
        generation_config=hf.generation_config(settings, settings.max_new_tokens),
        logits_processor=reply_only_processors(settings, width), output_scores=True,
        return_dict_in_generate=True)
    gaps = [float(top.values[0] - top.values[1])
            for top in (torch.topk(scores[0], 2) for scores in out.scores)]
    return min(gaps)


def test_one_generate_batch_call_per_batch(
    pairs: dict[str, tuple[ChatBackend, CT2ChatBackend]], monkeypatch: pytest.MonkeyPatch
) -> None:
    hf, ct = pairs["chat-qwen2"]
    calls = spy(monkeypatch, ct)
    out = ct.generate_batch(TEXTS, "ko", GREEDY)
    retries = 1 if ct.last_flags and "asked again" in " ".join(p for _, p in ct.last_flags) else 0
    assert len(calls) == 1 + retries and len(calls[0]) == len(TEXTS)
    assert calls[0] == [hf.tokenizer.convert_ids_to_tokens(ids)
                        for ids in hf._encode([(t, "ko", False) for t in TEXTS],
                                              tensors=False)["input_ids"]]
    assert len(out) == len(TEXTS)


def test_penalties_generate_one_call_per_prompt_length(
    pairs: dict[str, tuple[ChatBackend, CT2ChatBackend]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With penalties every prompt of a call is forwarded whole, so they see the reply only."""
    _, ct = pairs["chat-qwen2"]
    def one_call(rows, settings, index):
        plain = [(text, lang, False) for text, lang in rows]
        return ct._generate(plain, settings, max(ct._row_budgets(plain, settings)))

    monkeypatch.setattr(ct, "_answer", one_call)
    calls = spy(monkeypatch, ct)
    ct.generate_batch(TEXTS, "ko", PENALTIES)
    lengths = set(ct.count_tokens(TEXTS, "ko"))
    assert len(calls) == len(lengths) > 1
    assert all(len({len(row) for row in call}) == 1 for call in calls)


def test_generation_stops_at_a_stop_token_as_transformers_does(
    pairs: dict[str, tuple[ChatBackend, CT2ChatBackend]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token the model says third becomes a stop: CTranslate2 ends there, the reply is the
    two tokens before it, not flagged as cut off, and equal to transformers' reply."""
    hf, ct = pairs["chat-gemma2"]
    text = [TEXTS[0]]
    (prompt,) = ct._encode([(text[0], "ko", False)], tensors=False)["input_ids"]
    tokens = ct.tokenizer.convert_ids_to_tokens(list(prompt))
    free = ct.generator.generate_batch(
        [tokens], **{**ct.generation_options(GREEDY, 12), "min_length": 0})[0].sequences[0]
    stop = free[2]
    assert stop not in free[:2]
    for backend in (hf, ct):
        monkeypatch.setattr(backend, "stop_ids",
                            [*backend.stop_ids, backend.tokenizer.convert_tokens_to_ids(stop)])
    monkeypatch.setattr(ct, "_stop_tokens", [*ct._stop_tokens, stop])
    monkeypatch.setattr(hf.model.generation_config, "eos_token_id", list(hf.stop_ids))
    settings = GREEDY.model_copy(update={"min_new_tokens": 0})
    rows = [(text[0], "ko", False)]
    reply = ct._generate(rows, settings, ct._row_budgets(rows, settings)[0])[0]
    assert not reply.cut_off
    two = ct.tokenizer.decode(ct.tokenizer.convert_tokens_to_ids(free[:2]),
                              skip_special_tokens=True, clean_up_tokenization_spaces=False)
    assert reply.text == two.strip() or reply.problem is not None
    assert ct.generate_batch(text, "ko", settings) == hf.generate_batch(text, "ko", settings)


def test_end_of_turn_is_an_end_token_where_the_tokenizer_names_another_eos(
    pairs: dict[str, tuple[ChatBackend, CT2ChatBackend]],
) -> None:
    _, ct = pairs["chat-gemma2"]  # its tokenizer's eos is <eos>, its turns end <end_of_turn>
    options = ct.generation_options(GREEDY, 12)
    assert "<end_of_turn>" in options["end_token"] and "<eos>" in options["end_token"]
    assert options["include_prompt_in_result"] is False and options["return_end_token"] is True


def test_babble_after_the_end_of_turn_is_dropped(
    pairs: dict[str, tuple[ChatBackend, CT2ChatBackend]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ct = pairs["chat-llama"]
    reply = ct.tokenizer.tokenize("한국어 답")

    class Result:
        def __init__(self) -> None:
            self.sequences = [[*reply, "<|eot_id|>", *ct.tokenizer.tokenize(" junk")]]

    class Fake:
        compute_type = "float32"

        def generate_batch(self, start: list[list[str]], **kwargs: Any) -> Any:
            return [Result() for _ in start]

    monkeypatch.setattr(ct, "generator", Fake())
    assert ct.generate_batch(["Answer."], "ko", GREEDY) == ["한국어 답"]
    assert ct.last_flags == []


def test_load_backend_default_is_int8_on_cpu_and_converts_once(chat_models: Path, cache: Path) -> None:
    spec = _spec(chat_models / "chat-qwen3")
    backend = load_backend(spec, device="cpu")
    assert isinstance(backend, CT2ChatBackend)
    info = backend.info()
    assert (info["backend"], info["family"], info["architecture"]) == ("ctranslate2", "chat",
                                                                      "qwen3")
    # CTranslate2 names its CPU int8 compute type int8_float32 (int8 weights, float32 outputs)
    assert (info["quantization"], info["compute_type"]) == ("int8", "int8_float32")
    assert info["thinking"] == "off" and "<|im_end|>" in info["stop_tokens"]
    folders = sorted(p.name for p in (cache / "ct2").iterdir() if "qwen3--int8" in p.name
                     and p.is_dir())
    load_backend(spec, device="cpu")
    assert sorted(p.name for p in (cache / "ct2").iterdir() if "qwen3--int8" in p.name
                  and p.is_dir()) == folders and len(folders) == 1
    assert len(backend.generate_batch(TEXTS, "zh-Hans", GREEDY)) == len(TEXTS)


def test_unsupported_architecture_is_refused_before_conversion(
    chat_models: Path, tmp_path: Path, cache: Path
) -> None:
    folder = tmp_path / "chat-phi3"
    shutil.copytree(chat_models / "chat-qwen2", folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "phi3"}),
                                        encoding="utf-8")
    before = set((cache / "ct2").iterdir()) if (cache / "ct2").exists() else set()
    with pytest.raises(ModelLoadError, match=r"chat-phi3: backend ctranslate2 runs family chat "
                                             r"for .*qwen2.*; this model is phi3\. Use backend: "
                                             r"transformers"):
        load_backend(_spec(folder), device="cpu")
    after = set((cache / "ct2").iterdir()) if (cache / "ct2").exists() else set()
    assert after == before


def test_out_of_memory_becomes_out_of_memory(
    pairs: dict[str, tuple[ChatBackend, CT2ChatBackend]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ct = pairs["chat-qwen2"]

    class Full:
        compute_type = "float32"

        def generate_batch(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("CUDA failed with error out of memory")

    monkeypatch.setattr(ct, "generator", Full())
    with pytest.raises(OutOfMemory, match="batch of 4 rows"):
        ct.generate_batch(TEXTS, "ko", GREEDY)


def test_a_template_that_forces_thinking_is_closed_on_ctranslate2_too(
    chat_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same probe and closing as the transformers backend: equal prompts, equal output."""
    from summarize.tiny.chat import THINKING_CHAT_MODEL

    hf = ChatBackend.load(_spec(chat_models / THINKING_CHAT_MODEL, "transformers"), device="cpu")
    ct = CT2ChatBackend.load(_spec(chat_models / THINKING_CHAT_MODEL, quantization="float32"),
                             device="cpu")
    assert ct.info()["thinking"] == hf.info()["thinking"]
    assert ct.info()["thinking"].startswith("closed")
    assert ct.info()["prompt_fingerprint"] == hf.info()["prompt_fingerprint"]
    calls = spy(monkeypatch, ct)
    assert ct.generate_batch(TEXTS, "ko", GREEDY) == hf.generate_batch(TEXTS, "ko", GREEDY)
    starts = calls[0]
    assert ct.count_tokens(TEXTS, "ko") == [len(s) for s in starts]
    assert all(ct.tokenizer.convert_tokens_to_string(s).endswith("<think>\n\n</think>\n\n")
               for s in starts)
