"""Translation unit ``sentence`` or ``paragraph`` (config ``unit``), on a seq2seq profile (tiny
NLLB + Marian, whose small windows force long paragraphs into runs) and a chat profile (tiny
Qwen2, whose window holds whole paragraphs): the paragraph contract, the memory, XLIFF
segments and review import, and QA work for both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree
from typer.testing import CliRunner

from summarize.cli import app
from summarize.config import load_config
from summarize.pipeline.runner import Runner, RunOptions
from summarize.pipeline.windows import Work, paragraph_runs
from summarize.records import Article
from summarize.text.sentences import split_sentences
from tests.test_review import counts

XLIFF = "{urn:oasis:names:tc:xliff:document:2.0}"

PARAGRAPHS = [
    "The council met on Monday. It approved the budget. Roads will be repaired.",
    "Dr. Lee said the plan would cost 2.5 million dollars. Residents were pleased.",
    " ".join(f"Sentence number {i} about the harbour and the new ferry line." for i in range(12)),
]


def test_paragraph_runs_are_the_fewest_consecutive_runs_that_fit():
    w = Work(Article(id="a", title="T", paragraphs=("x",), source="a.txt"), "sha")
    sents = [(w, "body", 0, s) for s in ["aa", "bb", "cc", "dd"]] + [(w, "body", 1, "ee"),
                                                                     (w, "body", 1, "f" * 30)]

    def load(texts: list[str]) -> list[int]:  # 100 per mille per character
        return [len(t) * 100 for t in texts]

    runs = paragraph_runs(sents, load)
    # "aa bb cc" is 8 characters (800): fits; adding " dd" would be 1100
    assert [(r[2], r[3]) for r in runs] == [(0, "aa bb cc"), (0, "dd"), (1, "ee"), (1, "f" * 30)]


def _config(tiny: Path, tmp_path: Path, name: str, unit: str) -> Path:
    data = yaml.safe_load((tiny / name).read_text())
    data["unit"] = unit
    path = tmp_path / f"{unit}-{name}"
    path.write_text(yaml.safe_dump(data))
    return path


def _input(tmp_path: Path) -> Path:
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "story.txt").write_text("Harbour news\n\n" + "\n\n".join(PARAGRAPHS) + "\n")
    (inp / "short.txt").write_text("Short note\n\nOne sentence only. And a second one.\n")
    return inp


def _run(cfg: Path, inp: Path, out: Path) -> Any:
    return Runner(RunOptions(input=inp, out=out, config=load_config(cfg, {"device": "cpu"}))).execute()


@pytest.mark.parametrize("name", ["config.yaml", "config-chat.yaml"])
@pytest.mark.parametrize("unit", ["sentence", "paragraph"])
def test_unit_through_the_whole_pipeline(tiny_models, tmp_path, name, unit):
    inp = _input(tmp_path)
    out = tmp_path / "out"
    cfg = _config(tiny_models, tmp_path, name, unit)
    first = _run(cfg, inp, out)
    assert first.articles_failed == 0
    doc = json.loads((first.run.path / "articles" / "story.json").read_text())

    # the paragraph contract, for both units
    for lang in ("ko", "zh-Hans"):
        assert doc["translations"][lang]["body"].count("\n\n") == len(PARAGRAPHS) - 1
    body = [s for s in doc["segments"] if s["part"] == "body"]
    for p, paragraph in enumerate(PARAGRAPHS):
        segs = [s["en"] for s in body if s["para"] == p]
        sentences = split_sentences(paragraph)
        if unit == "sentence":
            assert segs == sentences
        else:  # runs of whole sentences, in order, nothing lost, fewer than sentences
            assert " ".join(segs) == " ".join(sentences)
            assert all(any(seg.startswith(s) for s in sentences) for seg in segs)
            if p < 2:
                assert len(segs) == 1, "a short paragraph is one unit"
    if unit == "paragraph" and name == "config-chat.yaml":
        # the LLM's window holds it whole; its output budget (max_new_tokens 96 at ratio 0.25)
        # takes half of it per run
        assert len([s for s in body if s["para"] == 2]) == 2
    if unit == "paragraph" and name == "config.yaml":
        assert 1 < len([s for s in body if s["para"] == 2]) < 12  # tiny windows: a few runs

    # the memory: a second run with the same config reuses every unit
    (inp / "more.txt").write_text("More\n\nAnother story here. It is new.\n")
    second = _run(cfg, inp, out)
    doc2 = json.loads((second.run.path / "articles" / "story.json").read_text())
    # the unchanged story is not redone: the new run shares its file
    assert doc2 == doc
    assert second.manifest["counts"]["articles_unchanged"] == first.manifest["counts"]["articles_ok"]

    # XLIFF: one segment per unit; an unedited re-import makes nothing human
    to = tmp_path / "review"
    res = CliRunner().invoke(app, ["export", str(out), "--format", "xliff", "--to", str(to)])
    assert res.exit_code == 0, res.output
    tree = etree.parse(str(to / "ko.xlf"))
    story = tree.find(f".//{XLIFF}file[@original='story']")
    sources = [seg.findtext(f"{XLIFF}source") for seg in story.iter(f"{XLIFF}segment")]
    assert sorted(sources) == sorted(s["en"] for s in doc2["segments"])
    res = CliRunner().invoke(app, ["import", str(to / "ko.xlf"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert counts(res)["taken"] == 0
    # one reviewed unit becomes exactly one human translation, used by the next run
    seg = next(iter(story.iter(f"{XLIFF}segment")))
    seg.find(f"{XLIFF}target").text = "검토된 번역."
    tree.write(str(to / "ko.xlf"), xml_declaration=True, encoding="UTF-8")
    res = CliRunner().invoke(app, ["import", str(to / "ko.xlf"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert counts(res)["taken"] == 1


def test_changing_the_unit_is_a_new_config(tiny_models, tmp_path):
    a = load_config(_config(tiny_models, tmp_path, "config.yaml", "sentence"))
    b = load_config(_config(tiny_models, tmp_path, "config.yaml", "paragraph"))
    assert a.hash() != b.hash()
