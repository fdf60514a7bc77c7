"""One output identity: a model replaced at the same path, a language-code change or a new
library never yields reused or mixed output; unchanged articles cost nothing on a rerun; a
run with no good article never becomes ``latest``; cut outputs are flagged."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from summarize.config import Config, GenerationSettings, ModelSpec, load_config
from summarize.pipeline.runner import RunOptions, run_batch
from tests.fakes import FakeLoader


def story_input(folder: Path, n: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"s{i}.txt").write_text(
            f"Story {i} about the river\n\nOfficials said {i + 3} bridges were closed on Monday. "
            f"Repairs would take weeks.\n\nResidents were told to stay home.\n", encoding="utf-8")
    return folder


def private_models(tiny: Path, tmp_path: Path) -> Path:
    """A copy of the tiny config with its own model folders, which a test may replace."""
    models = tmp_path / "models"
    for name in ("summarizer", "nllb", "marian"):
        shutil.copytree(tiny / name, models / name)
    cfg = yaml.safe_load((tiny / "config.yaml").read_text(encoding="utf-8"))
    cfg["summarizer"]["model"] = str(models / "summarizer")
    cfg["translators"]["ko"]["model"] = str(models / "nllb")
    cfg["translators"]["zh-Hans"]["model"] = str(models / "marian")
    cfg["batch"]["window_articles"] = 1
    (models / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return models


def replace_weights(folder: Path, seed: int = 7) -> None:
    """Another model at the same path: same architecture and tokenizer, other weights."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.5)
    model.save_pretrained(folder)


def run(inp: Path, out: Path, cfg: Config, **kw: Any):
    return run_batch(RunOptions(input=inp, out=out, config=cfg, check_models=False, **kw))


def zh_texts(run_path: Path) -> dict[str, str]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))["translations"]["zh-Hans"]["body"]
            for p in sorted((run_path / "articles").glob("*.json"))}


def test_model_replaced_at_the_same_path_recomputes_and_says_why(tiny_models, tmp_path):
    models = private_models(tiny_models, tmp_path)
    inp, out = story_input(tmp_path / "in"), tmp_path / "out"
    cfg = load_config(models / "config.yaml")
    first = run(inp, out, cfg)
    replace_weights(models / "marian")
    second = run(inp, out, cfg)
    counts = second.manifest["counts"]
    # Nothing of the old Marian is reused: no shared article, no memory hit for zh-Hans.
    assert counts["articles_unchanged"] == 0
    assert counts["segments_computed"] > 0
    assert zh_texts(first.run.path) != zh_texts(second.run.path)
    zh_flags = [seg["origin"]["zh-Hans"] for p in (second.run.path / "articles").glob("*.json")
                for seg in json.loads(p.read_text(encoding="utf-8"))["segments"]]
    assert set(zh_flags) == {"model"}
    changes = second.manifest["reuse"]["changes"]
    assert any(c.startswith("translate:zh-Hans: content_hash") for c in changes), changes
    old = first.manifest["output_identity"]["models"]["translate:zh-Hans"]["content_hash"]
    new = second.manifest["output_identity"]["models"]["translate:zh-Hans"]["content_hash"]
    assert old != new
    # every article names the identity it was made with
    for p in (second.run.path / "articles").glob("*.json"):
        doc = json.loads(p.read_text(encoding="utf-8"))
        assert doc["output_identity"] == second.manifest["output_identity"]["digest"]


def test_model_replaced_between_interrupt_and_resume_starts_a_new_run(tiny_models, tmp_path):
    models = private_models(tiny_models, tmp_path)
    inp, out = story_input(tmp_path / "in"), tmp_path / "out"
    cfg = load_config(models / "config.yaml")

    class StopAfterOne:
        def __init__(self) -> None:
            self.done = 0

        def start(self, phase: str, total: int | None = None) -> None: ...
        def log(self, message: str) -> None: ...
        def bad_record(self, message: str) -> None: ...

        def advance(self, phase: str, n: int = 1) -> None:
            if phase == "articles":
                self.done += n
                if self.done >= 2:
                    raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(RunOptions(input=inp, out=out, config=cfg, check_models=False),
                  progress=StopAfterOne())
    [interrupted] = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert json.loads((interrupted / "manifest.json").read_text())["status"] == "interrupted"
    old_articles = zh_texts(interrupted)
    assert 1 <= len(old_articles) < 4

    replace_weights(models / "marian")
    logged: list[str] = []

    class Log(StopAfterOne):
        def advance(self, phase: str, n: int = 1) -> None: ...
        def log(self, message: str) -> None:
            logged.append(message)

    done = run_batch(RunOptions(input=inp, out=out, config=cfg, check_models=False),
                     progress=Log())
    assert done.run.path != interrupted, "a run made by other models is never resumed"
    assert done.manifest["resumed"] is False and done.manifest["counts"]["articles_resumed"] == 0
    assert any("not resuming unfinished run" in m and "content_hash" in m for m in logged), logged
    new_articles = zh_texts(done.run.path)
    assert len(new_articles) == 4
    assert all(new_articles[k] != v for k, v in old_articles.items())


