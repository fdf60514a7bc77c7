"""Where generation runs. An engine takes the texts still to generate per target language and
yields each finished batch as a value; the driver stores it and moves on. ``LocalEngine`` runs
the scheduler in this process; an engine over many machines implements the same method."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .backends.base import Backend
from .config import GenerationSettings
from .scheduler import BatchStats, Generated, generate_all, generate_all_multi

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
    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: Mapping[str, int]
                 ) -> Generator[BatchResult, None, None]:
        """Outputs for ``todo`` (distinct texts per target language), batch by batch. A
        consumer that stops early closes the iterator, so the engine stops too."""
        ...


class LocalEngine:
    """The scheduler in this process. Texts missing in several languages of one multilingual
    model are encoded once and decoded per language; a text that failed in one pass is not
    tried again in the next."""

    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: Mapping[str, int]
                 ) -> Generator[BatchResult, None, None]:
        done: dict[Lang, set[str]] = {lang: set() for lang in todo}
        failures: dict[str, str] = {}
        named = [lang for lang in todo if lang is not None]
        if len(named) > 1 and len(named) == len(todo) and hasattr(backend, "generate_multi"):
            shared = [t for t in todo[named[0]] if all(t in set(todo[x]) for x in named[1:])]
            if shared:
                def multi(on_batch: OnBatch) -> Generated:
                    return generate_all_multi(backend, shared, named, settings, on_batch=on_batch,
                                              **batching)

                for r in _passes(multi, tuple(named)):
                    for lang in r.outputs:
                        done[lang].update(r.sources)
                    failures.update(r.failures)
                    yield r
        for lang in todo:
            rest = [t for t in todo[lang] if t not in done[lang] and t not in failures]
            if rest:
                def single(on_batch: OnBatch, lang: Lang = lang, rest: list[str] = rest
                           ) -> Generated:
                    return generate_all(backend, rest, lang, settings, on_batch=on_batch,
                                        **batching)

                for r in _passes(single, (lang,)):
                    failures.update(r.failures)
                    yield r


OnBatch = Callable[[list[str], list[Any]], None]


class _Stopped(Exception):
    """The consumer went away: the pass ends after its current batch."""


def _passes(run: Callable[[OnBatch], Generated], langs: tuple[Lang, ...]
            ) -> Generator[BatchResult, None, None]:
    """One scheduler pass as an iterator: the pass runs in a worker thread and waits while
    the consumer handles each batch, so the two never run at once. If the consumer stops
    (an error, an interrupt), the pass ends after the batch it is on, storing nothing."""
    inbox: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    resume = threading.Semaphore(0)
    stop = threading.Event()

    def on_batch(sources: list[str], outputs: list[Any]) -> None:
        inbox.put(("batch", (sources, outputs)))
        resume.acquire()
        if stop.is_set():
            raise _Stopped

    def work() -> None:
        try:
            inbox.put(("done", run(on_batch)))
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer, raised there
            inbox.put(("error", exc))

    worker = threading.Thread(target=work, name="summarize-local-engine")
    worker.start()
    try:
        while True:
            kind, value = inbox.get()
            if kind == "error":
                raise value
            if kind == "done":
                yield BatchResult(langs, failures=value.failures, stats=value.stats)
                return
            sources, outputs = value
            if len(langs) > 1:
                per_lang = {lang: [o[lang] for o in outputs] for lang in langs}
            else:
                per_lang = {langs[0]: list(outputs)}
            yield BatchResult(langs, sources, per_lang)
            resume.release()
    finally:
        if worker.is_alive():
            stop.set()
            resume.release()
