"""Generation through the translation memory: what is stored is reused, the rest is generated
and stored batch by batch, so a kill loses at most one batch and a retry stores nothing twice."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from summarize.backends.base import Backend
from summarize.backends.scheduler import BatchStats
from summarize.config import BatchSettings, GenerationSettings
from summarize.engines.local import Engine, Lang
from summarize.runs.memory import Memory, unit_key


@dataclass
class Outcome:
    """Outputs per language in the order of the texts asked for (None where generation failed),
    and what it took."""

    outputs: dict[Lang, list[str | None]]
    failures: dict[str, str]
    reused: dict[Lang, set[str]]  # texts whose output came from an earlier run's memory
    segments_reused: int = 0
    segments_computed: int = 0
    stats: dict[str, BatchStats] = field(default_factory=dict)


class CachedGeneration:
    """The memory's view for one task, model and settings: splits texts into hits and
    to-generate, stores outputs as they arrive and puts the answer together."""

    def __init__(self, memory: Memory | None, task: str, model_fp: str, settings_fp: str,
                 use_cache: bool = True, run: str | None = None):
        self.memory = memory
        self.task = task
        self.model_fp = model_fp
        self.settings_fp = settings_fp
        self.use_cache = use_cache
        # Outputs this run generated itself (in an earlier window, or before it was interrupted)
        # are its own, not reuse: an article's origins never depend on windows or resumes.
        self.run = run
        self.own: dict[Lang, set[str]] = {}

    def key(self, lang: Lang, text: str) -> str:
        return unit_key(self.task, lang or "en", self.model_fp, self.settings_fp, text)

    def split(self, texts: Sequence[str], langs: Sequence[Lang]
              ) -> tuple[dict[Lang, dict[str, str]], dict[Lang, list[str]]]:
        """(stored outputs by text, distinct texts still to generate), per language. With the
        cache off nothing is a hit, but results are still stored."""
        hits: dict[Lang, dict[str, str]] = {}
        todo: dict[Lang, list[str]] = {}
        for lang in langs:
            found: dict[str, str] = {}
            own: set[str] = set()
            if self.use_cache and self.memory is not None:
                keys = {t: self.key(lang, t) for t in texts}
                stored = self.memory.get_many_with_run(list(keys.values()))
                found = {t: stored[k][0] for t, k in keys.items() if k in stored}
                if self.run is not None:
                    own = {t for t, k in keys.items() if k in stored and stored[k][1] == self.run}
            hits[lang] = found
            self.own[lang] = own
            todo[lang] = list(dict.fromkeys(t for t in texts if t not in found))
        return hits, todo

    def store(self, lang: Lang, sources: Sequence[str], outputs: Sequence[str]) -> None:
        if self.memory is not None:
            self.memory.put_many(((self.key(lang, s), self.task, lang or "en", self.model_fp, s, o)
                                  for s, o in zip(sources, outputs, strict=True)), self.run)


def hit_count(texts: Sequence[str], hits: dict[str, str]) -> int:
    """Texts answered from the memory, repeats included (the manifest's ``segments_reused``)."""
    return sum(1 for t in texts if t in hits)


def combine(texts: Sequence[str], hits: dict[Lang, dict[str, str]],
            fresh: dict[Lang, dict[str, str]]) -> tuple[dict[Lang, list[str | None]],
                                                         dict[Lang, set[str]]]:
    """Outputs in text order per language (stored first, then generated), and which were stored."""
    outputs = {lang: [found.get(t, fresh[lang].get(t)) for t in texts]
               for lang, found in hits.items()}
    reused = {lang: {t for t in texts if t in found} for lang, found in hits.items()}
    return outputs, reused


def generate_cached(cache: CachedGeneration, engine: Engine, backend: Backend,
                    texts: Sequence[str], langs: Sequence[Lang], settings: GenerationSettings,
                    batching: BatchSettings, advance: Callable[[int], None]) -> Outcome:
    """Outputs per language for texts: stored ones from the memory, the rest from the engine,
    each batch stored as soon as it arrives. ``advance(n)`` reports progress."""
    hits, todo = cache.split(texts, langs)
    outcome = Outcome({}, {}, {})
    for lang in langs:
        n = hit_count(texts, hits[lang])
        outcome.segments_reused += n
        advance(n)
    fresh: dict[Lang, dict[str, str]] = {lang: {} for lang in langs}
    # closing(): an error or interrupt here stops the engine's pass at once, not at GC time
    with contextlib.closing(engine.generate(backend, todo, settings, batching)) as batches:
        for batch in batches:
            for lang, outputs in batch.outputs.items():
                fresh[lang].update(zip(batch.sources, outputs, strict=True))
                outcome.segments_computed += len(batch.sources)
                advance(len(batch.sources))
                cache.store(lang, batch.sources, outputs)
            outcome.failures.update(batch.failures)
            if batch.stats is not None:
                name = f"{cache.task}:{'+'.join(lang or 'en' for lang in batch.langs)}"
                outcome.stats.setdefault(name, BatchStats()).add(batch.stats)
    outcome.outputs, outcome.reused = combine(texts, hits, fresh)
    for lang, own in cache.own.items():
        outcome.reused[lang] -= own
    return outcome
