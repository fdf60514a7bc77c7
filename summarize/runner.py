"""The batch job: read, segment, summarise, translate, assemble, store. Knows no ML library."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .assemble import SegmentKey, Summary, Translated, assemble, finish_translations
from .backends.base import Backend
from .cached import CachedGeneration, Outcome, generate_cached
from .config import Config, GenerationSettings, ModelSpec
from .errors import InputError
from .glossary import Glossary, load_glossary
from .memory import Memory, fingerprint
from .modelcheck import run_model_checks, translator_groups, warm_up
from .protect import protect
from .readers import InputScan, read_inputs
from .records import Article, BadRecord, Part, Segment
from .scheduler import BatchStats
from .segment import split_long, split_sentences
from .store import OutputDir, Run, utcnow
from .summaries import MAX_REDUCE_LEVELS, first_level, fold_level, partial_settings, plan_level

OUTPUT_PACKAGES = ("torch", "transformers", "tokenizers", "sentencepiece", "ctranslate2",
                   "huggingface_hub", "safetensors")
SPLIT_MARGIN = 0.9  # placeholders may make a masked sentence a little longer than its source


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


@dataclass
class Work:
    """One article on its way through the pipeline."""

    article: Article
    input_sha: str
    units: list[Segment] = field(default_factory=list)
    summary_en: str = ""
    summary_levels: int = 0  # generate() rounds the summary took (1: direct, more: map-reduce)
    failure: str | None = None


def article_sha(article: Article) -> str:
    blob = json.dumps([article.id, article.title, list(article.paragraphs), article.meta],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def describe_inputs(scan: InputScan, path: Path) -> dict[str, Any]:
    """The manifest's ``inputs``: every file with its sha256, and a digest over them all."""
    digest = hashlib.sha256(json.dumps(scan.files, sort_keys=True).encode()).hexdigest()
    return {"path": str(path.resolve()), "files": scan.files, "digest": digest}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "summarize": __version__}
    for name in OUTPUT_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def windows(items: Iterable[Article | BadRecord], size: int) -> Iterator[list[Article | BadRecord]]:
    batch: list[Article | BadRecord] = []
    articles = 0
    for item in items:
        batch.append(item)
        if isinstance(item, Article):
            articles += 1
            if articles >= size:
                yield batch
                batch, articles = [], 0
    if batch:
        yield batch


class Models:
    """Loads each distinct model once, on first use."""

    def __init__(self, config: Config, loader: Callable[..., Backend]):
        self.config = config
        self.loader = loader
        self._loaded: dict[tuple[Any, ...], Backend] = {}

    def get(self, spec: ModelSpec) -> Backend:
        key = spec.key()
        if key not in self._loaded:
            self._loaded[key] = self.loader(spec, device=self.config.device, dtype=self.config.dtype)
        return self._loaded[key]

    def fingerprint(self, spec: ModelSpec) -> str:
        info = self.get(spec).info()
        ident = {k: info.get(k) for k in ("model", "resolved_revision", "content_hash", "backend",
                                          "family", "dtype", "compute_type")}
        return fingerprint(ident)


