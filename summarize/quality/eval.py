"""`summarize eval`: how well a profile translates (and summarises), scored against references.

The references are the shipped FLORES-200 devtest (``--set flores200``) or the user's own JSONL
file (``--refs``). Sources go through the production path of `summarize run`: segmentation to
fit the translators, protection and the config's glossary, the scheduler with the config's batch
settings and each model's generation settings, multilingual models generating all their
languages together, and the translation memory with the run's own keys, so what a run or an
earlier eval generated is reused and an unchanged profile re-evaluates without generating.
Reviewed (human) translations in the memory are not used: the model is what is scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from summarize.backends.base import Backend
from summarize.config import Config, ModelSpec
from summarize.engines.local import LocalEngine
from summarize.models.load import Models
from summarize.pipeline.assemble import (
    SegmentKey,
    Summary,
    Translated,
    assemble,
    key_of,
)
from summarize.pipeline.stages import Stages
from summarize.pipeline.windows import Work
from summarize.quality.references import ROUGE_TYPES, Reference, ReferenceSet
from summarize.quality.scores import model_licence, qa_rates, rouge_scores, translation_scores
from summarize.read import split_paragraphs
from summarize.records import Article
from summarize.runs.memory import Memory
from summarize.runs.store import OutputDir
from summarize.text.glossary import load_glossary

# ---------------------------------------------------------------------------- evaluation


class Evaluation:
    """One config over one reference set, through the memory in ``memory``."""

    def __init__(self, config: Config, models: Models, memory: Memory, progress: Any):
        self.cfg = config
        self.models = models
        self.progress = progress
        # The run's stages, on this process's engine; rows stored with no run id.
        self.stages = Stages(config, models, memory, LocalEngine(),
                             load_glossary(config.glossary), progress.advance)

    @property
    def computed(self) -> int:
        return self.stages.counts["segments_computed"]

    @property
    def reused(self) -> int:
        return self.stages.counts["segments_reused"]

    def translations(self, items: Sequence[Reference]) -> list[dict[str, Any]]:
        """Per language of the config with references: scores, QA rates, outputs."""
        langs = [lang for lang in self.cfg.languages if any(lang in r.targets for r in items)]
        if not langs:
            return []
        works = [Work(Article(r.id, "", tuple(split_paragraphs(r.en or ""))), "") for r in items]
        # Cut to fit every translator of the config, as a run does, so segments (and memory
        # keys) are the run's even when the references cover fewer languages.
        self.stages.segmenter().articles(works)
        segments = [s for w in works for s in w.segments]
        self.progress.start("segments", len(segments) * len(langs))
        # The model is scored: reviewed translations in the memory are not used.
        translated = self.stages.translations(segments, langs, human=False)
        return [self._language_row(lang, self.cfg.translators[lang], items, works, translated)
                for lang in langs]

    def _language_row(self, lang: str, spec: ModelSpec, items: Sequence[Reference],
                      works: Sequence[Work], translated: dict[str, dict[SegmentKey, Translated]]
                      ) -> dict[str, Any]:
        outputs: list[dict[str, str]] = []
        results: list[Translated] = []
        failures: list[str] = []
        failed = empty = 0
        for ref, w in zip(items, works, strict=True):
            if lang not in ref.targets:
                continue
            # The run's own assembly: sentences joined per the language's typography, and its
            # verdict (a failed segment or an empty paragraph fails the article in a run).
            doc, failure = assemble(w.article, w.segments, Summary("", 0),
                                    {lang: translated[lang]}, [lang], "", "")
            outputs.append({"id": ref.id, "output": doc["translations"][lang]["body"]})
            broken = 0
            for s in w.segments:
                r = translated[lang][key_of(s)]
                results.append(r)
                if r.text is None:
                    broken += 1
                    failures.append(f"{ref.id}: {r.error}")
            failed += broken
            if failure is not None and not broken:  # generated, but empty
                empty += 1
                failures.append(f"{ref.id}: {failure.removeprefix('translation failed: ')}")
        hyps = [o["output"] for o in outputs]
        refs = [r.targets[lang] for r in items if lang in r.targets]
        info = self.models.get(spec).info()
        return {"lang": lang, "model": spec.model, "licence": model_licence(spec, info),
                "fingerprint": self.models.fingerprint(spec), "items": len(outputs),
                **translation_scores(hyps, refs, lang), "qa": qa_rates(results),
                "failed_segments": failed, "empty_outputs": empty, "failures": failures[:20],
                "outputs": outputs}

    def summaries(self, items: Sequence[Reference]) -> dict[str, Any] | None:
        """ROUGE of the config's summaries against the reference summaries."""
        items = [r for r in items if r.summary is not None]
        if not items:
            return None
        spec = self.cfg.summarizer
        backend = self.models.get(spec)
        done = self.stages.summaries({r.id: tuple(split_paragraphs(r.article or ""))
                                      for r in items})
        got, failures = done.summaries, done.failures
        outputs = [{"id": r.id, "output": got.get(r.id, "")} for r in items]
        empty = [o["id"] for o in outputs if not o["output"].strip() and o["id"] not in failures]
        scores = rouge_scores([o["output"] for o in outputs], [r.summary or "" for r in items])
        return {"model": spec.model, "licence": model_licence(spec, backend.info()),
                "fingerprint": self.models.fingerprint(spec), "items": len(items), **scores,
                "failed": len(failures), "empty": len(empty),
                "failures": ([f"{aid}: {why}" for aid, why in failures.items()]
                             + [f"{aid}: the summariser returned no text" for aid in empty])[:20],
                "outputs": outputs}