def test_lang_codes_change_recomputes(tiny_models, tmp_path):
    inp, out = story_input(tmp_path / "in", n=2), tmp_path / "out"
    cfg = load_config(tiny_models / "config.yaml")
    run(inp, out, cfg)
    data = cfg.model_dump(mode="json")
    data["translators"]["ko"]["lang_codes"] = {"ko": "zho_Hans"}  # another valid NLLB code
    again = run(inp, out, Config.model_validate(data))
    c = again.manifest["counts"]
    assert c["articles_unchanged"] == 0 and c["segments_computed"] > 0
    assert any(ch.startswith("translate:ko: lang_codes") for ch in again.manifest["reuse"]["changes"])


def test_lang_codes_are_part_of_the_model_and_its_identity():
    a = ModelSpec(model="facebook/m2m100_418M")
    b = ModelSpec(model="facebook/m2m100_418M", lang_codes={"ko": "ja"})
    assert a.key() != b.key()  # two languages with other codes never share one backend
    from summarize.models.load import identity

    info = {"model": a.model, "backend": "transformers"}
    assert identity(info, a) != identity(info, b)


def test_unchanged_rerun_shares_files_and_generates_nothing(tmp_path):
    inp = story_input(tmp_path / "in")
    out = tmp_path / "out"
    cfg = Config.model_validate({
        "summarizer": {"model": "fake/sum", "generation": {"max_new_tokens_ratio": None}},
        "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}},
        "model_check": False})
    loader = FakeLoader()
    first = run_batch(RunOptions(input=inp, out=out, config=cfg), loader=loader)
    calls = loader.calls if hasattr(loader, "calls") else None
    (inp / "s3.txt").write_text("Story three, rewritten\n\nA new body.\n", encoding="utf-8")
    second = run_batch(RunOptions(input=inp, out=out, config=cfg), loader=loader)
    c = second.manifest["counts"]
    assert c["articles_unchanged"] == 3 and c["articles_ok"] == 4
    for name in ("s0", "s1", "s2"):
        a, b = first.run.path / "articles" / f"{name}.json", second.run.path / "articles" / f"{name}.json"
        assert os.stat(a).st_ino == os.stat(b).st_ino  # one file, two complete run folders
    assert os.stat(first.run.path / "articles" / "s3.json").st_ino != \
        os.stat(second.run.path / "articles" / "s3.json").st_ino
    assert second.manifest["reuse"] == {"from": first.run.run_id, "changes": []}
    del calls


def test_human_import_stops_sharing(tmp_path):
    from summarize.runs.memory import Memory

    inp = story_input(tmp_path / "in", n=2)
    out = tmp_path / "out"
    cfg = Config.model_validate({
        "summarizer": {"model": "fake/sum", "generation": {"max_new_tokens_ratio": None}},
        "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}},
        "model_check": False})
    run_batch(RunOptions(input=inp, out=out, config=cfg), loader=FakeLoader())
    memory = Memory(out / "memory.sqlite")
    memory.put_human([("Repairs would take weeks.", "ko", "수리는 몇 주가 걸립니다.", "review")])
    memory.close()
    again = run_batch(RunOptions(input=inp, out=out, config=cfg), loader=FakeLoader())
    assert again.manifest["counts"]["articles_unchanged"] == 0
    assert again.manifest["counts"]["segments_human"] >= 2
    assert "human translations were imported since" in again.manifest["reuse"]["changes"]


