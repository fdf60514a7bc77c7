"""The ``llm_reply`` QA flag: a chat reply still not a translation after its retry (or cut off)
is kept, flagged by the backend, stored with its flag in the memory, and put on the segment's
QA in the article JSON and the manifest's counts, on first generation and on reuse."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import torch

from summarize.backends import load_backend
from summarize.backends.base import Flagged, flag_of
from summarize.config import load_config
from summarize.pipeline.runner import Runner, RunOptions
from summarize.runs.memory import Memory

REFUSAL = "I'm sorry, but I can't help with that."


def scripted_chat_loader(spec, *, device="auto", dtype="auto", weights=True):
    """The tiny chat model with a scripted model.generate: an English summary, fixed Korean
    and Chinese sentences, and a refusal (twice: prompt and plain prompt) for any Korean
    translation of a sentence about bridges."""
    backend = load_backend(spec, device=device, dtype=dtype, weights=weights)
    if not weights:
        return backend
    tok = backend.tokenizer
    eot = backend.stop_ids[-1]

    def reply(prompt: str) -> str:
        user = prompt.rsplit("Korean", 1)[-1] if "Korean" in prompt else prompt
        if "Korean" in prompt:
            return REFUSAL if "bridges" in user else "시의회가 월요일에 예산을 승인했다."
        if "Chinese" in prompt:
            return "市议会周一批准了预算。"
        return "The council approved a budget on Monday."

    def generate(*, input_ids: Any, attention_mask: Any, **kwargs: Any) -> Any:
        rows = [tok(reply(tok.decode(ids, skip_special_tokens=False)),
                    add_special_tokens=False)["input_ids"] + [eot] for ids in input_ids.tolist()]
        width = max(map(len, rows))
        pad = tok.pad_token_id
        new = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        return torch.cat([input_ids, new], dim=1)

    backend.model.generate = generate  # type: ignore[attr-defined]
    return backend


def write_articles(folder: Path, n: int) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"a{i}.txt").write_text(
            f"Story {i}\n\nOfficials said that the bridges were closed. The mayor spoke.\n")
    return folder


def llm_flags(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["qa"] if f["check"] == "llm_reply"]


def test_flagged_outputs_and_the_memory_keep_their_flag(tmp_path):
    db = tmp_path / "memory.sqlite"
    memory = Memory(db)
    memory.put_many([("k1", "translate", "ko", "m", "src", Flagged("번역", "ko: a refusal")),
                     ("k2", "translate", "ko", "m", "src2", "좋은 번역")])
    got = memory.get_many(["k1", "k2"])
    memory.close()
    assert got == {"k1": "번역", "k2": "좋은 번역"}
    assert flag_of(got["k1"]) == "ko: a refusal" and flag_of(got["k2"]) is None


def test_a_memory_from_before_flags_is_upgraded_in_place(tmp_path):
    db = tmp_path / "memory.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE units (key TEXT PRIMARY KEY, task TEXT NOT NULL, lang TEXT NOT "
                "NULL, model TEXT NOT NULL, source TEXT NOT NULL, output TEXT NOT NULL, "
                "created_at TEXT NOT NULL DEFAULT 'x')")
    con.execute("INSERT INTO units (key, task, lang, model, source, output) VALUES "
                "('k', 'translate', 'ko', 'm', 's', '예전')")
    con.commit()
    con.close()
    memory = Memory(db)
    got = memory.get_many(["k"])
    memory.close()
    assert got == {"k": "예전"} and flag_of(got["k"]) is None


def test_run_flags_the_refused_segment_and_keeps_the_flag_when_reused(tiny_models, tmp_path):
    cfg = load_config(tiny_models / "config-chat.yaml", {"device": "cpu"})
    inp = write_articles(tmp_path / "in", 2)
    out = tmp_path / "out"
    first = Runner(RunOptions(input=inp, out=out, config=cfg), loader=scripted_chat_loader).execute()
    docs = {p.stem: p for p in (first.run.path / "articles").glob("*.json")}


    for name, path in docs.items():
        doc = json.loads(path.read_text())
        flags = llm_flags(doc)
        assert [(f["segment"], f["language"]) for f in flags] == [("body/p0s0", "ko")], name
        assert "refusal" in flags[0]["detail"] and "asked again" in flags[0]["detail"]
        seg = next(s for s in doc["segments"] if (s["part"], s["sent"]) == ("body", 0))
        assert seg["ko"] == REFUSAL  # kept, not dropped: a reviewer sees what the model said
    assert first.manifest["counts"]["qa_flags"]["llm_reply"] == 2

    write_articles(inp, 3)  # one more article: a new run
    # a0 with a new title: rebuilt, its body from the memory (a1 is unchanged: shared as is)
    (inp / "a0.txt").write_text((inp / "a0.txt").read_text().replace("Story 0", "Story zero"))
    second = Runner(RunOptions(input=inp, out=out, config=cfg), loader=scripted_chat_loader).execute()
    assert second.run.path != first.run.path
    assert second.manifest["counts"]["segments_reused"] > 0
    assert second.manifest["counts"]["qa_flags"]["llm_reply"] == 3
    doc = json.loads((second.run.path / "articles" / "a0.json").read_text())
    seg = next(s for s in doc["segments"] if (s["part"], s["sent"]) == ("body", 0))
    assert seg["origin"]["ko"] == "memory"
    assert [(f["segment"], f["language"]) for f in llm_flags(doc)] == [("body/p0s0", "ko")]


class Interrupting:
    """A chat backend loader that interrupts the run (Ctrl-C) on the first generate call whose
    prompts mention ``trigger``."""

    def __init__(self, trigger: str):
        self.trigger = trigger

    def __call__(self, spec, *, device="auto", dtype="auto", weights=True):
        backend = scripted_chat_loader(spec, device=device, dtype=dtype, weights=weights)
        original = backend.model.generate
        tok = backend.tokenizer

        def generate(*, input_ids: Any, **kwargs: Any) -> Any:
            if any(self.trigger in tok.decode(ids) for ids in input_ids.tolist()):
                raise KeyboardInterrupt
            return original(input_ids=input_ids, **kwargs)

        backend.model.generate = generate  # type: ignore[attr-defined]
        return backend


def test_chat_profile_is_interrupted_resumed_and_exported(tiny_models, tmp_path):
    """The chat profile through an interrupt, the resume and every export format."""
    import pytest

    from summarize.export import export_run

    cfg = load_config(tiny_models / "config-chat.yaml",
                      {"device": "cpu", "batch.window_articles": 1, "unit": "paragraph"})
    inp = write_articles(tmp_path / "in", 4)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        Runner(RunOptions(input=inp, out=out, config=cfg), loader=Interrupting("Story 2")).execute()
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    stopped = json.loads((run_dir / "manifest.json").read_text())
    assert stopped["status"] == "interrupted"
    written = stopped["counts"]["articles_ok"]
    assert written == 2  # a0 and a1, one window each, before a2's title was asked for

    done = Runner(RunOptions(input=inp, out=out, config=cfg), loader=scripted_chat_loader).execute()
    assert done.run.path == run_dir and done.manifest["resumed"] is True
    assert done.manifest["counts"]["articles_resumed"] == written
    assert done.manifest["counts"]["articles_ok"] == 4
    assert done.manifest["counts"]["qa_flags"]["llm_reply"] == 4
    for fmt in ("hugo", "i18next", "xliff"):
        export_run(done.run.path, fmt, tmp_path / fmt)
        assert any((tmp_path / fmt).rglob("*")), fmt


def reasoning_loader(spec, *, device="auto", dtype="auto", weights=True):
    """The tiny chat model whose template forces <think>, scripted to reason (tagless, cut off)
    whenever it is asked for a summary, and to answer translations."""
    backend = scripted_chat_loader(spec, device=device, dtype=dtype, weights=weights)
    if not weights:
        return backend
    tok = backend.tokenizer
    answer = backend.model.generate

    def generate(*, input_ids: Any, **kwargs: Any) -> Any:
        prompts = [tok.decode(ids, skip_special_tokens=False) for ids in input_ids.tolist()]
        if not any("Summarize" in p for p in prompts):
            return answer(input_ids=input_ids, **kwargs)
        reasoning = tok("Okay, let me tackle this. The user wants a summary of a story about "
                        "bridges", add_special_tokens=False)["input_ids"]
        new = torch.tensor([reasoning] * len(prompts))  # cut off: no end of turn
        return torch.cat([input_ids, new], dim=1)

    backend.model.generate = generate  # type: ignore[attr-defined]
    return backend


def test_a_thinking_template_never_puts_reasoning_into_an_article(tiny_models, tmp_path):
    import yaml

    from summarize.tiny.chat import THINKING_CHAT_MODEL, chat_config

    data = chat_config(tiny_models, THINKING_CHAT_MODEL)
    data["summarizer"]["generation"]["max_new_tokens"] = 64
    config = tmp_path / "thinking.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    cfg = load_config(config, {"device": "cpu"})
    inp = write_articles(tmp_path / "in", 2)
    result = Runner(RunOptions(input=inp, out=tmp_path / "out", config=cfg),
                    loader=reasoning_loader).execute()
    [summarizer] = [m for m in result.manifest["models"] if m.get("task") == "summarize"]
    assert summarizer["thinking"].startswith("closed")
    for path in (result.run.path / "articles").glob("*.json"):
        doc = json.loads(path.read_text())
        outputs = json.dumps([doc["summary"], doc["translations"], doc["segments"]],
                             ensure_ascii=False)
        assert "tackle" not in outputs and "user wants" not in outputs
        assert doc["summary"]["en"] == ""
        checks = {(f["segment"], f["check"]) for f in doc["qa"]}
        assert ("summary", "empty") in checks and ("summary", "llm_reply") in checks
        assert doc["translations"]["ko"]["body"]  # translations answered as usual
