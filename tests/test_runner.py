"""The runner on a fake backend: contracts of the run folder, caching, failures, glossary."""

import json
import shutil
from pathlib import Path

import pytest

from summarize.config import Config
from summarize.pipeline.runner import RunOptions, run_batch
from summarize.runs.memory import Memory
from summarize.runs.store import OutputDir
from summarize.text.segment import split_paragraphs
from tests.fakes import FakeLoader

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"
BROKEN = ROOT / "examples" / "broken"


def config(**extra) -> Config:
    data = {
        "summarizer": {"model": "fake/sum", "generation": {"max_new_tokens": 60, "max_new_tokens_ratio": None,
                                                           "min_new_tokens": 0}},
        "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}},
        "model_check": False,  # fake output fails the canary check by design
    }
    data.update(extra)
    return Config.model_validate(data)


def run(inp: Path, out: Path, loader=None, cfg=None, **kw):
    loader = loader or FakeLoader()
    result = run_batch(RunOptions(input=inp, out=out, config=cfg or config(), **kw), loader=loader)
    return result, loader


def articles(run_dir: Path) -> dict[str, dict]:
    root = run_dir / "articles"
    return {p.relative_to(root).with_suffix("").as_posix(): json.loads(p.read_text())
            for p in sorted(root.rglob("*.json"))}


def test_examples_produce_complete_contract(tmp_path):
    result, _ = run(EXAMPLES, tmp_path)
    m = result.manifest
    assert m["status"] == "complete"
    assert (tmp_path / "latest").resolve() == result.run.path
    assert m["counts"]["articles_ok"] == 8 and m["counts"]["articles_failed"] == 0
    for key in ("run_id", "config_hash", "config", "models", "packages", "inputs", "counts",
                "started_at", "finished_at", "timings"):
        assert key in m, key
    assert {e["task"] for e in m["models"]} == {"summarize", "translate"}
    assert all(f["sha256"] and len(f["sha256"]) == 64 for f in m["inputs"]["files"])
    docs = articles(result.run.path)
    assert len(docs) == 8
    for aid, doc in docs.items():
        assert doc["id"] == aid
        assert doc["source"]["lang"] == "en"
        n = len(split_paragraphs(doc["source"]["body"]))
        assert "\n\n\n" not in doc["source"]["body"]
        assert doc["summary"]["en"]
        for lang in ("ko", "zh-Hans"):
            tr = doc["translations"][lang]
            assert tr["title"] and doc["summary"][lang]
            assert len(split_paragraphs(tr["body"])) == n, (aid, lang)
            assert tr["body"].count("\n\n") == n - 1
        for seg in doc["segments"]:
            assert seg["origin"] == {"ko": "model", "zh-Hans": "model"}
    assert (result.run.path / "errors.jsonl").read_text() == ""


def test_no_model_codes_leak(tmp_path):
    result, _ = run(EXAMPLES, tmp_path)
    blob = "".join(p.read_text() for p in (result.run.path / "articles").rglob("*.json"))
    for code in ("kor_Hang", "zho_Hans", ">>cmn_Hans<<", "ko_KR", "zh_CN", "__ko__"):
        assert code not in blob


def test_broken_inputs_reported_rest_processed(tmp_path):
    result, _ = run(BROKEN, tmp_path)
    errors = [json.loads(line) for line in (result.run.path / "errors.jsonl").read_text().splitlines()]
    assert len(errors) == result.manifest["counts"]["bad_records"] >= 10
    assert all(e["file"] and e["reason"] for e in errors)
    assert any(e["line"] for e in errors)  # jsonl/csv records carry their line
    assert result.manifest["counts"]["articles_ok"] == 3
    assert result.articles_failed == len(errors)
    assert result.manifest["status"] == "complete"


def test_unchanged_rerun_computes_nothing_and_is_identical(tmp_path):
    first, _ = run(EXAMPLES, tmp_path / "out")
    assert first.manifest["counts"]["segments_computed"] > 0
    second, loader = run(EXAMPLES, tmp_path / "out")
    assert second.run.path != first.run.path
    assert second.manifest["counts"]["segments_computed"] == 0
    assert all(not be.calls for be in loader.backends.values())
    a, b = articles(first.run.path), articles(second.run.path)
    assert {k: (v["translations"], v["summary"]) for k, v in a.items()} == \
        {k: (v["translations"], v["summary"]) for k, v in b.items()}