def test_run_with_no_good_article_never_becomes_latest(tmp_path):
    out = tmp_path / "out"
    cfg = Config.model_validate({
        "summarizer": {"model": "fake/sum", "generation": {"max_new_tokens_ratio": None}},
        "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}},
        "model_check": False})
    good = run_batch(RunOptions(input=story_input(tmp_path / "good", n=1), out=out, config=cfg),
                     loader=FakeLoader())
    assert (out / "latest").resolve() == good.run.path
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps({"id": f"x{i}", "body": "No title here."}) + "\n"
                           for i in range(25)), encoding="utf-8")
    failed = run_batch(RunOptions(input=bad, out=out, config=cfg), loader=FakeLoader())
    assert failed.manifest["status"] == "failed"
    assert failed.manifest["counts"]["bad_records"] == 25
    assert "latest was not moved" in failed.manifest["failure"]
    assert (out / "latest").resolve() == good.run.path


# ---------------------------------------------------------------- per-row budgets, cut outputs


def _cases(tiny: Path) -> list[tuple[str, str, str]]:
    return [("transformers", "marian", "zh-Hans"), ("transformers", "nllb", "ko"),
            ("ctranslate2", "marian", "zh-Hans"), ("ctranslate2", "nllb", "ko")]


@pytest.mark.parametrize("beams", [1, 3])
@pytest.mark.parametrize("case", range(4))
def test_a_row_is_the_same_alone_or_batched_and_cut_rows_are_flagged(tiny_models, tmp_path,
                                                                    monkeypatch, case, beams):
    backend_name, family, lang = _cases(tiny_models)[case]
    if backend_name == "ctranslate2":
        pytest.importorskip("ctranslate2")
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    from summarize.backends import load_backend
    from summarize.backends.base import flag_of

    spec = ModelSpec(model=str(tiny_models / family), backend=backend_name)
    backend = load_backend(spec, device="cpu", dtype="float32")
    settings = GenerationSettings(num_beams=beams, max_new_tokens=40, max_new_tokens_ratio=1.0,
                                  max_new_tokens_extra=1, min_new_tokens=0,
                                  no_repeat_ngram_size=0, repetition_penalty=1.0)
    texts = ["Prices rose.",
             "Officials said the plan would take effect next year after a public hearing.",
             "Rain.", "The council met on Monday to discuss the budget for schools and roads."]
    batched = backend.generate_batch(texts, lang, settings)
    alone = [backend.generate_batch([t], lang, settings)[0] for t in texts]
    assert batched == alone
    assert [flag_of(x) for x in batched] == [flag_of(x) for x in alone]
    # random weights rarely stop by themselves: what stopped at its budget says so
    assert any((flag_of(x) or "").startswith("truncated: ") for x in batched)
    budgets = [settings.budget(n) for n in backend.count_tokens(texts, lang)]
    assert len(set(budgets)) > 1  # the batch really mixes budgets


def test_multilingual_rows_are_the_same_alone_or_batched(tiny_models):
    from summarize.backends import load_backend

    backend: Any = load_backend(ModelSpec(model=str(tiny_models / "m2m100")), device="cpu",
                                dtype="float32")
    settings = GenerationSettings(num_beams=2, max_new_tokens=40, max_new_tokens_ratio=1.0,
                                  max_new_tokens_extra=1, min_new_tokens=0)
    texts = ["Prices rose.", "Officials said the plan would take effect next year after a hearing."]
    both = backend.generate_multi(texts, ["ko", "zh-Hans"], settings)
    for i, text in enumerate(texts):
        alone = backend.generate_multi([text], ["ko", "zh-Hans"], settings)
        assert {lang: both[lang][i] for lang in both} == {lang: alone[lang][0] for lang in alone}


def test_budget_is_the_rows_own_and_segments_fit_it():
    s = GenerationSettings(max_new_tokens=512, max_new_tokens_ratio=2.0, max_new_tokens_extra=16)
    assert s.budget(5) == 32 and s.budget(8) == 32 and s.budget(9) == 48  # rounded up to 16
    assert s.budget(1000) == 512
    limit = s.max_source_tokens()
    assert s.budget(limit) >= 2 * limit + 16  # a segment at the limit is never cut by the cap
    assert 2 * (limit + 1) + 16 > 512
