"""`summarize eval`: scores through the run's path and memory, references shipped and the user's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu
import yaml
from rouge_score import rouge_scorer
from typer.testing import CliRunner

from summarize.cli import app
from summarize.config import ModelSpec
from summarize.errors import RecordError
from summarize.pipeline.assemble import Translated
from summarize.quality import eval as ev
from summarize.quality import references, scores
from summarize.text.qa import QAFlag

FLORES = Path(__file__).resolve().parents[1] / "summarize" / "data" / "flores200"


def shipped(name: str) -> list[str]:
    return (FLORES / name).read_text(encoding="utf-8").removesuffix("\n").split("\n")


def invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


# ---------------------------------------------------------------------------- the shipped set


def test_flores_devtest_is_shipped_whole_with_its_licence():
    for name in ("eng_Latn.devtest", "kor_Hang.devtest", "zho_Hans.devtest"):
        assert len(shipped(name)) == 1012
    assert len(shipped("metadata_devtest.tsv")) == 1013  # header + one row per sentence
    assert "Attribution-ShareAlike 4.0" in (FLORES / "LICENSE").read_text()
    readme = (FLORES / "README.md").read_text()
    assert "NLLB Team et al." in readme and "CC-BY-SA 4.0" in readme
    refs = references.flores200()
    assert len(refs.items) == 1012 and refs.items[-1].id == "devtest:1012"
    assert refs.items[41].en == shipped("eng_Latn.devtest")[41]
    assert refs.items[41].targets["zh-Hans"] == shipped("zho_Hans.devtest")[41]
    assert [r.id for r in references.flores200(3).items] == ["devtest:1", "devtest:2", "devtest:3"]


# ---------------------------------------------------------------------------- end to end


def test_eval_two_configs_scores_match_sacrebleu_and_rerun_reuses_all(tiny_models, tmp_path):
    a, b = str(tiny_models / "config.yaml"), str(tiny_models / "config-m2m100.yaml")
    out, report = tmp_path / "out", tmp_path / "report.json"
    result = invoke("--config", a, "--config", b, "--set", "flores200", "--limit", "20",
                    "--out", str(out), "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    assert a in result.stdout and b in result.stdout and "chrF" in result.stdout
    data = json.loads(report.read_text())
    assert [c["config"] for c in data["configs"]] == [a, b]
    refs = {"ko": shipped("kor_Hang.devtest")[:20], "zh-Hans": shipped("zho_Hans.devtest")[:20]}
    for c in data["configs"]:
        assert [t["lang"] for t in c["translations"]] == ["ko", "zh-Hans"]
        assert c["segments_computed"] > 0
        for t in c["translations"]:
            outputs = [o["output"] for o in t["outputs"]]
            assert [o["id"] for o in t["outputs"]] == [f"devtest:{i}" for i in range(1, 21)]
            assert all(outputs)
            ref = [refs[t["lang"]]]
            tok = {"ko": "char", "zh-Hans": "zh"}[t["lang"]]
            assert t["chrf"] == round(sacrebleu.corpus_chrf(outputs, ref).score, 2)
            assert t["bleu"] == round(sacrebleu.corpus_bleu(outputs, ref, tokenize=tok).score, 2)
            assert t["qa"]["segments"] >= 20 and 0 <= t["qa"]["flagged_share"] <= 1
            assert t["licence"] == "unknown"  # local folders without a model card
            assert f"{t['chrf']:.1f}" in result.stdout
    m2m = data["configs"][1]["translations"]
    assert m2m[0]["fingerprint"] == m2m[1]["fingerprint"]  # one multilingual model, both languages

    again = tmp_path / "again.json"
    result = invoke("--config", a, "--set", "flores200", "--limit", "20", "--out", str(out),
                    "--json", str(again), "-q")
    assert result.exit_code == 0, result.output
    second = json.loads(again.read_text())["configs"][0]
    assert second["segments_computed"] == 0
    assert second["segments_reused"] == data["configs"][0]["segments_computed"]
    assert second["translations"] == data["configs"][0]["translations"]
    assert "0 computed" in result.output


def test_eval_stores_under_the_keys_a_run_uses(tiny_models, tmp_path):
    """A run over the same sentences finds every translation the eval generated."""
    config, out = str(tiny_models / "config.yaml"), tmp_path / "out"
    report = tmp_path / "r.json"
    result = invoke("--config", config, "--set", "flores200", "--limit", "3", "--out", str(out),
                    "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    computed = json.loads(report.read_text())["configs"][0]["segments_computed"]
    body = "\n\n".join(shipped("eng_Latn.devtest")[:3])
    articles = tmp_path / "in.jsonl"
    articles.write_text(json.dumps({"id": "a", "title": "Headline", "body": body}) + "\n")
    run = CliRunner().invoke(app, ["run", str(articles), "--config", config, "--out", str(out),
                                   "--quiet", "--no-check"])
    assert run.exit_code == 0, run.output
    counts = json.loads((out / "latest" / "manifest.json").read_text())["counts"]
    # Everything but the title and the summary's sentences comes from the eval's entries.
    assert counts["segments_reused"] == computed


def test_eval_own_references_with_bad_lines_and_a_summary(tiny_models, tmp_path):
    en = shipped("eng_Latn.devtest")
    lines = [
        json.dumps({"id": "s1", "en": en[0], "ko": "첫 번째 참조 번역입니다.", "zh-Hans": "第一个参考译文。"}),
        "{not json",
        json.dumps({"id": "s2", "en": en[1], "ko": "두 번째 참조 번역입니다."}),
        json.dumps({"id": "s3", "en": en[2], "zh": "中文"}),  # a typo'd language key
        "",
        json.dumps({"id": "art", "body": f"{en[3]}\n\n{en[4]}", "summary": "A reference summary."}),
        json.dumps(["a", "list"]),
    ]
    path = tmp_path / "refs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = tmp_path / "r.json"
    result = invoke("--config", str(tiny_models / "config.yaml"), "--refs", str(path),
                    "--out", str(tmp_path / "out"), "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    assert "refs.jsonl:2: malformed JSON" in result.output
    assert "refs.jsonl:4 (id 's3'): unknown key(s) 'zh'" in result.output
    assert "refs.jsonl:7: expected a JSON object" in result.output
    assert "3 reference line(s) skipped" in result.output
    data = json.loads(report.read_text())
    assert data["references"]["records"] == 3 and len(data["references"]["bad_records"]) == 3
    rows = {t["lang"]: t for t in data["configs"][0]["translations"]}
    assert [o["id"] for o in rows["ko"]["outputs"]] == ["s1", "s2"]
    assert [o["id"] for o in rows["zh-Hans"]["outputs"]] == ["s1"]
    ko = [o["output"] for o in rows["ko"]["outputs"]]
    expect = sacrebleu.corpus_chrf(ko, [["첫 번째 참조 번역입니다.", "두 번째 참조 번역입니다."]])
    assert rows["ko"]["chrf"] == round(expect.score, 2)
    summary = data["configs"][0]["summary"]
    assert summary["items"] == 1 and summary["outputs"][0]["output"]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = scorer.score("A reference summary.", summary["outputs"][0]["output"])
    for name in ("rouge1", "rouge2", "rougeL"):
        assert summary[name] == round(100 * scores[name].fmeasure, 2)
    assert "ROUGE-1" in result.stdout and summary["model"] in result.stdout


def test_eval_limit_applies_to_own_references(tiny_models, tmp_path):
    en = shipped("eng_Latn.devtest")
    path = tmp_path / "refs.jsonl"
    path.write_text("".join(json.dumps({"en": en[i], "ko": "참조"}) + "\n" for i in range(4)))
    report = tmp_path / "r.json"
    result = invoke("--config", str(tiny_models / "config.yaml"), "--refs", str(path), "--limit",
                    "2", "--out", str(tmp_path / "out"), "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    rows = json.loads(report.read_text())["configs"][0]["translations"]
    assert [t["lang"] for t in rows] == ["ko"]  # no zh-Hans references: no zh-Hans row
    assert [o["id"] for o in rows[0]["outputs"]] == ["line 1", "line 2"]


def test_eval_applies_the_configs_glossary(tiny_models, tmp_path):
    cfg = yaml.safe_load((tiny_models / "config.yaml").read_text())
    cfg["glossary"] = {"Wikinews": {"ko": "위키뉴스", "zh-Hans": "维基新闻"}}
    config = tmp_path / "glossary.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"en": "Wikinews reported the storm on Monday.", "ko": "참조",
                                "zh-Hans": "参考"}) + "\n")
    report = tmp_path / "r.json"
    result = invoke("--config", str(config), "--refs", str(path), "--out", str(tmp_path / "out"),
                    "--json", str(report), "-q")
    assert result.exit_code == 0, result.output
    rows = {t["lang"]: t for t in json.loads(report.read_text())["configs"][0]["translations"]}
    assert "위키뉴스" in rows["ko"]["outputs"][0]["output"]
    assert "维基新闻" in rows["zh-Hans"]["outputs"][0]["output"]


def test_eval_reports_failed_segments_and_exits_3(tmp_path, monkeypatch):
    from tests.fakes import FakeLoader

    monkeypatch.setattr("summarize.backends.load_backend", FakeLoader(poison="storm"))
    config = tmp_path / "fake.yaml"
    config.write_text(yaml.safe_dump({
        "summarizer": {"model": "fake/sum"}, "model_check": False,
        "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}}}))
    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"id": "calm", "en": "The sea was calm.", "ko": "바다는 잔잔했다."})
                    + "\n" + json.dumps({"id": "bad", "en": "A storm came.", "ko": "폭풍이 왔다."})
                    + "\n")
    report = tmp_path / "r.json"
    result = invoke("--config", str(config), "--refs", str(path), "--out", str(tmp_path / "out"),
                    "--json", str(report), "-q")
    assert result.exit_code == 3, result.output
    assert "1 segment(s)/summaries could not be generated" in result.output
    row = json.loads(report.read_text())["configs"][0]["translations"][0]
    assert row["failed_segments"] == 1 and row["failures"][0].startswith("bad: ")
    outputs = {o["id"]: o["output"] for o in row["outputs"]}
    assert outputs["calm"] and outputs["bad"] == ""  # scored as empty, and said so


class _EmptyLoader:
    """FakeLoader's backends, answering every prompt with an empty string."""

    def __init__(self):
        from tests.fakes import FakeLoader

        self.inner = FakeLoader()

    def __call__(self, spec, device="auto", dtype="auto"):
        backend = self.inner(spec, device, dtype)
        backend.generate_batch = lambda texts, lang, settings: [""] * len(texts)
        return backend