class Runner:
    """Runs one batch into one run folder."""

    def __init__(self, opts: RunOptions, progress: Progress | None = None,
                 loader: Callable[..., Backend] | None = None):
        if loader is None:
            from .backends import load_backend

            loader = load_backend
        self.opts = opts
        self.cfg = opts.config
        self.progress = progress or NullProgress()
        self.models = Models(self.cfg, loader)
        self.glossary = opts.glossary or load_glossary(self.cfg.glossary)
        self.timings: dict[str, float] = {}
        self.counts: dict[str, Any] = {
            "articles_ok": 0, "articles_failed": 0, "articles_resumed": 0, "bad_records": 0,
            "segments_computed": 0, "segments_reused": 0, "segments_human": 0,
            "articles_flagged": 0, "qa_flags": {},
        }
        self.gen_stats: dict[str, BatchStats] = {}
        self.memory: Memory | None = None
        self.device_stats: dict[str, dict[str, Any]] = {}
        self.model_checks: list[dict[str, Any]] = []

    # -- stage helpers -----------------------------------------------------------------

    def _time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def _generate(self, task: str, spec: ModelSpec, texts: list[str], langs: list[str | None],
                  settings: GenerationSettings) -> Outcome:
        """Outputs per language for texts, through the memory (see generate_cached)."""
        cache = CachedGeneration(self.memory, task, self.models.fingerprint(spec),
                                 fingerprint(settings.model_dump(mode="json")), self.opts.use_cache)
        phase = "segments" if task == "translate" else "summaries"
        batching = {"max_batch_tokens": self.cfg.batch.max_batch_tokens,
                    "max_batch_size": self.cfg.batch.max_batch_size,
                    "max_hypotheses": self.cfg.batch.max_hypotheses}
        outcome = generate_cached(cache, self.models.get(spec), texts, langs, settings, batching,
                                  functools.partial(self.progress.advance, phase))
        self.counts["segments_reused"] += outcome.segments_reused
        self.counts["segments_computed"] += outcome.segments_computed
        for name, stats in outcome.stats.items():
            self.gen_stats.setdefault(name, BatchStats()).add(stats)
        return outcome

    # -- pipeline stages ---------------------------------------------------------------

    def _segment(self, works: list[Work]) -> None:
        """Split titles and paragraphs into sentences that fit every translator's window."""
        raw: list[tuple[Work, Part, int, str]] = []
        for w in works:
            raw.extend((w, "title", 0, s) for s in split_sentences(w.article.title, self.glossary))
            for p_idx, paragraph in enumerate(w.article.paragraphs):
                raw.extend((w, "body", p_idx, s) for s in split_sentences(paragraph, self.glossary))
        self._add_units(raw)

    def _add_units(self, raw: list[tuple[Work, Part, int, str]]) -> None:
        """Append sentences as segments, splitting any that is too long for a translator."""
        specs = [self.cfg.translators[lang] for lang in self.cfg.languages]
        limits = [(self.models.get(s), lang, s.max_input_tokens or self.models.get(s).max_input_tokens())
                  for s, lang in zip(specs, self.cfg.languages, strict=True)]

        def load(texts: list[str]) -> list[int]:
            """Per mille of the tightest translator window each text takes."""
            worst = [0] * len(texts)
            for backend, lang, limit in limits:
                counts = backend.count_tokens(texts, lang)
                worst = [max(w, -(-c * 1000 // int(limit * SPLIT_MARGIN))) for w, c in zip(worst, counts, strict=True)]
            return worst

        loads = load([r[3] for r in raw]) if raw else []
        sent_idx: dict[tuple[str, Part, int], int] = {}
        for (w, part, para, sentence), cost in zip(raw, loads, strict=True):
            pieces = [sentence] if cost <= 1000 else split_long(sentence, 1000, load, self.glossary)
            for piece in pieces:
                key = (w.article.id, part, para)
                idx = sent_idx.get(key, 0)
                sent_idx[key] = idx + 1
                w.units.append(Segment(w.article.id, part, para, idx, piece))

    def _summarize(self, works: list[Work]) -> None:
        """English summary per article; map-reduce over whole-sentence chunks when too long."""
        spec = self.cfg.summarizer
        backend = self.models.get(spec)
        window = spec.max_input_tokens or backend.max_input_tokens()
        by_id = {w.article.id: w for w in works}
        pending = first_level({w.article.id: w.article.paragraphs for w in works})
        for level in range(MAX_REDUCE_LEVELS):
            plan = plan_level(pending, window, lambda xs: backend.count_tokens(xs, None))
            outputs: list[dict[str, str | None]] = []
            failures: dict[str, str] = {}
            for texts, settings in ((plan.final_texts, spec.generation),
                                    (plan.partial_texts, partial_settings(spec.generation, window))):
                got = self._generate("summarize", spec, texts, [None], settings) if texts else None
                outputs.append(dict(zip(texts, got.outputs[None], strict=True)) if got else {})
                failures.update(got.failures if got else {})
            folded = fold_level(plan, outputs[0], outputs[1], failures)
            for aid, _ in plan.jobs:
                by_id[aid].summary_levels = level + 1
            for aid, summary in folded.summaries.items():
                by_id[aid].summary_en = summary
            for aid, reason in folded.failures.items():
                by_id[aid].failure = reason
            pending = folded.pending
            if not pending:
                return
        for aid in pending:
            by_id[aid].failure = f"summary did not converge in {MAX_REDUCE_LEVELS} map-reduce levels"

    def _translate(self, works: list[Work]) -> dict[str, dict[SegmentKey, Translated]]:
        """Per language, per unit: final text, origin and QA flags."""
        results: dict[str, dict[SegmentKey, Translated]] = {}
        units = [u for w in works if w.failure is None for u in w.units]
        # Languages served by the same model with the same settings are generated together.
        for spec, langs in translator_groups(self.cfg):
            human = {lang: self.memory.human_many(list({u.text for u in units}), lang) if self.memory else {}
                     for lang in langs}
            masked = {lang: {u.text: protect(u.text, self.glossary, lang) for u in units} for lang in langs}
            todo = list(dict.fromkeys(masked[lang][u.text].text for lang in langs for u in units
                                      if u.text not in human[lang]))
            got = self._generate("translate", spec, todo, list(langs), spec.generation)
            for lang in langs:
                out_of = dict(zip(todo, got.outputs[lang], strict=True))
                results[lang] = finish_translations(units, lang, human[lang], masked[lang], out_of,
                                                    got.failures, got.reused[lang], self.glossary)
                self.counts["segments_human"] += sum(1 for r in results[lang].values()
                                                     if r.origin == "human")
        return results

    def _summary_units(self, works: list[Work]) -> None:
        """The English summary's sentences as segments, split like the body's to fit."""
        self._add_units([(w, "summary", 0, s) for w in works if w.failure is None
                         for s in split_sentences(w.summary_en, self.glossary)])

    # -- the run -----------------------------------------------------------------------

    def execute(self) -> RunResult:
        opts = self.opts
        out = OutputDir(opts.out)
        if not opts.input.exists():
            raise InputError(f"input {opts.input} does not exist")
        out.lock()
        try:
            return self._execute(out)
        finally:
            out.unlock()

    def _execute(self, out: OutputDir) -> RunResult:
        opts, cfg = self.opts, self.cfg
        self.out = out
        config_hash = cfg.hash()
        t0 = time.perf_counter()
        # Each file is read once: hashed and parsed from the same bytes (records kept in memory).
        self.scan = read_inputs(opts.input)
        inputs = describe_inputs(self.scan, opts.input)
        self._time("read", time.perf_counter() - t0)
        out.remove_stray_temp_files()
        run = out.find_resumable(config_hash, inputs["digest"])
        resumed = run is not None
        if run is None:
            started_at = utcnow()
            run = out.create_run(config_hash, {"status": "running", "config_hash": config_hash,
                                               "inputs_digest": inputs["digest"],
                                               "started_at": started_at})
        else:
            run.remove_stray_temp_files()
            started_at = run.read_manifest().get("started_at", utcnow())
            self.progress.log(f"resuming unfinished run {run.run_id}")
        run.reset_errors()
        self.memory = Memory(out.memory_path)
        manifest: dict[str, Any] = {
            "run_id": run.run_id, "status": "running", "config_hash": config_hash,
            "config": cfg.resolved(), "inputs_digest": inputs["digest"], "inputs": inputs,
            "models": [], "packages": package_versions(), "counts": self.counts,
            "started_at": started_at, "finished_at": None, "timings": self.timings,
            "resumed": resumed, "cache": opts.use_cache, "command": opts.command,
            "glossary": self.glossary.digest() if self.glossary else None,
        }
        run.write_manifest(manifest)
        status = "failed"
        try:
            self._process(run, config_hash)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            manifest["status"] = status
            manifest["finished_at"] = utcnow()
            manifest["models"] = self._model_entries()
            manifest["device_stats"] = self.device_stats
            manifest["model_checks"] = self.model_checks
            manifest["generation"] = {k: vars(v) for k, v in self.gen_stats.items()}
            run.write_manifest(manifest)
            self.memory.close()
            if status == "complete":
                out.point_latest(run)
        return RunResult(run, manifest)

    def _model_entries(self) -> list[dict[str, Any]]:
        entries = []
        for task, lang, spec in [("summarize", None, self.cfg.summarizer)] + [
            ("translate", lang, self.cfg.translators[lang]) for lang in self.cfg.languages
        ]:
            entry: dict[str, Any] = {"task": task, "target_lang": lang, "model": spec.model,
                                     "revision": spec.revision, "backend": spec.backend}
            if spec.key() in self.models._loaded:
                entry.update(self.models.get(spec).info())
            else:
                entry["loaded"] = False
            entries.append(entry)
        return entries

    def _record_bad(self, run: Run, bad: BadRecord) -> None:
        self.counts["bad_records"] += 1
        self.counts["articles_failed"] += 1
        run.append_error({"file": bad.source, "line": bad.line, "id": bad.id,
                          "stage": "read", "reason": bad.reason})
        self.progress.bad_record(bad.describe())

    def _load_models(self, out: OutputDir) -> None:
        """Load every model, check it can produce its language and generate with the run's
        settings (warm-up), and run the model check on first use; all before any work."""
        start = time.perf_counter()
        self.models.get(self.cfg.summarizer)
        for lang in self.cfg.languages:
            self.models.get(self.cfg.translators[lang]).count_tokens(["Hello."], lang)
        self._time("load_models", time.perf_counter() - start)
        start = time.perf_counter()
        warm_up(self.models.get(self.cfg.summarizer), [None], self.cfg.summarizer.generation)
        for spec, langs in translator_groups(self.cfg):
            warm_up(self.models.get(spec), list(langs), spec.generation)
        self._time("warm_up", time.perf_counter() - start)
        if self.opts.check_models and self.cfg.model_check:
            start = time.perf_counter()
            self.model_checks = run_model_checks(self.cfg, self.models, out.root, self.progress)
            self._time("model_check", time.perf_counter() - start)
        self._device_snapshot("load_models")

    def _device_snapshot(self, stage: str) -> None:
        """Accelerator memory/utilisation after a stage: one reading per device (the peak is
        device-wide, so it is read and reset once per device, not once per model)."""
        by_device: dict[str, list[tuple[str, Backend]]] = {}
        for key, backend in self.models._loaded.items():
            if getattr(backend, "device_stats", None) is not None:
                by_device.setdefault(str(backend.info().get("device")), []).append((key[0], backend))
        for device, entries in by_device.items():
            snap = entries[0][1].device_stats()  # type: ignore[attr-defined]
            if snap:
                snap["models"] = [name for name, _ in entries]
                self.device_stats.setdefault(stage, {})[device] = snap
                self.progress.log(f"{stage}: {device} {snap}")

    def _process(self, run: Run, config_hash: str) -> None:
        cfg = self.cfg
        self._load_models(self.out)
        total = sum(1 for item in self.scan.items if isinstance(item, Article))
        self.progress.start("articles", total)
        for window in windows(self.scan.items, cfg.batch.window_articles):
            works: list[Work] = []
            for item in window:
                if isinstance(item, BadRecord):
                    self._record_bad(run, item)
                    continue
                sha = article_sha(item)
                prev = run.read_article(item.id)
                if prev and prev.get("input_sha256") == sha and prev.get("config_hash") == config_hash:
                    self._count_done(prev)
                    self.counts["articles_resumed"] += 1
                    self.progress.advance("articles")
                    continue
                works.append(Work(item, sha))
            if works:
                self._run_window(run, works, config_hash)

    def _run_window(self, run: Run, works: list[Work], config_hash: str) -> None:
        stage = time.perf_counter()
        self._segment(works)
        self._time("segment", time.perf_counter() - stage)
        stage = time.perf_counter()
        self._summarize(works)
        self._time("summarize", time.perf_counter() - stage)
        self._device_snapshot("summarize")
        self._summary_units(works)
        self.progress.start("segments", sum(len(w.units) for w in works if w.failure is None)
                            * len(self.cfg.languages))
        stage = time.perf_counter()
        translated = self._translate(works)
        self._time("translate", time.perf_counter() - stage)
        self._device_snapshot("translate")
        stage = time.perf_counter()
        for w in works:
            if w.failure is None:
                doc, w.failure = assemble(w.article, w.units, Summary(w.summary_en, w.summary_levels),
                                          translated, self.cfg.languages, w.input_sha, config_hash)
            if w.failure is not None:
                self._fail(run, w)
                continue
            run.write_article(doc)
            self._count_done(doc)
            self.progress.advance("articles")
        self._time("write", time.perf_counter() - stage)

    def _count_done(self, doc: dict[str, Any]) -> None:
        qa = doc.get("qa", [])
        if qa:
            self.counts["articles_flagged"] += 1
            for flag in qa:
                self.counts["qa_flags"][flag["check"]] = self.counts["qa_flags"].get(flag["check"], 0) + 1
        if qa and self.opts.fail_on_qa:
            self.counts["articles_failed"] += 1
        else:
            self.counts["articles_ok"] += 1

    def _fail(self, run: Run, w: Work) -> None:
        self.counts["articles_failed"] += 1
        a = w.article
        run.append_error({"file": a.source, "line": a.line, "id": a.id, "stage": "process",
                          "reason": w.failure})
        where = a.source + (f":{a.line}" if a.line else "")
        self.progress.bad_record(f"{where} (id {a.id!r}): {w.failure}")
        self.progress.advance("articles")


def run_batch(opts: RunOptions, progress: Progress | None = None,
              loader: Callable[..., Backend] | None = None) -> RunResult:
    return Runner(opts, progress, loader).execute()