def test_editing_one_sentence_recomputes_only_its_units(tmp_path):
    inp = tmp_path / "in"
    shutil.copytree(EXAMPLES, inp)
    run(inp, tmp_path / "out")
    txt = inp / "world" / "delta-floods.txt"
    text = txt.read_text()
    paras = text.split("\n\n")
    old_sentence = "Officials said the water began to recede on Tuesday."
    paras[2] = paras[2].rstrip() + " " + old_sentence
    txt.write_text("\n\n".join(paras))
    run(inp, tmp_path / "out")  # baseline with the extra sentence
    txt.write_text(txt.read_text().replace(old_sentence, "Officials said the water began to fall on Tuesday."))
    result, loader = run(inp, tmp_path / "out")
    translated = loader.generated("fake/multi")
    summarised = loader.generated("fake/sum")
    # the edited sentence in both languages, plus whatever summary sentences changed
    assert translated.count("Officials said the water began to fall on Tuesday.") == 2
    body_units = [t for t in translated if "fall on Tuesday" in t]
    assert len(body_units) == 2
    assert len(summarised) == 1  # the article is summarised in one go: its summary is redone
    others = [t for t in translated if t != "Officials said the water began to fall on Tuesday."]
    summary_en = articles(result.run.path)["world/delta-floods"]["summary"]["en"]
    assert all(o in summary_en for o in others), others  # only summary sentences besides the edit
    assert result.manifest["counts"]["segments_computed"] == len(translated) + len(summarised)


def test_changed_setting_recomputes_what_it_affects(tmp_path):
    run(EXAMPLES, tmp_path / "out")
    cfg = config(translators={"ko": {"model": "fake/multi", "generation": {"num_beams": 2}},
                              "zh-Hans": {"model": "fake/multi"}})
    result, loader = run(EXAMPLES, tmp_path / "out", cfg=cfg)
    langs = {lang for lang, _ in loader.backends["fake/multi"].calls}
    assert langs == {"ko"}
    assert not loader.generated("fake/sum")
    assert result.manifest["counts"]["segments_reused"] > 0


def test_no_cache_recomputes_everything(tmp_path):
    run(EXAMPLES, tmp_path / "out")
    result, _ = run(EXAMPLES, tmp_path / "out", use_cache=False)
    assert result.manifest["counts"]["segments_reused"] == 0
    assert result.manifest["counts"]["segments_computed"] > 0


def test_long_article_is_summarised_map_reduce(tmp_path):
    loader = FakeLoader(windows={"fake/sum": 120})
    result, loader = run(EXAMPLES, tmp_path, loader=loader)
    doc = articles(result.run.path)["world/delta-floods"]
    assert doc["summary_levels"] >= 2
    calls = loader.backends["fake/sum"].calls
    assert all(len(t.split()) + 2 <= 120 for _, texts in calls for t in texts)  # nothing truncated
    assert result.manifest["counts"]["articles_failed"] == 0