def test_eval_exits_3_when_every_output_is_empty(tmp_path, monkeypatch):
    """A model that answers nothing makes `summarize run` exit 3; eval too, and says where."""
    monkeypatch.setattr("summarize.backends.load_backend", _EmptyLoader())
    config = tmp_path / "fake.yaml"
    config.write_text(yaml.safe_dump({
        "summarizer": {"model": "fake/sum"}, "model_check": False,
        "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}}}))
    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"id": "sea", "en": "The sea was calm.", "ko": "바다는 잔잔했다."})
                    + "\n" + json.dumps({"id": "art", "body": "Rain fell in Seoul on Monday.",
                                         "summary": "It rained."}) + "\n")
    report = tmp_path / "r.json"
    result = invoke("--config", str(config), "--refs", str(path), "--out", str(tmp_path / "out"),
                    "--json", str(report), "-q")
    assert result.exit_code == 3, result.output
    assert "2 segment(s)/summaries" in result.output
    data = json.loads(report.read_text())["configs"][0]
    [row] = data["translations"]
    assert (row["failed_segments"], row["empty_outputs"]) == (0, 1)
    assert row["failures"] == ["sea: ko body paragraph 0: the translation is empty"]
    assert (data["summary"]["failed"], data["summary"]["empty"]) == (0, 1)
    assert data["summary"]["failures"] == ["art: the summariser returned no text"]


