"""Issue-level flow: a run with a glossary, exported three ways; a reviewed XLIFF wins next run."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from summarize.cli import app
from summarize.config import Config
from summarize.export import export_run
from summarize.pipeline.runner import RunOptions, run_batch
from tests.fakes import FakeLoader

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"
XLIFF_NS = "urn:oasis:names:tc:xliff:document:2.0"
GLOSSARY = {"World Health Organization": {"ko": "세계보건기구", "zh-Hans": "世界卫生组织"},
            "UNHCR": {"ko": "유엔난민기구", "zh-Hans": "联合国难民署"}}


def cfg() -> Config:
    return Config.model_validate({
        "summarizer": {"model": "fake/sum"},
        "translators": {"ko": {"model": "fake/multi"}, "zh-Hans": {"model": "fake/multi"}},
        "glossary": GLOSSARY,
        "model_check": False,  # fake output fails the canary check by design
    })


def run(out: Path):
    return run_batch(RunOptions(input=EXAMPLES, out=out, config=cfg()), loader=FakeLoader())


@pytest.fixture
def finished(tmp_path):
    return run(tmp_path / "out")


def test_glossary_links_code_email_survive_in_a_real_run(finished):
    doc = json.loads((finished.run.path / "articles" / "health" / "cooling-clinics.json").read_text())
    src = doc["source"]["body"]
    assert "World Health Organization" in src
    for lang, form in (("ko", "세계보건기구"), ("zh-Hans", "世界卫生组织")):
        body = doc["translations"][lang]["body"]
        assert form in body and "World Health Organization" not in body
        for needle in ("`heat_score`", "heatdesk@example.org", "](https://example.org/who/heat-health-plans)"):
            assert src.count(needle) == body.count(needle) == 1, (lang, needle)


@pytest.mark.skipif(shutil.which("hugo") is None, reason="hugo is not on PATH (apt-get install hugo)")
def test_hugo_site_builds_from_a_real_run(finished, tmp_path):
    site = tmp_path / "site"
    export_run(finished.run.path.parent, "hugo", site)  # an output folder means its latest run
    proc = subprocess.run(["hugo", "--source", str(site), "--destination", str(tmp_path / "public")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pages = {p.relative_to(tmp_path / "public").as_posix() for p in (tmp_path / "public").rglob("index.html")}
    for lang in ("", "ko/", "zh-hans/"):
        assert f"{lang}health/cooling-clinics/index.html" in pages, sorted(pages)[:20]
    ko_page = (tmp_path / "public" / "ko" / "health" / "cooling-clinics" / "index.html").read_text()
    assert "세계보건기구" in ko_page


def test_i18next_files_from_a_real_run(finished, tmp_path):
    export_run(finished.run.path, "i18next", tmp_path / "i18n")
    for lng in ("en", "ko", "zh-Hans"):
        data = json.loads((tmp_path / "i18n" / "locales" / lng / "articles.json").read_text())
        assert set(data["health/cooling-clinics"]) == {"title", "summary", "body"}


def test_reviewed_xliff_wins_on_next_run_and_is_counted(finished, tmp_path):
    out = finished.run.path.parent
    xlf_dir = tmp_path / "xlf"
    result = CliRunner().invoke(app, ["export", str(out), "--format", "xliff", "--to", str(xlf_dir)])
    assert result.exit_code == 0, result.output
    path = xlf_dir / "ko.xlf"
    tree = etree.parse(str(path))
    root = tree.getroot()
    assert root.tag == f"{{{XLIFF_NS}}}xliff" and root.get("version") == "2.0"
    assert root.get("srcLang") == "en" and root.get("trgLang") == "ko"
    target = tree.find(f".//{{{XLIFF_NS}}}target")
    source = target.getparent().find(f"{{{XLIFF_NS}}}source").text
    target.text = "검토자가 고친 문장입니다."
    tree.write(str(path), xml_declaration=True, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "taken    1 segment(s)" in result.stdout
    untouched = CliRunner().invoke(app, ["import", str(xlf_dir / "zh-Hans.xlf"), "--out", str(out)])
    assert untouched.exit_code == 0 and "taken    0 segment(s)" in untouched.stdout
    second = run(out)
    hits = [s for p in (second.run.path / "articles").rglob("*.json")
            for s in json.loads(p.read_text())["segments"] if s["en"] == source]
    assert hits and all(s["ko"] == "검토자가 고친 문장입니다." and s["origin"]["ko"] == "human" for s in hits)
    assert second.manifest["counts"]["segments_human"] == len(hits)  # that sentence, nothing else
    assert all(s["origin"]["zh-Hans"] == "memory" for s in hits)  # other language untouched


def test_run_with_export_in_one_step(tiny_models, tmp_path):
    result = CliRunner().invoke(app, [
        "run", str(EXAMPLES / "briefs.jsonl"), "--config", str(tiny_models / "config.yaml"),
        "--out", str(tmp_path / "out"), "--export", "i18next", "--to", str(tmp_path / "web"), "--quiet"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "web" / "locales" / "ko" / "articles.json").read_text())
    assert data and all(v["title"] for v in data.values())
