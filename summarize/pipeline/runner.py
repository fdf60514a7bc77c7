"""The batch job: read, segment, summarise, translate, assemble, store. Knows no ML library.

The stages live in their own modules (work, summaries, cached, assemble, lifecycle, models);
the runner drives them over windows of articles."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from summarize.backends.base import Backend, flag_of
from summarize.backends.scheduler import BatchStats
from summarize.config import Config, GenerationSettings, ModelSpec
from summarize.engines.local import Engine, LocalEngine
from summarize.errors import InputError
from summarize.models.check import translator_groups
from summarize.models.load import Models
from summarize.pipeline.ahead import Ahead
from summarize.pipeline.assemble import (
    SegmentKey,
    Summary,
    Translated,
    assemble,
    finish_translations,
    to_translate,
)
from summarize.pipeline.generation import CachedGeneration, Outcome, generate_cached
from summarize.pipeline.lifecycle import (
    Reuse,
    RunLifecycle,
    describe_inputs,
    no_identity,
    run_identity,
)
from summarize.pipeline.summaries import summarize_articles
from summarize.pipeline.windows import Segmenter, Work, article_sha, segment_limit
from summarize.read import InputFiles, scan_inputs, stream_inputs
from summarize.records import BadRecord
from summarize.runs.memory import Memory, fingerprint
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
        self.gen_stats: dict[str, BatchStats] = {}
        self.life: RunLifecycle  # set once the models are ready and the run folder is open

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
        config_hash, ident = life.manifest["config_hash"], life.manifest["output_identity"]["digest"]
        previous = life.previous_run() if self.opts.use_cache else None
        self.progress.start("articles", scan.records_estimate)
        views = self._read_ahead_views()
        segmenter_here = self._segmenter(self.models.get)  # this thread's, for the summaries
        segmenter = (segmenter_here if views is None
                     else self._segmenter(lambda spec: views[spec.key()]))

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

    def _segmenter(self, backend_of: Callable[[ModelSpec], Backend]) -> Segmenter:
        specs = [(lang, self.cfg.translators[lang]) for lang in self.cfg.languages]
        return Segmenter([(backend_of(spec), lang, segment_limit(spec, backend_of(spec)))
                          for lang, spec in specs], self.glossary, self.cfg.unit)

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

    def _generate(self, task: str, spec: ModelSpec, texts: list[str], langs: list[str | None],
                  settings: GenerationSettings) -> Outcome:
        """Outputs per language for texts, through the memory (see generate_cached)."""
        cache = CachedGeneration(self.memory, task, self.models.fingerprint(spec),
                                 fingerprint(settings.model_dump(mode="json")), self.opts.use_cache,
                                 run=self.life.run.run_id)
        phase = "segments" if task == "translate" else "summaries"
        batching = {"max_batch_tokens": self.cfg.batch.max_batch_tokens,
                    "max_batch_size": self.cfg.batch.max_batch_size,
                    "max_hypotheses": self.cfg.batch.max_hypotheses}
        outcome = generate_cached(cache, self.engine, self.models.get(spec), texts, langs,
                                  settings, batching, functools.partial(self.progress.advance, phase))
        self.life.counts["segments_reused"] += outcome.segments_reused
        self.life.counts["segments_computed"] += outcome.segments_computed
        for name, stats in outcome.stats.items():
            self.gen_stats.setdefault(name, BatchStats()).add(stats)
        return outcome

    def _summarize(self, works: list[Work]) -> None:
        """English summary per article; map-reduce over whole-sentence chunks when too long."""
        spec = self.cfg.summarizer
        backend = self.models.get(spec)

        def generate(texts: list[str], settings: GenerationSettings
                     ) -> tuple[dict[str, str | None], dict[str, str]]:
            got = self._generate("summarize", spec, texts, [None], settings)
            return dict(zip(texts, got.outputs[None], strict=True)), got.failures

        done = summarize_articles({w.article.id: w.article.paragraphs for w in works},
                                  spec.generation,
                                  spec.max_input_tokens or backend.max_input_tokens(),
                                  lambda xs: backend.count_tokens(xs, None), generate)
        for w in works:
            w.summary_levels = done.levels.get(w.article.id, 0)
            if w.article.id in done.summaries:
                w.summary_en = done.summaries[w.article.id]
            if w.article.id in done.failures:
                w.failure = done.failures[w.article.id]

    def _translate(self, works: list[Work]) -> dict[str, dict[SegmentKey, Translated]]:
        """Per language, per segment: final text, origin and QA flags."""
        results: dict[str, dict[SegmentKey, Translated]] = {}
        segments = [s for w in works if w.failure is None for s in w.segments]
        # Languages served by the same model with the same settings are generated together.
        for spec, langs in translator_groups(self.cfg):
            human = {lang: self.memory.human_many(list({s.text for s in segments}), lang)
                     for lang in langs}
            masked, todo = to_translate(segments, langs, human, self.glossary)
            got = self._generate("translate", spec, todo, list(langs), spec.generation)
            for lang in langs:
                out_of = dict(zip(todo, got.outputs[lang], strict=True))
                results[lang] = finish_translations(segments, lang, human[lang], masked[lang], out_of,
                                                    got.failures, got.reused[lang], self.glossary)
                self.life.counts["segments_human"] += sum(1 for r in results[lang].values()
                                                     if r.origin == "human")
        return results


def make_engine(config: Config, loader: Callable[..., Backend]) -> Engine:
    """The engine the config asks for."""
    if config.engine == "ray":
        from summarize.engines.ray_cluster import RayEngine

        return RayEngine(config, loader)
    return LocalEngine()


def run_batch(opts: RunOptions, progress: Progress | None = None,
              loader: Callable[..., Backend] | None = None) -> RunResult:
    return Runner(opts, progress, loader).execute()