def test_failed_count_adds_failed_and_empty_outputs():
    def config(failed, empty, summary):
        return {"translations": [{"failed_segments": failed, "empty_outputs": empty}],
                "summary": summary}

    assert ev.failed_count({"configs": [config(0, 0, None)]}) == 0
    assert ev.failed_count({"configs": [config(0, 2, None),
                                        config(1, 0, {"failed": 0, "empty": 3})]}) == 6


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--set", "flores200", "--refs", "x.jsonl"], 2, "either --set flores200 or --refs"),
        ([], 2, "either --set flores200 or --refs"),
        (["--refs", "missing.jsonl"], 2, "cannot read references"),
    ],
)
def test_eval_usage_errors(tiny_models, tmp_path, args, code, message):
    result = invoke("--config", str(tiny_models / "config.yaml"), "--out", str(tmp_path), *args)
    assert result.exit_code == code and message in result.output, result.output


def test_eval_bad_config_and_missing_model(tiny_models, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("summarizer: {model: x}\ntranslators: {}\nnonsense: 1\n")
    result = invoke("--config", str(bad), "--set", "flores200", "--out", str(tmp_path))
    assert result.exit_code == 2 and "nonsense: unknown key" in result.output
    cfg = yaml.safe_load((tiny_models / "config.yaml").read_text())
    cfg["translators"]["ko"]["model"] = str(tmp_path / "no-such-model")
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(cfg))
    result = invoke("--config", str(missing), "--set", "flores200", "--limit", "2",
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 4 and "no-such-model" in result.output, result.output


def test_eval_refs_without_a_usable_line(tmp_path, tiny_models):
    path = tmp_path / "refs.jsonl"
    path.write_text('{"en": "Only a source."}\n')
    result = invoke("--config", str(tiny_models / "config.yaml"), "--refs", str(path),
                    "--out", str(tmp_path))
    assert result.exit_code == 2 and "no usable references" in result.output
    assert "refs.jsonl:1: nothing to evaluate" in result.output


# ---------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"ko": "번역"}, "without the English source en"),
        ({"en": "Hi.", "ko": 3}, "ko is not a string"),
        ({"en": "Hi.", "ko": "  "}, "ko is empty"),
        ({"body": "Text.", "en": "Hi.", "ko": "안녕"}, "body given without a reference summary"),
        ({"body": "A.", "text": "B.", "summary": "S."}, "both body and text"),
        ({"summary": "S."}, "summary given without the article"),
        ({"en": "Hi.", "id": [1]}, "id is not a string or number"),
        ({"en": "Hi."}, "nothing to evaluate"),
    ],
)
def test_bad_reference_records(obj, reason):
    with pytest.raises(RecordError, match=reason):
        references.parse_reference(obj, 1)