def evaluate(configs: Sequence[tuple[str, Config]], refs: ReferenceSet, out: Path,
             progress: Any, loader: Callable[..., Backend] | None = None) -> dict[str, Any]:
    """The report of every config over ``refs``; the memory is OUT/memory.sqlite, the same
    file `summarize run --out OUT` uses (the folder is locked meanwhile)."""
    if loader is None:
        from summarize.backends import load_backend

        loader = load_backend
    od = OutputDir(out)
    od.lock()
    try:
        memory = Memory(od.memory_path)
        try:
            results = [_evaluate_one(name, cfg, refs, memory, progress, loader)
                       for name, cfg in configs]
        finally:
            memory.close()
    finally:
        od.unlock()
    return {"references": {"set": refs.name, "records": len(refs.items),
                           "bad_records": [b.describe() for b in refs.bad]},
            "memory": str(od.memory_path), "configs": results}


def _evaluate_one(name: str, cfg: Config, refs: ReferenceSet, memory: Memory, progress: Any,
                  loader: Callable[..., Backend]) -> dict[str, Any]:
    start = time.perf_counter()
    progress.log(f"evaluating {name} on {refs.name}")
    ev = Evaluation(cfg, Models(cfg, loader), memory, progress)
    translations = ev.translations([r for r in refs.items if r.en is not None])
    summary = ev.summaries(refs.items)
    missing = sorted({lang for r in refs.items for lang in r.targets} - set(cfg.languages))
    return {"config": name, "config_hash": cfg.hash(), "translations": translations,
            "summary": summary, "languages_not_in_config": missing,
            "segments_computed": ev.computed, "segments_reused": ev.reused,
            "seconds": round(time.perf_counter() - start, 2)}


def failed_count(report: dict[str, Any]) -> int:
    """Segments and summaries that could not be generated, and outputs that came back empty
    (a translation with an empty paragraph, an empty summary), over all configs; `summarize
    eval` exits 3 when there is any, as `summarize run` does on the same outputs."""
    return sum(sum(t["failed_segments"] + t["empty_outputs"] for t in c["translations"])
               + (c["summary"]["failed"] + c["summary"]["empty"] if c["summary"] else 0)
               for c in report["configs"])


def translation_rows(report: dict[str, Any]) -> list[list[str]]:
    """Terminal table rows: one per config and language."""
    return [[c["config"], t["lang"], f"{t['chrf']:.1f}", f"{t['bleu']:.1f}",
             f"{t['qa']['flagged_share']:.0%}", str(t["items"]), t["model"], t["licence"]]
            for c in report["configs"] for t in c["translations"]]


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    """Terminal table rows: one per config with reference summaries."""
    return [[c["config"], *(f"{s[k]:.1f}" for k in ROUGE_TYPES), str(s["items"]), s["model"],
             s["licence"]] for c in report["configs"] if (s := c["summary"])]
