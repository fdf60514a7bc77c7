"""The driver's bookkeeping for the Ray pool: a slot per actor, a job per batch to generate
(with how often a worker died on it), an outstanding call, and the packing of the texts still
to generate into jobs by the local engine's token budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from summarize.backends.base import Backend
from summarize.backends.scheduler import (
    pack,
    texts_per_call,
)
from summarize.config import BatchSettings, GenerationSettings
from summarize.engines.local import Lang, shared_texts


def worker_died(exc: BaseException) -> bool:
    """Whether a Ray error means the worker process (or its node) is gone."""
    from ray import exceptions as rx

    return isinstance(exc, (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError,
                            rx.OutOfMemoryError, rx.ObjectLostError))


@dataclass
class Slot:
    """One place in the pool: the actor now holding it and what it has loaded."""

    index: int
    actor: Any
    created: float
    ready: bool = False
    about: dict[str, Any] = field(default_factory=dict)
    models: set[tuple[Any, ...]] = field(default_factory=set)  # loaded or being loaded
    loading: int = 0  # load calls not answered yet
    running: int = 0  # jobs submitted, not answered yet


@dataclass
class Job:
    """A batch to generate: the texts, and how often a worker died on it."""

    langs: list[Lang]
    texts: list[str]
    deaths: int = 0
    last_death: str = ""


@dataclass
class Call:
    """An outstanding actor call."""

    slot: Slot
    kind: str  # ready | load | job | ask
    seq: int
    job: Job | None = None


def plan_jobs(backend: Backend, todo: Mapping[Lang, Sequence[str]], settings: GenerationSettings,
              batching: BatchSettings) -> list[dict[str, Any]]:
    """The batches a local run would make, in its order: texts missing in every language of a
    multilingual model in one pass for all of them, the rest per language; each pass packed by
    the scheduler's own rule (token budget, size and hypotheses caps, one new-token budget)."""
    shared = shared_texts(backend, todo)
    named: list[Lang] = [lang for lang in todo if lang is not None]
    passes: list[tuple[list[Lang], list[str]]] = [(named, shared)] if shared else []
    taken = set(shared)
    passes += [([lang], [t for t in texts if t not in taken]) for lang, texts in todo.items()]
    jobs: list[dict[str, Any]] = []
    for langs, texts in passes:
        unique = list(dict.fromkeys(texts))
        if not unique:
            continue
        lengths = backend.count_tokens(unique, langs[0])
        size = texts_per_call(batching.max_batch_size, settings, len(langs),
                              batching.max_hypotheses)
        for b in pack(lengths, batching.max_batch_tokens, size, settings.budget):
            jobs.append({"id": len(jobs), "langs": langs, "texts": [unique[i] for i in b]})
    return jobs


# ---------------------------------------------------------------------- on the workers
