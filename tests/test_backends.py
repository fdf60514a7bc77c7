"""The transformers backend on the tiny models: language steering, explicit settings, limits."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from summarize.backends import families, load_backend, threads
from summarize.backends.base import OutOfMemory
from summarize.backends.hashing import content_hash, file_sha256
from summarize.backends.hf import HFBackend
from summarize.backends.hf_load import Source
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ConfigError, ModelLoadError
from summarize.tiny import TINY_MODELS
from summarize.tiny.corpus import EN_LINES

TEXTS = [EN_LINES[0], "Heavy rain caused floods.", EN_LINES[5]]
SETTINGS = GenerationSettings(
    num_beams=1,
    max_new_tokens=6,
    max_new_tokens_ratio=None,
    min_new_tokens=3,
    no_repeat_ngram_size=2,
)


@pytest.fixture(scope="module")
def backends(tiny_models: Path) -> dict[str, HFBackend]:
    """One loaded backend per tiny model folder, family auto-detected."""
    return {
        name: HFBackend.load(ModelSpec(model=str(tiny_models / name)), device="cpu")
        for name in TINY_MODELS
    }


def spy_generate(monkeypatch: pytest.MonkeyPatch, backend: Any) -> list[dict[str, Any]]:
    """Record the kwargs and the output of every real model.generate call (any transformers
    backend: seq2seq or chat)."""
    calls: list[dict[str, Any]] = []
    original = backend.model.generate

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        output = original(*args, **kwargs)
        calls.append({**kwargs, "output": output})
        return output

    monkeypatch.setattr(backend.model, "generate", wrapper)
    return calls


def spy_effective_config(monkeypatch: pytest.MonkeyPatch, backend: HFBackend) -> list[Any]:
    """Record the generation config generate() really uses, after merging in model defaults."""
    seen: list[Any] = []
    original = backend.model._prepare_generation_config

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config, model_kwargs = original(*args, **kwargs)
        seen.append(config)
        return config, model_kwargs

    monkeypatch.setattr(backend.model, "_prepare_generation_config", wrapper)
    return seen


@pytest.mark.parametrize(("name", "family"), sorted(TINY_MODELS.items()))
def test_family_is_detected(backends: dict[str, HFBackend], name: str, family: str) -> None:
    assert backends[name].family == family
    assert backends[name].info()["family"] == family


# folder, target, token the first generated token must be (None: no forced BOS),
# token every encoded source must start with.
STEERING = [
    ("nllb", "ko", "kor_Hang", "eng_Latn"),
    ("nllb", "zh-Hans", "zho_Hans", "eng_Latn"),
    ("m2m100", "ko", "__ko__", "__en__"),
    ("m2m100", "zh-Hans", "__zh__", "__en__"),
    ("mbart50", "ko", "ko_KR", "en_XX"),
    ("mbart50", "zh-Hans", "zh_CN", "en_XX"),
    ("marian", "ko", None, ">>kor<<"),
    ("marian", "zh-Hans", None, ">>cmn_Hans<<"),
    ("summarizer", None, "<s>", "<s>"),  # BART-CNN style: its own forced <s> is kept
]


@pytest.mark.parametrize(("name", "lang", "forced", "first"), STEERING)
def test_language_tokens_reach_generate(
    backends: dict[str, HFBackend],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    lang: str | None,
    forced: str | None,
    first: str,
) -> None:
    backend = backends[name]
    tok = backend.tokenizer
    calls = spy_generate(monkeypatch, backend)
    outputs = backend.generate_batch(TEXTS, lang, SETTINGS)

    assert len(calls) == 1
    config = calls[0]["generation_config"]
    input_ids = calls[0]["input_ids"]
    assert (input_ids[:, 0] == tok.convert_tokens_to_ids(first)).all()
    eos_at = calls[0]["attention_mask"].sum(dim=1) - 1
    assert (input_ids[torch.arange(len(TEXTS)), eos_at] == tok.eos_token_id).all()
    if forced is None:
        assert config.forced_bos_token_id is None
    else:
        forced_id = tok.convert_tokens_to_ids(forced)
        assert config.forced_bos_token_id == forced_id
        assert (calls[0]["output"][:, 1] == forced_id).all()
    assert len(outputs) == len(TEXTS)
    assert all(isinstance(o, str) and o.strip() == o and o for o in outputs)
    for code in (forced, first):  # model codes never leak into the text
        assert code is None or all(code not in o for o in outputs)


def test_all_settings_reach_generate(
    backends: dict[str, HFBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backends["marian"]
    settings = GenerationSettings(
        num_beams=3,
        max_new_tokens=9,
        max_new_tokens_ratio=None,
        min_new_tokens=2,
        length_penalty=0.7,
        no_repeat_ngram_size=4,
        repetition_penalty=1.1,
        early_stopping=False,
    )
    seen = spy_effective_config(monkeypatch, backend)
    backend.generate_batch(TEXTS, "zh-Hans", settings)
    config = seen[0]
    pad = backend.tokenizer.pad_token_id
    expected = {
        "num_beams": 3,
        "max_new_tokens": 9,
        "min_new_tokens": 2,
        "length_penalty": 0.7,
        "no_repeat_ngram_size": 4,
        "repetition_penalty": 1.1,
        "early_stopping": False,
        "do_sample": False,
        "num_return_sequences": 1,
        "forced_eos_token_id": None,
        "bad_words_ids": [[pad]],
        "decoder_start_token_id": pad,
        "pad_token_id": pad,
        "eos_token_id": 0,
    }
    assert {key: getattr(config, key) for key in expected} == expected


def test_budget_follows_the_longest_source(
    backends: dict[str, HFBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backends["nllb"]
    settings = GenerationSettings(
        num_beams=1, max_new_tokens=40, max_new_tokens_ratio=0.5, max_new_tokens_extra=2
    )
    calls = spy_generate(monkeypatch, backend)
    lengths = backend.count_tokens(TEXTS, "ko")
    backend.generate_batch(TEXTS, "ko", settings)
    assert calls[0]["generation_config"].max_new_tokens == max(settings.budget(n) for n in lengths)


def _copy_model(tiny_models: Path, name: str, dest: Path) -> Path:
    folder = dest / name
    shutil.copytree(tiny_models / name, folder)
    return folder


def test_model_generation_config_has_no_effect(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = HFBackend.load(ModelSpec(model=str(tiny_models / "m2m100")), device="cpu")
    folder = _copy_model(tiny_models, "m2m100", tmp_path)
    path = folder / "generation_config.json"
    planted = json.loads(path.read_text())
    planted.update(
        num_beams=7,
        max_length=3,
        min_length=2,
        do_sample=True,
        temperature=3.0,
        repetition_penalty=5.0,
        no_repeat_ngram_size=1,
        forced_eos_token_id=2,
        suppress_tokens=[5, 6, 7],
        bad_words_ids=[[8]],
        length_penalty=-4.0,
    )
    path.write_text(json.dumps(planted))
    weird = HFBackend.load(ModelSpec(model=str(folder)), device="cpu")
    settings = GenerationSettings(
        num_beams=1, max_new_tokens=8, max_new_tokens_ratio=None, min_new_tokens=8
    )
    seen = spy_effective_config(monkeypatch, weird)
    calls = spy_generate(monkeypatch, weird)

    out = weird.generate_batch(TEXTS, "ko", settings)

    config = seen[0]
    assert (config.num_beams, config.do_sample, config.max_new_tokens) == (1, False, 8)
    assert config.repetition_penalty == 1.0 and config.no_repeat_ngram_size == 0
    assert config.forced_eos_token_id is None and config.suppress_tokens is None
    assert config.bad_words_ids == [[1]]  # only our pad rule
    # decoder start + 8 new tokens, despite max_length=3
    assert calls[0]["output"].shape[1] == 1 + 8
    assert out == clean.generate_batch(TEXTS, "ko", settings)


def test_outputs_are_one_per_input_in_order(backends: dict[str, HFBackend]) -> None:
    backend = backends["summarizer"]
    texts = list(EN_LINES[:5])
    batched = backend.generate_batch(texts, None, SETTINGS)
    single = [backend.generate_batch([t], None, SETTINGS)[0] for t in texts]
    assert batched == single
    assert len(set(batched)) > 1  # the check above would be empty if all were equal
    assert backend.generate_batch([], None, SETTINGS) == []


@pytest.mark.parametrize(("name", "lang"), [(n, lang) for n, lang, *_ in STEERING])
def test_count_tokens_matches_the_encoding(
    backends: dict[str, HFBackend], monkeypatch: pytest.MonkeyPatch, name: str, lang: str | None
) -> None:
    backend = backends[name]
    calls = spy_generate(monkeypatch, backend)
    counts = backend.count_tokens(TEXTS, lang)
    backend.generate_batch(TEXTS, lang, SETTINGS)
    assert counts == calls[0]["attention_mask"].sum(dim=1).tolist()
    assert calls[0]["input_ids"].shape[1] == max(counts)  # padded to the longest, no further


def test_over_long_input_raises_instead_of_truncating(
    backends: dict[str, HFBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backends["nllb"]
    long_text = " ".join(EN_LINES)
    assert backend.count_tokens([long_text], "ko")[0] > backend.max_input_tokens()
    calls = spy_generate(monkeypatch, backend)
    with pytest.raises(ValueError, match=r"longer than 128 tokens.*#1"):
        backend.generate_batch([TEXTS[0], long_text], "ko", SETTINGS)
    assert calls == []


def test_max_input_tokens_from_model_or_spec(tiny_models: Path) -> None:
    spec = ModelSpec(model=str(tiny_models / "marian"), max_input_tokens=12)
    backend = HFBackend.load(spec, device="cpu")
    assert backend.max_input_tokens() == 12
    fits = backend.count_tokens(["Heavy rain."], "ko")[0]
    assert fits <= 12 and backend.generate_batch(["Heavy rain."], "ko", SETTINGS)
    with pytest.raises(ValueError):
        backend.generate_batch([EN_LINES[0]], "ko", SETTINGS)
    default = HFBackend.load(ModelSpec(model=str(tiny_models / "summarizer")), device="cpu")
    assert default.max_input_tokens() == default.model.config.max_position_embeddings == 256


def test_info_describes_the_loaded_model(backends: dict[str, HFBackend], tiny_models: Path) -> None:
    info = backends["nllb"].info()
    assert info == {
        "model": str(tiny_models / "nllb"),
        "revision": None,
        "resolved_revision": "",
        "local_path": str(tiny_models / "nllb"),
        "content_hash": content_hash(tiny_models / "nllb"),
        "backend": "transformers",
        "family": "nllb",
        "device": "cpu",
        "dtype": "float32",
        "attn_implementation": "sdpa",
        "threads": threads.resolved(),  # the process count the load set torch's pool to
        "max_input_tokens": 128,
    }


def test_blob_links_are_hashed_by_their_names(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    fake = "ab" * 32  # a blob named by a sha256 is trusted, not read
    (blobs / fake).write_bytes(b"weights")
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "model.safetensors").symlink_to(blobs / fake)
    assert file_sha256(tmp_path / "snap" / "model.safetensors") == fake
    (tmp_path / "plain.bin").write_bytes(b"weights")
    assert file_sha256(tmp_path / "plain.bin") == hashlib.sha256(b"weights").hexdigest()


def test_content_hash_follows_the_weights(tiny_models: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = _copy_model(tiny_models, "marian", tmp_path)
    spec = ModelSpec(model=str(folder))
    before = HFBackend.load(spec, device="cpu").info()["content_hash"]
    assert before == content_hash(tiny_models / "marian")  # same files, same hash
    (folder / "README.md").write_text("notes do not count")
    assert content_hash(folder) == before
    weights = folder / "model.safetensors"
    tensors = load_file(weights)
    name = next(iter(tensors))
    tensors[name] = tensors[name] + 1.0
    save_file(tensors, weights, metadata={"format": "pt"})
    assert HFBackend.load(spec, device="cpu").info()["content_hash"] != before


def test_explicit_dtype(tiny_models: Path) -> None:
    backend = load_backend(
        ModelSpec(model=str(tiny_models / "mbart50")), device="cpu", dtype="bfloat16"
    )
    assert backend.info()["dtype"] == "bfloat16"
    assert backend.generate_batch(TEXTS[:1], "ko", SETTINGS)[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_requested_without_cuda(tiny_models: Path) -> None:
    with pytest.raises(ConfigError, match="CUDA is not available"):
        HFBackend.load(ModelSpec(model=str(tiny_models / "nllb")), device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_picks_cuda_and_bf16(tiny_models: Path) -> None:
    backend = HFBackend.load(ModelSpec(model=str(tiny_models / "nllb")))
    info = backend.info()
    assert info["device"].startswith("cuda")
    native = torch.cuda.get_device_capability(0)[0] >= 8
    assert info["dtype"] == ("bfloat16" if native else "float16")
    assert backend.generate_batch(TEXTS, "ko", SETTINGS)[0]


def test_cuda_oom_becomes_out_of_memory(
    backends: dict[str, HFBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backends["nllb"]

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(backend.model, "generate", boom)
    with pytest.raises(OutOfMemory, match="batch of 3"):
        backend.generate_batch(TEXTS, "ko", SETTINGS)


# ------------------------------------------------------------------ loading errors


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "acme/no-such-model-xyz",
            r"acme/no-such-model-xyz.*HF_HUB_OFFLINE.*network access.*local folder",
        ),
        ("./models/missing", r"models/missing does not exist"),
        ("/no/such/model/folder", r"/no/such/model/folder does not exist"),
    ],
)
def test_missing_model_raises_model_load_error(
    monkeypatch: pytest.MonkeyPatch, model: str, expected: str
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=expected) as info:
        HFBackend.load(ModelSpec(model=model), device="cpu")
    error = info.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert "\n" not in str(info.value)


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _fake_hub_cache(tiny_models: Path, cache: Path, repo: str, name: str) -> Path:
    """A Hugging Face cache entry for a tiny model, laid out as the hub client writes it."""
    entry = cache / ("models--" + repo.replace("/", "--"))
    snapshot = entry / "snapshots" / COMMIT
    for folder in (snapshot, entry / "blobs", entry / "refs"):
        folder.mkdir(parents=True)
    (entry / "refs" / "main").write_text(COMMIT)
    for file in (tiny_models / name).iterdir():
        blob = hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copy(file, entry / "blobs" / blob)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", blob))
    return snapshot


@pytest.mark.parametrize("revision", [None, "main", COMMIT])
def test_offline_load_from_the_hub_cache_records_the_commit(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, revision: str | None
) -> None:
    from huggingface_hub import constants

    snapshot = _fake_hub_cache(tiny_models, tmp_path, "acme/tiny-nllb", "nllb")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backend = HFBackend.load(ModelSpec(model="acme/tiny-nllb", revision=revision), device="cpu")
    info = backend.info()
    assert (info["model"], info["revision"]) == ("acme/tiny-nllb", revision)
    assert info["resolved_revision"] == COMMIT
    assert info["local_path"] == str(snapshot)
    # the weights are known by their blob names, and hash as the same files in a plain folder
    assert info["content_hash"] == content_hash(tiny_models / "nllb")
    assert backend.generate_batch(TEXTS[:1], "ko", SETTINGS)[0]


def test_unknown_revision_in_the_cache_is_a_load_error(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    _fake_hub_cache(tiny_models, tmp_path, "acme/tiny-nllb", "nllb")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="acme/tiny-nllb at revision v2 is not in the local"):
        HFBackend.load(ModelSpec(model="acme/tiny-nllb", revision="v2"), device="cpu")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (Source("/m", local_dir=Path("/m")), [True]),
        (Source("a/b", commit=COMMIT, offline=True), [True]),
        (Source("a/b", commit=COMMIT, snapshot=Path("/s")), [True, False]),  # cache, then Hub
        (Source("a/b", commit=COMMIT), [False]),
    ],
)
def test_cache_is_tried_before_the_hub(source: Source, expected: list[bool]) -> None:
    assert source.attempts() == expected


def test_folder_without_config_raises(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        HFBackend.load(ModelSpec(model=str(tmp_path)), device="cpu")


def test_broken_weights_raise_model_load_error(tiny_models: Path, tmp_path: Path) -> None:
    folder = _copy_model(tiny_models, "nllb", tmp_path)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match=f"cannot load the model in {folder}"):
        HFBackend.load(ModelSpec(model=str(folder)), device="cpu")


# ------------------------------------------------------------------ language errors


def test_marian_missing_target_token(tiny_models: Path) -> None:
    spec = ModelSpec(model=str(tiny_models / "marian"), lang_codes={"ko": "kor_Hang"})
    backend = HFBackend.load(spec, device="cpu")
    with pytest.raises(ConfigError, match=r"marian needs .* for ko.*>>kor_Hang<<.*>>cmn_Hans<<"):
        backend.count_tokens(["Hello."], "ko")
    assert backend.count_tokens(["Hello."], "zh-Hans")  # other languages unaffected


def test_lang_codes_override_the_table(backends: dict[str, HFBackend], tiny_models: Path) -> None:
    spec = ModelSpec(model=str(tiny_models / "nllb"), lang_codes={"zh-Hans": "zho_Hant"})
    backend = HFBackend.load(spec, device="cpu")
    tok = backend.tokenizer
    assert backend.lang_plan("zh-Hans").forced_bos_token_id == tok.convert_tokens_to_ids("zho_Hant")
    assert backend.lang_plan("ko").forced_bos_token_id == tok.convert_tokens_to_ids("kor_Hang")


def test_plain_model_needs_family_plain_to_translate(tiny_models: Path) -> None:
    auto = HFBackend.load(ModelSpec(model=str(tiny_models / "summarizer")), device="cpu")
    with pytest.raises(ConfigError, match="family: plain"):
        auto.count_tokens(["Hello."], "ko")
    forced = HFBackend.load(
        ModelSpec(model=str(tiny_models / "summarizer"), family="plain"), device="cpu"
    )
    assert forced.generate_batch(["Hello."], "ko", SETTINGS)[0]


class FakeTokenizer:
    """Just enough of a tokenizer for families.plan."""

    def __init__(self, tokens: list[str]) -> None:
        self._vocab = {t: i for i, t in enumerate(tokens)}

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab)


@pytest.mark.parametrize(
    ("tokens", "lang", "expected"),
    [
        (
            ["</s>", ">>kor<<", ">>cmn_Hans<<", "▁a"],
            "ko",
            families.LangPlan(">>kor<< ", None, None, ">>kor<<"),
        ),
        (
            ["</s>", ">>kor<<", ">>cmn_Hans<<", "▁a"],
            "zh-Hans",
            families.LangPlan(">>cmn_Hans<< ", None, None, ">>cmn_Hans<<"),
        ),
        (["</s>", ">>kor<<", "▁a"], None, families.LangPlan()),
        (["</s>", "▁a", "▁b"], "zh-Hans", families.LangPlan()),  # single-target: no prefix
    ],
)
def test_marian_plans(tokens: list[str], lang: str | None, expected: families.LangPlan) -> None:
    assert families.plan("marian", FakeTokenizer(tokens), lang, model="m") == expected


def test_nllb_missing_language_token_lists_known_ones() -> None:
    tok = FakeTokenizer(["<s>", "eng_Latn", "fra_Latn", "deu_Latn"])
    with pytest.raises(ConfigError, match=r"kor_Hang for ko.*deu_Latn, eng_Latn, fra_Latn"):
        families.plan("nllb", tok, "ko", model="m")
