"""The model check, the warm-up and systemic failures: broken models stop a run before work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from summarize.cli import app
from summarize.config import Config, load_config
from summarize.errors import GenerationError, ModelCheckError, ModelLoadError
from summarize.models import check as modelcheck
from summarize.pipeline.runner import RunOptions, run_batch
from tests.fakes import FakeLoader

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"
SENTENCES = modelcheck.canary()["sentences"]
SOURCES = [s["en"] for s in SENTENCES]


def fake_config(**extra: Any) -> Config:
    data = {"summarizer": {"model": "fake/sum"},
            "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}}}
    return Config.model_validate({**data, **extra})


# ---------------------------------------------------------------------- judging


@pytest.mark.parametrize("lang", ["ko", "zh-Hans"])
def test_professional_translations_pass(lang):
    scores, problems = modelcheck.judge_translations([s[lang] for s in SENTENCES], SOURCES,
                                                     [s[lang] for s in SENTENCES], lang)
    assert problems == [] and scores["chrf"] == 100.0 and scores["script_share"] > 0.99


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [
        (SOURCES, "not in ko's script"),  # left in English
        ([s["zh-Hans"] for s in SENTENCES], "not in ko's script"),  # the wrong language
        (["" for _ in SOURCES], "outputs are empty"),
        (["그는 그는 그는 그는 그는 그는 말했다" for _ in SOURCES], "repeat themselves"),
        ([s["ko"][:8] for s in SENTENCES], "output length"),
        # fluent Korean of the wrong sentences: right script, right length, meaningless
        ([s["ko"] for s in SENTENCES[1:]] + [SENTENCES[0]["ko"]], "chrF"),
        ([None] * len(SOURCES), "could not be generated"),
    ],
)
def test_broken_outputs_fail(outputs, problem):
    _, problems = modelcheck.judge_translations(outputs, SOURCES, [s["ko"] for s in SENTENCES], "ko")
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("lang", ["ko", "zh-Hans"])
def test_fluent_translations_of_other_sentences_score_under_10(lang):
    """What the README promises about the threshold: real text, wrong meaning, chrF < 10."""
    refs = [s[lang] for s in SENTENCES]
    assert modelcheck.chrf(refs[1:] + refs[:1], refs) < 10 < modelcheck.MIN_CHRF + 10


def test_summary_judging():
    article = modelcheck.canary()["article"]["body"]
    extractive = "Around 60 cases of malfunctioning iPods overheating have been reported in Japan."
    assert modelcheck.judge_summary(extractive, article)[1] == []
    assert any("content words" in p for p in modelcheck.judge_summary(
        "Weather forecasts predict heavy snowfall across mountain passes tomorrow.", article)[1])
    assert any("empty" in p for p in modelcheck.judge_summary("", article)[1])
    assert any("not English" in p for p in modelcheck.judge_summary("아이팟 과열 사고가 보고됐다.", article)[1])


def test_canary_ships_its_licence():
    from importlib import resources

    data = resources.files("summarize.data")
    assert "CC-BY-SA" in data.joinpath("README.md").read_text(encoding="utf-8")
    assert "Attribution-ShareAlike" in data.joinpath("FLORES-200-LICENSE").read_text(encoding="utf-8")
    assert len(SENTENCES) == 12 and all(s["ko"] and s["zh-Hans"] for s in SENTENCES)


# ---------------------------------------------------------------------- the tiny models fail it


@pytest.mark.parametrize("config_name", ["config.yaml", "config-m2m100.yaml"])
def test_models_check_fails_on_tiny_models_and_says_why(tiny_models, config_name):
    result = CliRunner().invoke(app, ["models", "check", "--config", str(tiny_models / config_name),
                                      "--device", "cpu"])
    assert result.exit_code == 4, result.output
    assert "model check failed" in result.output
    for lang in ("ko", "zh-Hans"):
        assert f"translate {lang} " in result.output
    assert "chrF" in result.output and "summarize en" in result.output
    assert "Traceback" not in result.output


def test_run_checks_models_before_any_work(tiny_models, tmp_path):
    data = yaml.safe_load((tiny_models / "config.yaml").read_text(encoding="utf-8"))
    data["model_check"] = True
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(EXAMPLES), "--config", str(cfg), "--out",
                                      str(tmp_path / "out"), "-q"])
    assert result.exit_code == 4, result.output
    assert "model check failed" in result.output and "--no-check" in result.output
    run_dir = next((tmp_path / "out").glob("2*"))
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
    assert not list((run_dir / "articles").rglob("*.json")) if (run_dir / "articles").exists() else True
    skipped = CliRunner().invoke(app, ["run", str(EXAMPLES), "--config", str(cfg), "--out",
                                       str(tmp_path / "out"), "-q", "--no-check"])
    assert skipped.exit_code == 0, skipped.output


def test_a_passing_check_is_remembered_per_model_version(tmp_path, monkeypatch):
    calls: list[str] = []
    real = modelcheck.check_translator

    def passing_translator(backend, spec, langs, config, fp):
        calls.append(spec.model)
        verdicts = real(backend, spec, langs, config, fp)
        for v in verdicts:
            v.problems.clear()
        return verdicts

    monkeypatch.setattr(modelcheck, "check_translator", passing_translator)
    monkeypatch.setattr(modelcheck, "judge_summary", lambda summary, article: ({}, []))
    cfg = fake_config(model_check=True)
    first = run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=cfg), loader=FakeLoader())
    assert calls == ["fake/multi"]
    assert [c["cached"] for c in first.manifest["model_checks"]] == [False, False, False]
    again = run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=cfg), loader=FakeLoader())
    assert calls == ["fake/multi"]  # not checked again
    assert [c["cached"] for c in again.manifest["model_checks"]] == [True, True, True]
    # another model version (a changed fingerprint) is checked again
    other = FakeLoader()
    run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=fake_config(
        model_check=True, translators={"ko": {"model": "fake/other"}, "zh-Hans": {"model": "fake/other"}})),
        loader=other)
    assert calls == ["fake/multi", "fake/other"]


def test_a_failing_check_is_not_remembered(tmp_path):
    cfg = fake_config(model_check=True)
    for _ in range(2):
        with pytest.raises(ModelCheckError, match="fake/multi"):
            run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=cfg), loader=FakeLoader())


# ---------------------------------------------------------------------- warm-up and systemic errors


class Broken(FakeLoader):
    """Fake backends whose generate fails after ``after`` successful calls, with ``error``."""

    def __init__(self, error: Exception, after: int = 0, model: str = "fake/multi"):
        super().__init__()
        self.error, self.after, self.model = error, after, model
        self.calls = 0

    def __call__(self, spec, device="auto", dtype="auto"):
        be = super().__call__(spec, device, dtype)
        if spec.model == self.model and not hasattr(be, "_broken"):
            be._broken = True
            real = be.generate_batch

            def generate_batch(texts, lang, settings):
                self.calls += 1
                if self.calls > self.after:
                    raise self.error
                return real(texts, lang, settings)

            be.generate_batch = generate_batch
        return be


def test_warm_up_failure_is_a_load_error_naming_model_and_device(tmp_path):
    loader = Broken(RuntimeError("expected scalar type Half but found Float"))
    with pytest.raises(ModelLoadError, match=r"fake/multi on cpu cannot generate.*warm-up.*num_beams=4"
                       r".*expected scalar type Half"):
        run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=fake_config(model_check=False)),
                  loader=loader)
    assert loader.calls == 1


@pytest.mark.parametrize("error", [RuntimeError("CUDA error: an illegal memory access was encountered"),
                                   IndexError("index 4 is out of bounds for dimension 0 with size 2")])
def test_systemic_error_mid_run_stops_within_one_batch(tmp_path, error):
    loader = Broken(error, after=2)  # warm-up passes (one call per language), then it breaks
    with pytest.raises(GenerationError, match="fake/multi on cpu") as info:
        run_batch(RunOptions(input=EXAMPLES, out=tmp_path, config=fake_config(model_check=False)),
                  loader=loader)
    assert str(error)[:30] in str(info.value)
    assert loader.calls <= 2 + 2  # the failing batch, and at most the canary
    run_dir = next(tmp_path.glob("2*"))
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"


def test_systemic_error_exit_code_through_the_cli(tiny_models, tmp_path, monkeypatch):
    from summarize.backends import hf

    original = hf.HFBackend.generate_batch
    state = {"calls": 0}

    def failing(self, texts, lang, settings):
        state["calls"] += 1
        if state["calls"] > 3:  # after the warm-ups
            raise RuntimeError("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling cublasGemmEx")
        return original(self, texts, lang, settings)

    monkeypatch.setattr(hf.HFBackend, "generate_batch", failing)
    monkeypatch.setattr(hf.HFBackend, "generate_multi", lambda self, t, langs, s: {
        lang: failing(self, t, lang, s) for lang in langs})
    result = CliRunner().invoke(app, ["run", str(EXAMPLES), "--config", str(tiny_models / "config.yaml"),
                                      "--out", str(tmp_path), "-q"])
    assert result.exit_code == 4, result.output
    assert "CUBLAS_STATUS_EXECUTION_FAILED" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1  # one clear message


def test_load_config_keeps_model_check_out_of_the_hash(tiny_models):
    on = load_config(tiny_models / "config.yaml", {"model_check": True})
    off = load_config(tiny_models / "config.yaml", {"model_check": False})
    assert on.hash() == off.hash()