def test_long_sentence_is_split_not_truncated(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    words = " ".join(f"word{i}," for i in range(200))
    (inp / "long.txt").write_text(f"A title\n\nShort opener. {words} end.\n\nSecond paragraph here.\n")
    loader = FakeLoader(windows={"fake/multi": 40})
    result, loader = run(inp, tmp_path / "out", loader=loader)
    doc = articles(result.run.path)["long"]
    body_segments = [s for s in doc["segments"] if s["part"] == "body" and s["para"] == 0]
    assert len(body_segments) > 5
    assert " ".join(s["en"] for s in body_segments).replace(" ", "") == doc["source"]["body"].split("\n\n")[0].replace(" ", "")
    assert len(split_paragraphs(doc["translations"]["ko"]["body"])) == 2


def test_generation_failure_fails_only_its_article(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "good.txt").write_text("Good title\n\nAll is well here.\n")
    (inp / "bad.txt").write_text("Bad title\n\nThis contains POISON text.\n")
    result, _ = run(inp, tmp_path / "out", loader=FakeLoader(poison="POISON"))
    assert result.manifest["counts"]["articles_ok"] == 1
    assert result.manifest["counts"]["articles_failed"] == 1
    err = json.loads((result.run.path / "errors.jsonl").read_text())
    assert err["id"] == "bad" and "poisoned input" in err["reason"]
    assert set(articles(result.run.path)) == {"good"}


def test_glossary_and_markup_survive(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.md").write_text(
        "---\ntitle: UNHCR opens office\n---\n"
        "The UNHCR said [the report](https://example.org/r.pdf) is out. Write to press@example.org or run `make it`.\n"
    )
    cfg = config(glossary={"UNHCR": {"ko": "유엔난민기구", "zh-Hans": "联合国难民署"}})
    result, _ = run(inp, tmp_path / "out", cfg=cfg)
    doc = articles(result.run.path)["a"]
    ko, zh = doc["translations"]["ko"], doc["translations"]["zh-Hans"]
    assert "유엔난민기구" in ko["title"] and "联合国难民署" in zh["title"]
    for body in (ko["body"], zh["body"]):
        assert body.count("](https://example.org/r.pdf)") == 1
        assert body.count("press@example.org") == 1 and body.count("`make it`") == 1
    assert result.manifest["glossary"]


def test_human_translation_wins(tmp_path):
    first, _ = run(EXAMPLES, tmp_path / "out")
    doc = articles(first.run.path)["world/delta-floods"]
    seg = next(s for s in doc["segments"] if s["part"] == "body")
    mem = Memory(OutputDir(tmp_path / "out").memory_path)
    mem.put_human([(seg["en"], "ko", "사람이 고친 번역입니다.", "review.xlf")])
    mem.close()
    result, _ = run(EXAMPLES, tmp_path / "out")
    doc2 = articles(result.run.path)["world/delta-floods"]
    seg2 = next(s for s in doc2["segments"] if s["en"] == seg["en"])
    assert seg2["ko"] == "사람이 고친 번역입니다." and seg2["origin"]["ko"] == "human"
    assert "사람이 고친 번역입니다." in doc2["translations"]["ko"]["body"]
    assert result.manifest["counts"]["segments_human"] >= 1


def test_fail_on_qa_counts_flagged_articles(tmp_path):
    """Korean output left in English is flagged; --fail-on-qa turns those articles into failures."""
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("Title here\n\nThe council met on Monday.\n")
    (inp / "b.txt").write_text("Other title\n\nThe bridge opened in May.\n")

    def english_for_b(spec, device="auto", dtype="auto"):
        be = FakeLoader.__call__(loader, spec, device, dtype)
        real = be.generate_batch
        be.generate_batch = lambda texts, lang, settings: [
            t if lang == "ko" and "bridge" in t else out
            for t, out in zip(texts, real(texts, lang, settings), strict=True)]
        return be

    loader = FakeLoader()
    ok = run_batch(RunOptions(input=inp, out=tmp_path / "o1", config=config()), loader=english_for_b)
    counts = ok.manifest["counts"]
    assert counts["articles_flagged"] == 1 and counts["articles_failed"] == 0
    loader = FakeLoader()
    strict = run_batch(RunOptions(input=inp, out=tmp_path / "o2", config=config(), fail_on_qa=True),
                       loader=english_for_b)
    assert strict.manifest["counts"]["articles_failed"] == 1
    assert strict.manifest["counts"]["articles_ok"] == 1


@pytest.mark.parametrize("window_articles", [1, 3])
def test_windows_do_not_change_results(tmp_path, window_articles):
    base, _ = run(EXAMPLES, tmp_path / "a")
    small, _ = run(EXAMPLES, tmp_path / "b", cfg=config(batch={"window_articles": window_articles}))
    a, b = articles(base.run.path), articles(small.run.path)
    assert {k: v["translations"] for k, v in a.items()} == {k: v["translations"] for k, v in b.items()}


def test_origin_says_memory_on_reuse(tmp_path):
    inp = tmp_path / "in"
    shutil.copytree(EXAMPLES, inp)
    run(inp, tmp_path / "out")
    story = inp / "world" / "delta-floods.txt"
    story.write_text("A new headline for the floods\n" + story.read_text().partition("\n")[2])
    again, _ = run(inp, tmp_path / "out")
    doc = articles(again.run.path)["world/delta-floods"]
    origins = {(s["part"], o) for s in doc["segments"] for o in s["origin"].values()}
    # the edited title is new; the unchanged body comes from the memory
    assert ("title", "model") in origins and ("title", "memory") not in origins
    assert ("body", "memory") in origins and ("body", "model") not in origins


def test_empty_summary_is_flagged_not_silent(tmp_path):
    loader = FakeLoader()

    def blank_summaries(spec, device="auto", dtype="auto"):
        be = loader(spec, device, dtype)
        if spec.model == "fake/sum":
            be.generate_batch = lambda texts, lang, settings: ["" for _ in texts]
        return be

    result = run_batch(RunOptions(input=EXAMPLES / "briefs.jsonl", out=tmp_path, config=config()),
                       loader=blank_summaries)
    docs = articles(result.run.path)
    assert docs and all({"segment": "summary", "language": "en", "check": "empty",
                         "detail": "the summariser returned no text"} in d["qa"] for d in docs.values())
    assert result.manifest["counts"]["qa_flags"]["empty"] == len(docs)


def _with_output(transform):
    """A loader whose translations go through ``transform(text, lang, source)``."""
    loader = FakeLoader()

    def load(spec, device="auto", dtype="auto"):
        be = loader(spec, device, dtype)
        if spec.model == "fake/multi" and not hasattr(be, "_wrapped"):
            be._wrapped = True
            real = be.generate_batch
            be.generate_batch = lambda texts, lang, settings: [
                transform(out, lang, src) for src, out in zip(texts, real(texts, lang, settings), strict=True)]
        return be

    return load


def test_line_breaks_in_any_output_never_add_paragraphs(tmp_path):
    """Model (and CT2) output with blank lines, and a human translation with one, keep every
    translation at exactly its source's paragraph count."""
    load = _with_output(lambda out, lang, src: out.replace(" ", "\n\n", 1) + "\r\n\u2029")
    result = run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=config()), loader=load)
    docs = articles(result.run.path)
    doc = docs["world/delta-floods"]
    Memory(OutputDir(tmp_path).memory_path).put_human(
        [(doc["segments"][1]["en"], "ko", "첫 줄\n\n둘째 줄", "review.xlf")])
    again = run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=config()), loader=load)
    for d in [*docs.values(), *articles(again.run.path).values()]:
        n = len(split_paragraphs(d["source"]["body"]))
        for lang in ("ko", "zh-Hans"):
            assert len(split_paragraphs(d["translations"][lang]["body"])) == n
            assert "\n" not in d["translations"][lang]["title"]
            assert all("\n" not in (s[lang] or "") for s in d["segments"])
    assert again.manifest["counts"]["segments_human"] == 1


