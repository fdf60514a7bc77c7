"""Length-sorted, token-budget batching over a backend, with de-duplication and failure isolation."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .backends.base import Backend, OutOfMemory
from .config import GenerationSettings

DEFAULT_MAX_HYPOTHESES = 128


@dataclass
class BatchStats:
    """What a scheduler pass did; summed into the manifest's per-stage figures."""

    inputs: int = 0
    unique: int = 0
    batches: int = 0
    source_tokens: int = 0
    padded_tokens: int = 0
    oom_splits: int = 0
    error_splits: int = 0
    seconds: float = 0.0

    def add(self, other: BatchStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Generated:
    """Outputs in input order; None where generation failed (reason in ``failures``)."""

    outputs: list[Any]  # str (or {lang: str} for generate_all_multi); None where it failed
    failures: dict[str, str] = field(default_factory=dict)
    stats: BatchStats = field(default_factory=BatchStats)


def pack(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int) -> list[list[int]]:
    """Group indices, longest first, so each batch's padded size (n * longest) fits the budget.

    Cost is dominated by padded source plus generated tokens, both roughly proportional to the
    longest source in the batch, so batches of similar length are packed as full as allowed.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        top = max(longest, lengths[i])
        if current and (len(current) + 1 > max_batch_size or (len(current) + 1) * top > max_batch_tokens):
            batches.append(current)
            current, top = [], lengths[i]
        current.append(i)
        longest = top
    if current:
        batches.append(current)
    return batches


def beam_capped(max_batch_size: int, num_beams: int, max_hypotheses: int) -> int:
    """Sentences per batch so that beams x sentences stays within ``max_hypotheses``.

    Measured on the opus-mt-en-zh shape (bench/RESULTS.md): greedy is fastest at 64 sentences,
    beam 4 at 32; the decoder's per-step cost grows with the number of live hypotheses.
    """
    return max(1, min(max_batch_size, max_hypotheses // max(1, num_beams)))


def generate_all(
    backend: Backend,
    texts: Sequence[str],
    target_lang: str | None,
    settings: GenerationSettings,
    *,
    max_batch_tokens: int,
    max_batch_size: int,
    max_hypotheses: int = DEFAULT_MAX_HYPOTHESES,
    on_batch: Callable[[list[str], list[str]], None] | None = None,
) -> Generated:
    """Generate an output for every text, each distinct text once, in input order.

    A batch that runs out of device memory is halved and retried, never dropped. A batch that
    raises is bisected down to the failing inputs, which are reported in ``failures``; the rest
    of the batch still gets its outputs. ``on_batch(sources, outputs)`` runs after every
    finished batch so callers can persist results as soon as they exist.
    """
    return _schedule(
        texts,
        lambda unique: backend.count_tokens(unique, target_lang),
        lambda batch: backend.generate_batch(batch, target_lang, settings),
        max_batch_tokens, beam_capped(max_batch_size, settings.num_beams, max_hypotheses), on_batch,
    )


def generate_all_multi(
    backend: Backend,
    texts: Sequence[str],
    target_langs: Sequence[str],
    settings: GenerationSettings,
    *,
    max_batch_tokens: int,
    max_batch_size: int,
    max_hypotheses: int = DEFAULT_MAX_HYPOTHESES,
    on_batch: Callable[[list[str], list[dict[str, str]]], None] | None = None,
) -> Generated:
    """Like generate_all, for several target languages of one multilingual model: each batch is
    encoded once (``backend.generate_multi``) and outputs are ``{lang: text}`` per input."""
    multi = backend.generate_multi  # type: ignore[attr-defined]

    def call(batch: list[str]) -> list[dict[str, str]]:
        per_lang = multi(batch, target_langs, settings)
        return [{lang: per_lang[lang][i] for lang in target_langs} for i in range(len(batch))]

    return _schedule(
        texts,
        lambda unique: backend.count_tokens(unique, target_langs[0]),
        call, max_batch_tokens, beam_capped(max_batch_size, settings.num_beams, max_hypotheses),
        on_batch,
    )


def _schedule(
    texts: Sequence[str],
    count: Callable[[list[str]], list[int]],
    call: Callable[[list[str]], list[Any]],
    max_batch_tokens: int,
    max_batch_size: int,
    on_batch: Callable[[list[str], list[Any]], None] | None,
) -> Generated:
    stats = BatchStats(inputs=len(texts))
    unique = list(dict.fromkeys(texts))
    stats.unique = len(unique)
    if not unique:
        return Generated([], stats=stats)
    start = time.perf_counter()
    lengths = count(unique)
    length_of = dict(zip(unique, lengths, strict=True))
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    pending = [[unique[i] for i in b] for b in pack(lengths, max_batch_tokens, max_batch_size)]
    while pending:
        batch = pending.pop(0)
        try:
            outputs = call(batch)
        except OutOfMemory as exc:
            if len(batch) == 1:
                failures[batch[0]] = f"out of device memory even alone: {exc}"
                continue
            stats.oom_splits += 1
            pending[:0] = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
            continue
        except Exception as exc:  # isolate the bad input; the batch's other inputs go on
            if len(batch) == 1:
                failures[batch[0]] = f"{type(exc).__name__}: {exc}"
                continue
            stats.error_splits += 1
            pending[:0] = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
            continue
        stats.batches += 1
        stats.source_tokens += sum(length_of[t] for t in batch)
        stats.padded_tokens += len(batch) * max(length_of[t] for t in batch)
        results.update(zip(batch, outputs, strict=True))
        if on_batch is not None:
            on_batch(batch, outputs)
    stats.seconds = time.perf_counter() - start
    return Generated([results.get(t) for t in texts], failures, stats)
