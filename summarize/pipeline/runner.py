"""The batch job: read, segment, summarise, translate, assemble, store. Knows no ML library.

The generating stages are pipeline/stages.py (shared with eval), the run folder and manifest
pipeline/lifecycle.py; the runner drives them over windows of articles."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from summarize.backends.base import Backend, flag_of
from summarize.backends.scheduler import BatchStats
from summarize.config import Config
from summarize.engines.local import Engine, LocalEngine
from summarize.errors import InputError
from summarize.models.load import Models
from summarize.pipeline.ahead import Ahead
from summarize.pipeline.assemble import (
    SegmentKey,
    Summary,
    Translated,
    assemble,
)
from summarize.pipeline.lifecycle import (
    Reuse,
    RunLifecycle,
    describe_inputs,
    no_identity,
    run_identity,
)
from summarize.pipeline.stages import Stages
from summarize.pipeline.windows import Segmenter, Work, article_sha
from summarize.read import InputFiles, scan_inputs, stream_inputs
from summarize.records import BadRecord
from summarize.runs.memory import Memory
from summarize.runs.store import OutputDir, Run
from summarize.text.glossary import Glossary, load_glossary


@dataclass
class Prepared:
    """A window read and segmented, with the bad records and reusable articles met on the way
    to it (in input order), or the error that stopped reading after them."""

    met: list[BadRecord | Reuse]
    works: list[Work]
    segment_seconds: float
    error: Exception | None = None


def _gives_views(loader: Callable[..., Backend]) -> bool:
    """Whether ``loader`` takes ``weights=False`` (a tokenizer-only view)."""
    try:
        params = inspect.signature(loader).parameters
    except (TypeError, ValueError):
        return False
    return "weights" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class Progress(Protocol):
    def start(self, phase: str, total: int | None = None) -> None: ...
    def advance(self, phase: str, n: int = 1) -> None: ...
    def log(self, message: str) -> None: ...
    def bad_record(self, message: str) -> None: ...


class NullProgress:
    def start(self, phase: str, total: int | None = None) -> None:
        pass

    def advance(self, phase: str, n: int = 1) -> None:
        pass

    def log(self, message: str) -> None:
        pass

    def bad_record(self, message: str) -> None:
        pass


@dataclass
class RunOptions:
    input: Path
    out: Path
    config: Config
    use_cache: bool = True
    fail_on_qa: bool = False
    glossary: Glossary | None = None
    command: list[str] = field(default_factory=list)
    check_models: bool = True  # run the model check on first use of each model version


@dataclass
class RunResult:
    run: Run
    manifest: dict[str, Any]

    @property
    def articles_failed(self) -> int:
        return int(self.manifest["counts"]["articles_failed"])


class Runner:
    """Runs one batch into one run folder."""

    def __init__(self, opts: RunOptions, progress: Progress | None = None,
                 loader: Callable[..., Backend] | None = None, engine: Engine | None = None):
        if loader is None:
            from summarize.backends import load_backend

            loader = load_backend
        self.opts = opts
        self.cfg = opts.config
        self.progress = progress or NullProgress()
        self.engine = engine or make_engine(self.cfg, loader)
        # An engine that loads models on its own workers gives the driver tokenizer-only views.
        info_of = getattr(self.engine, "info_of", None)
        self.models = Models(self.cfg, loader, weights=info_of is None, info_of=info_of)
        self.glossary = opts.glossary or load_glossary(self.cfg.glossary)
        self.life: RunLifecycle  # set once the models are ready and the run folder is open
        self.stages: Stages  # set with the run folder
        self.gen_stats: dict[str, BatchStats] = {}  # per model and language group, all windows

    def execute(self) -> RunResult:
        out = OutputDir(self.opts.out)
        if not self.opts.input.exists():
            raise InputError(f"input {self.opts.input} does not exist")
        out.lock()
        try:
            return self._execute(out)
        finally:
            out.unlock()

    def _execute(self, out: OutputDir) -> RunResult:
        opts = self.opts
        timings: dict[str, float] = {}

        def timed(stage: str, seconds: float) -> None:
            timings[stage] = timings.get(stage, 0.0) + seconds

        start = time.perf_counter()
        # A first pass hashes every file in chunks (nothing is parsed or kept); records are then
        # streamed window by window, each file re-hashed as it is parsed (InputChanged if it
        # changed in between), so the driver holds a window, whatever the input's size.
        scan = scan_inputs(opts.input)
        inputs = describe_inputs(scan, opts.input)
        timed("scan", time.perf_counter() - start)
        self.memory = Memory(out.memory_path)
        model_checks: list[dict[str, Any]] = []
        status = "failed"

        def open_run(identity: dict[str, Any]) -> RunLifecycle:
            self.life = RunLifecycle.open(
                out, self.cfg, inputs, use_cache=opts.use_cache, command=opts.command,
                glossary_digest=self.glossary.digest() if self.glossary else None,
                fail_on_qa=opts.fail_on_qa, identity=identity,
                human_stamp=self.memory.human_stamp(), log=self.progress.log)
            for stage, seconds in timings.items():
                self.life.time(stage, seconds)
            return self.life

        try:
            self.engine.start()
            model_checks = self.models.prepare(opts.check_models, out.root, self.progress,
                                               timed, getattr(self.engine, "check", None))
            life = open_run(run_identity(self.cfg, self.models))
            if life.resumed:
                self.progress.log(f"resuming unfinished run {life.run.run_id}")
            self._process(scan, out)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            try:
                # Stopped before the models were ready (a load error, a failed model check,
                # Ctrl-C): a run folder still records why.
                life = getattr(self, "life", None) or open_run(no_identity(self.cfg))
                life.finish(status, models=self.models.entries(),
                            device_stats=self.models.device_stats, model_checks=model_checks,
                            generation={k: vars(v) for k, v in self.gen_stats.items()},
                            engine=self.engine.report())
            finally:
                self.memory.close()
                self.engine.close()
        return RunResult(self.life.run, self.life.manifest)

    def _process(self, scan: InputFiles, out: OutputDir) -> None:
        life = self.life
        self.stages = Stages(self.cfg, self.models, self.memory, self.engine, self.glossary,
                             self.progress.advance, use_cache=self.opts.use_cache,
                             run=life.run.run_id, counts=life.counts,
                             stats=self.gen_stats)
        config_hash, ident = life.manifest["config_hash"], life.manifest["output_identity"]["digest"]
        previous = life.previous_run() if self.opts.use_cache else None
        self.progress.start("articles", scan.records_estimate)
        views = self._read_ahead_views()
        segmenter_here = self.stages.segmenter()  # this thread's, for the summaries
        segmenter = (segmenter_here if views is None
                     else self.stages.segmenter(lambda spec: views[spec.key()]))

        def prepare(stopping: Callable[[], bool]) -> Iterator[Prepared]:
            """The input as windows of articles that need work, each segmented, with the bad
            records and reusable articles met on the way. Reads and decides only: what is
            counted or written is left to the caller, in this order."""
            items = stream_inputs(scan, workdir=out.root)
            met: list[BadRecord | Reuse] = []
            works: list[Work] = []
            try:
                for item in items:
                    if stopping():
                        return
                    if isinstance(item, BadRecord):
                        met.append(item)
                        continue
                    sha = article_sha(item)
                    found = life.reusable(item.id, sha, previous)
                    if found is not None:
                        met.append(found)
                        continue
                    works.append(Work(item, sha))
                    if len(works) >= self.cfg.batch.window_articles:
                        yield self._segmented(segmenter, met, works)
                        met, works = [], []
                if met or works:
                    yield self._segmented(segmenter, met, works)
            except Exception as exc:  # the records met before it are still reported
                yield Prepared(met, [], 0.0, exc)
            finally:
                close = getattr(items, "close", None)
                if close is not None:  # a generator: its temp files go now, not at GC time
                    close()

        source: Iterator[Prepared]
        ahead = None
        if views is not None:
            ahead = Ahead(prepare, name="summarize-read-ahead")
            source = ahead
        else:
            source = prepare(lambda: False)
        try:
            for window in source:
                for met in window.met:  # in input order, before the window's own articles
                    if isinstance(met, BadRecord):
                        life.bad_record(met)
                        self.progress.bad_record(met.describe())
                    else:
                        life.reuse(met)
                        self.progress.advance("articles")
                life.time("segment", window.segment_seconds)
                if window.error is not None:
                    raise window.error
                if window.works:
                    self._run_window(window.works, config_hash, ident, segmenter_here)
        finally:
            if ahead is not None:
                ahead.close()
            else:
                cast(Generator[Prepared, None, None], source).close()

    def _stage(self, name: str, step: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = step()
        self.life.time(name, time.perf_counter() - start)
        return result

    def _read_ahead_views(self) -> dict[tuple[Any, ...], Backend] | None:
        """Tokenizer-only views of the translators for the thread that reads and segments the
        next window, its own: a fast tokenizer is not safe to use from two threads at once
        (padding and truncation settings, a source language are set on it per call), and
        this thread tokenizes with the models' own while it generates. None (windows one after
        another) when the config turns reading ahead off or the loader gives no views."""
        if not self.cfg.batch.read_ahead or not _gives_views(self.models.loader):
            return None
        views: dict[tuple[Any, ...], Backend] = {}
        for lang in self.cfg.languages:
            spec = self.cfg.translators[lang]
            if spec.key() not in views:
                view = self.models.loader(spec, device="cpu", dtype=self.cfg.dtype, weights=False)
                if view is self.models.get(spec):  # a loader that hands out one object per model
                    return None
                views[spec.key()] = view
        return views

    def _segmented(self, segmenter: Segmenter, met: list[BadRecord | Reuse], works: list[Work]
                   ) -> Prepared:
        start = time.perf_counter()
        segmenter.articles(works)
        return Prepared(met, works, time.perf_counter() - start)

    def _run_window(self, works: list[Work], config_hash: str, ident: str,
                    segmenter: Segmenter) -> None:
        """A window whose articles are segmented: summaries, their segments, translations,
        articles written."""
        self._stage("summarize", lambda: self._summarize(works))
        self.models.snapshot("summarize", self.progress.log)
        segmenter.summaries(works)  # split like the body's, to fit
        self.progress.start("segments", sum(len(w.segments) for w in works if w.failure is None)
                            * len(self.cfg.languages))
        translated = self._stage("translate", lambda: self._translate(works))
        self.models.snapshot("translate", self.progress.log)
        self._stage("write", lambda: self._write(works, translated, config_hash, ident))

    def _write(self, works: list[Work], translated: dict[str, dict[SegmentKey, Translated]],
               config_hash: str, ident: str) -> None:
        for w in works:
            if w.failure is None:
                doc, w.failure = assemble(w.article, w.segments,
                                          Summary(str(w.summary_en), w.summary_levels,
                                                  flag_of(w.summary_en)), translated,
                                          self.cfg.languages, w.input_sha, config_hash, ident)
            if w.failure is not None:
                self.progress.bad_record(self.life.failed(w.article, w.failure))
            else:
                self.life.run.write_article(doc)
                self.life.done(doc)
            self.progress.advance("articles")


    def _summarize(self, works: list[Work]) -> None:
        """English summary per article; map-reduce over whole-sentence chunks when too long."""
        done = self.stages.summaries({w.article.id: w.article.paragraphs for w in works})
        for w in works:
            w.summary_levels = done.levels.get(w.article.id, 0)
            if w.article.id in done.summaries:
                w.summary_en = done.summaries[w.article.id]
            if w.article.id in done.failures:
                w.failure = done.failures[w.article.id]

    def _translate(self, works: list[Work]) -> dict[str, dict[SegmentKey, Translated]]:
        """Per language, per segment: final text, origin and QA flags."""
        return self.stages.translations([s for w in works if w.failure is None
                                         for s in w.segments])


def make_engine(config: Config, loader: Callable[..., Backend]) -> Engine:
    """The engine the config asks for."""
    if config.engine == "ray":
        from summarize.engines.ray_cluster import RayEngine

        return RayEngine(config, loader)
    return LocalEngine()


def run_batch(opts: RunOptions, progress: Progress | None = None,
              loader: Callable[..., Backend] | None = None) -> RunResult:
    return Runner(opts, progress, loader).execute()
