"""Where generation runs. An engine takes the texts still to generate per target language and
yields each finished batch as a value; the driver stores it and moves on. ``LocalEngine`` runs
the scheduler in this process; an engine over many machines implements the same method."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from summarize.backends.base import Backend
from summarize.backends.scheduler import (
    BatchStats,
    Generated,
    Schedule,
    iter_generate_all,
    iter_generate_all_multi,
)
from summarize.config import BatchSettings, GenerationSettings

Lang = str | None  # None: English output (summaries)


@dataclass
class BatchResult:
    """A finished batch (sources with their outputs per language) or, ending a scheduler pass,
    the pass's failures and stats. ``langs`` names the pass: one language, or several decoded
    from one encoding."""

    langs: tuple[Lang, ...]
    sources: list[str] = field(default_factory=list)
    outputs: dict[Lang, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    stats: BatchStats | None = None


class Engine(Protocol):
    def start(self) -> None:
        """Before any model is used (a remote engine connects here)."""
        ...

    def close(self) -> None:
        ...

    def report(self) -> dict[str, Any]:
        """The manifest's ``engine`` section."""
        ...

    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: BatchSettings
                 ) -> Generator[BatchResult, None, None]:
        """Outputs for ``todo`` (distinct texts per target language), batch by batch. A
        consumer that stops early closes the iterator, so the engine stops too. ``backend``
        is the loaded model, or for an engine that loads models elsewhere its tokenizer-only
        view (``backend.spec`` names the model)."""
        ...


def shared_texts(backend: Backend, todo: Mapping[Lang, Sequence[str]]) -> list[str]:
    """Texts missing in every language of a multilingual model that decodes several languages
    from one encoding (``generate_multi``): they go in one pass for all those languages."""
    named = [lang for lang in todo if lang is not None]
    if len(named) > 1 and len(named) == len(todo) and backend.multi_target:
        others = [set(todo[x]) for x in named[1:]]
        return [t for t in todo[named[0]] if all(t in o for o in others)]
    return []


class LocalEngine:
    """The scheduler in this process. Texts missing in several languages of one multilingual
    model are encoded once and decoded per language; a text that failed in one pass is not
    tried again in the next."""

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def report(self) -> dict[str, Any]:
        return {"engine": "local"}

    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: BatchSettings
                 ) -> Generator[BatchResult, None, None]:
        done: dict[Lang, set[str]] = {lang: set() for lang in todo}
        failures: dict[str, str] = {}
        named = [lang for lang in todo if lang is not None]
        shared = shared_texts(backend, todo)
        if shared:
            multi = iter_generate_all_multi(backend, shared, named, settings, **batching.packing())
            for r in _passes(multi, tuple(named)):
                for lang in r.outputs:
                    done[lang].update(r.sources)
                failures.update(r.failures)
                yield r
        for lang in todo:
            rest = [t for t in todo[lang] if t not in done[lang] and t not in failures]
            if rest:
                single = iter_generate_all(backend, rest, lang, settings, **batching.packing())
                for r in _passes(single, (lang,)):
                    failures.update(r.failures)
                    yield r


def _passes(schedule: Schedule, langs: tuple[Lang, ...]) -> Generator[BatchResult, None, None]:
    """One scheduler pass as BatchResults: each finished batch, then the pass's failures and
    stats. The scheduler is itself a generator, so generation only advances when the consumer
    asks for the next batch; a consumer that stops (an error, an interrupt) closes it, and it
    stops after the batch it is on."""
    try:
        while True:
            try:
                sources, outputs = next(schedule)
            except StopIteration as finished:
                result: Generated = finished.value
                yield BatchResult(langs, failures=result.failures, stats=result.stats)
                return
            yield BatchResult(langs, sources, per_language(langs, outputs))
    finally:
        schedule.close()


def per_language(langs: tuple[Lang, ...], outputs: Sequence[object]) -> dict[Lang, list[str]]:
    """A pass's outputs by language: ``{lang: text}`` per input for a pass of several
    languages, the text itself for one."""
    if len(langs) > 1:
        return {lang: [o[lang] for o in outputs] for lang in langs}  # type: ignore[index]
    return {langs[0]: list(outputs)}  # type: ignore[arg-type]