def test_an_all_empty_paragraph_fails_its_article_not_the_contract(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("A title\n\nFirst paragraph here.\n\nVanishing paragraph.\n")
    (inp / "b.txt").write_text("Other title\n\nAll fine here.\n")
    load = _with_output(lambda out, lang, src: "" if "Vanishing" in src else out)
    result = run_batch(RunOptions(input=inp, out=tmp_path / "out", config=config()), loader=load)
    assert result.manifest["counts"]["articles_failed"] == 1
    assert set(articles(result.run.path)) == {"b"}
    errors = (result.run.path / "errors.jsonl").read_text()
    assert "body paragraph 1: the translation is empty" in errors


def test_a_run_reads_each_input_file_once(tmp_path, monkeypatch):
    import builtins
    import hashlib
    import io
    import os
    from collections import Counter

    inp = tmp_path / "in"
    shutil.copytree(EXAMPLES, inp)
    opened: Counter[str] = Counter()
    real_open = io.open

    def counting_open(file, *args, **kwargs):
        if isinstance(file, str | bytes | os.PathLike):
            path = Path(os.fsdecode(file))
            if path.is_relative_to(inp):
                opened[path.relative_to(inp).as_posix()] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    result, _ = run(inp, tmp_path / "out")
    monkeypatch.undo()
    files = sorted(p.relative_to(inp).as_posix() for p in inp.rglob("*") if p.is_file())
    # Twice: hashed in chunks before the run (the resume key), then streamed and parsed with
    # its hash checked again, so the records always come from the bytes the manifest names.
    assert opened == dict.fromkeys(files, 2)
    listed = {f["path"]: f["sha256"] for f in result.manifest["inputs"]["files"]}
    assert listed == {f: hashlib.sha256((inp / f).read_bytes()).hexdigest() for f in files}