def test_reference_record_forms():
    r = references.parse_reference({"id": 7, "en": "Hi.", "zh-Hans": "你好。", "summary": "S."}, 3)
    assert (r.id, r.en, r.targets, r.article, r.summary) == ("7", "Hi.", {"zh-Hans": "你好。"},
                                                             "Hi.", "S.")
    r = references.parse_reference({"text": "A long article.", "summary": "S."}, 4)
    assert (r.id, r.en, r.targets, r.article) == ("line 4", None, {}, "A long article.")


def test_bleu_tokenizers_per_language():
    # Korean without spaces: character BLEU sees the overlap, whitespace tokenisation does not.
    hyp, ref = ["서울에서회의가열렸다"], ["서울에서 회의가 열렸다"]
    ko = scores.translation_scores(hyp, ref, "ko")
    assert ko["bleu_tokenize"] == "char"
    assert ko["bleu"] == round(sacrebleu.corpus_bleu(hyp, [ref], tokenize="char").score, 2)
    assert ko["bleu"] > 50 > sacrebleu.corpus_bleu(hyp, [ref], tokenize="13a").score
    zh = scores.translation_scores(["会议在首尔举行。"], ["会议在首尔举行。"], "zh-Hans")
    assert zh == {"chrf": 100.0, "bleu": 100.0, "bleu_tokenize": "zh"}


def test_qa_rates_count_segments_per_check():
    results = [Translated("a", "model"),
               Translated("b", "model", [QAFlag("length_ratio", ""), QAFlag("number_mismatch", "")]),
               Translated("c", "model", [QAFlag("number_mismatch", "1"), QAFlag("number_mismatch", "2")]),
               Translated("d", "model")]
    rates = scores.qa_rates(results)
    assert rates["flagged"] == 2 and rates["flagged_share"] == 0.5
    assert rates["checks"] == {"length_ratio": {"segments": 1, "share": 0.25},
                               "number_mismatch": {"segments": 2, "share": 0.5}}


def test_model_licence_from_card_then_table(tmp_path):
    card = tmp_path / "model"
    card.mkdir()
    (card / "README.md").write_text("---\nlanguage: [en, ko]\nlicense: cc-by-4.0\n---\n# Model\n")
    assert scores.model_licence(ModelSpec(model=str(card)), {}) == "cc-by-4.0"
    # a hub model whose snapshot holds the card
    assert scores.model_licence(ModelSpec(model="org/x"), {"local_path": str(card)}) == "cc-by-4.0"
    hub = ModelSpec(model="facebook/nllb-200-distilled-600M")
    assert scores.model_licence(hub, {"local_path": ""}) == "cc-by-nc-4.0"
    (card / "README.md").write_text("# A card without front matter\n")
    assert scores.model_licence(ModelSpec(model=str(card)), {}) == "unknown"


def test_rouge_is_the_mean_f_measure():
    outputs = ["the cat sat on the mat today", "rain fell in seoul"]
    refs = ["the cat sat on the mat", "heavy rain fell in seoul on monday"]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    got = scores.rouge_scores(outputs, refs)
    for name in ("rouge1", "rouge2", "rougeL"):
        mean = sum(scorer.score(r, o)[name].fmeasure for o, r in zip(outputs, refs, strict=True)) / 2
        assert got[name] == round(100 * mean, 2)
    assert 0 < got["rouge2"] < got["rouge1"] < 100
