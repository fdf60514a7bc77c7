"""Reading ahead: the runner reads and segments window N+1 in a thread while window N is
generated, on the real reader, segmenter and scheduler (fake models). The articles, the errors
and the order they are reported in are those of windows one after another; an error or an
interrupt stops the thread."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from summarize.backends.base import Backend
from summarize.config import GenerationSettings
from summarize.engines.local import BatchResult, Lang, LocalEngine
from summarize.errors import InputChanged
from summarize.pipeline.ahead import Ahead
from summarize.pipeline.runner import Runner, RunOptions
from tests.fakes import FakeBackend, FakeLoader
from tests.test_runner import BROKEN, EXAMPLES, articles, config

THREAD = "summarize-read-ahead"


def write_windows(path: Path) -> Path:
    """Two windows of two articles (window_articles=2): FIRSTWIN ones, then SECONDWIN ones."""
    path.mkdir(parents=True, exist_ok=True)
    lines = [{"id": f"{tag.lower()}-{i}", "title": f"{tag} report {i}",
              "body": f"The {tag} council met on Monday. It approved {i} new parks.\n\n"
                      f"Residents of {tag} welcomed the plan."}
             for tag in ("FIRSTWIN", "SECONDWIN") for i in range(2)]
    (path / "in.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


class RecordingLoader(FakeLoader):
    """FakeLoader whose models and views log the threads that count tokens with them; a view
    counting a SECONDWIN text sets ``second_read``."""

    def __init__(self) -> None:
        super().__init__()
        self.second_read = threading.Event()
        self.model_threads: set[str] = set()
        self.view_threads: set[str] = set()

    def __call__(self, spec: Any, device: str = "auto", dtype: str = "auto",
                 weights: bool = True) -> FakeBackend:
        backend = super().__call__(spec, device, dtype, weights)
        threads = self.model_threads if weights else self.view_threads
        count = backend.count_tokens
        loader = self

        def counting(texts: Sequence[str], target_lang: str | None = None) -> list[int]:
            threads.add(threading.current_thread().name)
            if not weights and any("SECONDWIN" in t for t in texts):
                loader.second_read.set()
            return count(texts, target_lang)

        backend.count_tokens = counting  # type: ignore[method-assign]
        return backend


class WaitingEngine(LocalEngine):
    """The local engine; its first generate call on FIRSTWIN texts waits (up to ``wait_s``) for
    the SECONDWIN articles to be read and segmented, and records whether they were."""

    def __init__(self, loader: RecordingLoader, wait_s: float):
        self.loader = loader
        self.wait_s = wait_s
        self.overlapped: list[bool] = []

    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: Mapping[str, int]
                 ) -> Generator[BatchResult, None, None]:
        if not self.overlapped and any("FIRSTWIN" in t for ts in todo.values() for t in ts):
            self.overlapped.append(self.loader.second_read.wait(self.wait_s))
        yield from super().generate(backend, todo, settings, batching)


def run(inp: Path, out: Path, loader: FakeLoader, engine: LocalEngine | None = None,
        **batch: Any) -> Any:
    cfg = config(batch={"window_articles": 2, "read_ahead": True, **batch})
    return Runner(RunOptions(input=inp, out=out, config=cfg), loader=loader,
                  engine=engine).execute()


def test_the_next_window_is_read_and_segmented_while_this_one_generates(tmp_path):
    inp = write_windows(tmp_path / "in")
    loader = RecordingLoader()
    engine = WaitingEngine(loader, wait_s=30)
    ahead = run(inp, tmp_path / "ahead", loader, engine)
    assert engine.overlapped == [True], "window 2 was not read while window 1 generated"
    # the thread counts only with its own views, this thread only with the models: no
    # tokenizer is used from two threads
    assert loader.view_threads == {THREAD}
    assert loader.model_threads == {threading.main_thread().name}

    plain = run(inp, tmp_path / "plain", FakeLoader(), read_ahead=False)
    assert ahead.manifest["counts"] == plain.manifest["counts"]
    assert ahead.manifest["status"] == "complete" and len(articles(ahead.run.path)) == 4
    for key in articles(plain.run.path):
        path = Path("articles") / f"{key}.json"
        assert (ahead.run.path / path).read_bytes() == (plain.run.path / path).read_bytes()


def test_the_probe_sees_windows_run_one_after_another(tmp_path):
    """The check above can fail: with reading ahead off, window 2 is read only after window 1."""
    loader = RecordingLoader()
    engine = WaitingEngine(loader, wait_s=1)
    run(write_windows(tmp_path / "in"), tmp_path / "out", loader, engine, read_ahead=False)
    assert engine.overlapped == [False]
    assert not loader.view_threads


@pytest.mark.parametrize("window", [1, 3])
def test_bad_records_and_articles_are_reported_as_without_reading_ahead(tmp_path, window):
    inp = tmp_path / "in"
    shutil.copytree(BROKEN, inp)
    shutil.copytree(EXAMPLES / "world", inp / "world")
    runs = {}
    for read_ahead in (True, False):
        cfg = config(batch={"window_articles": window, "read_ahead": read_ahead})
        runs[read_ahead] = Runner(RunOptions(input=inp, out=tmp_path / str(read_ahead),
                                             config=cfg), loader=FakeLoader()).execute()
    ahead, plain = runs[True], runs[False]
    assert ahead.manifest["counts"]["bad_records"] >= 10
    assert ahead.manifest["counts"] == plain.manifest["counts"]
    assert (ahead.run.path / "errors.jsonl").read_bytes() == \
        (plain.run.path / "errors.jsonl").read_bytes()
    assert articles(ahead.run.path) == articles(plain.run.path)


class ChangingEngine(LocalEngine):
    """Changes the second input file after the run has hashed it (engine start comes after the
    scan): streaming it raises InputChanged, in the read-ahead thread."""

    def __init__(self, path: Path):
        self.path = path

    def start(self) -> None:
        self.path.write_text(self.path.read_text() + json.dumps(
            {"id": "late", "title": "Late", "body": "A late line."}) + "\n")


@pytest.mark.parametrize("read_ahead", [True, False])
def test_an_input_changed_while_read_ahead_stops_the_run_as_without(tmp_path, read_ahead):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(EXAMPLES / "briefs.jsonl", inp / "a.jsonl")
    shutil.copy(EXAMPLES / "briefs.jsonl", inp / "b.jsonl")
    (inp / "b.jsonl").write_text((inp / "b.jsonl").read_text().replace('"id": "', '"id": "b-'))
    before = {p.name for p in tmp_path.iterdir()}
    with pytest.raises(InputChanged, match=r"b\.jsonl changed during the run"):
        run(inp, tmp_path / "out", FakeLoader(), ChangingEngine(inp / "b.jsonl"),
            read_ahead=read_ahead)
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if p.is_dir() and p.name != "latest"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    # a.jsonl's articles were written before b.jsonl's end was reached
    written = sorted(p.stem for p in (run_dir / "articles").rglob("*.json"))
    assert written and not any(w.startswith("b-") for w in written)
    assert THREAD not in {t.name for t in threading.enumerate()}
    assert {p.name for p in tmp_path.iterdir()} == before | {"out"}
    assert not list((tmp_path / "out").glob("summarize-ids-*")), "the reader's temp file is left"


class InterruptingEngine(LocalEngine):
    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: Mapping[str, int]
                 ) -> Generator[BatchResult, None, None]:
        raise KeyboardInterrupt
        yield  # a generator, as the engines are


def test_an_interrupt_stops_the_read_ahead_thread_and_the_run_resumes(tmp_path):
    inp = write_windows(tmp_path / "in")
    with pytest.raises(KeyboardInterrupt):
        run(inp, tmp_path / "out", FakeLoader(), InterruptingEngine())
    assert THREAD not in {t.name for t in threading.enumerate()}
    [stopped] = [p for p in (tmp_path / "out").iterdir() if p.is_dir() and p.name != "latest"]
    assert json.loads((stopped / "manifest.json").read_text())["status"] == "interrupted"
    done = run(inp, tmp_path / "out", FakeLoader())
    assert done.run.path == stopped and done.manifest["status"] == "complete"
    assert done.manifest["resumed"] is True and len(articles(stopped)) == 4


def test_ahead_makes_one_item_ahead_and_raises_the_producers_error_in_turn():
    made: list[int] = []

    def produce(stopping: Any) -> Generator[int, None, None]:
        for i in range(5):
            if i == 3:
                raise ValueError("no 3")
            made.append(i)
            yield i

    ahead = Ahead(produce, name="test-ahead")
    assert next(ahead) == 0
    for _ in range(200):  # the next one is made at once...
        if len(made) == 2:
            break
        time.sleep(0.01)
    time.sleep(0.2)
    assert made == [0, 1], "...and no more than that one"
    assert next(ahead) == 1 and next(ahead) == 2
    with pytest.raises(ValueError, match="no 3"):
        next(ahead)
    with pytest.raises(StopIteration):
        next(ahead)
    ahead.close()
    assert not ahead.alive


def test_ahead_closed_early_stops_its_producer_and_closes_it():
    closed = threading.Event()

    def produce(stopping: Any) -> Generator[int, None, None]:
        try:
            i = 0
            while not stopping():
                yield i
                i += 1
        finally:
            closed.set()

    ahead = Ahead(produce, name="test-ahead")
    assert next(ahead) == 0
    ahead.close()
    assert closed.is_set() and not ahead.alive
