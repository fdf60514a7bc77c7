"""Length-sorted, token-budget batching over a backend, with de-duplication and failure isolation.

A failing batch is one of three things, and each is handled differently:
- out of device memory: halved and retried, and later batches are cut to the size that fit;
- a bad input: the batch is bisected down to it, it alone fails, the rest goes on;
- a systemic failure (the install, driver or device, or a bug): the run stops with one message.
  Known device errors are systemic at once; any other error is systemic when a plain
  one-sentence batch (the canary) fails too, which is asked before bisecting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from summarize.backends.base import Backend, OutOfMemory
from summarize.backends.devices import describe, first_line, is_systemic
from summarize.config import GenerationSettings
from summarize.errors import GenerationError

DEFAULT_MAX_HYPOTHESES = 128
CANARY = "The city council approved a new budget for schools and roads on Monday."


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
    probes: int = 0  # canary calls made to tell a bad input from a systemic failure
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


def pack(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int,
         budget: Callable[[int], int] | None = None) -> list[list[int]]:
    """Group indices, longest first, so each batch's padded size (n * longest) fits the budget.

    Cost is dominated by padded source plus generated tokens, both roughly proportional to the
    longest source in the batch, so batches of similar length are packed as full as allowed.
    ``budget(length)``: a new batch starts where the new-token budget changes, so a batch is
    one generate() call (backends split a batch of mixed budgets into one call per budget).
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        top = max(longest, lengths[i])
        if current and (len(current) + 1 > max_batch_size or (len(current) + 1) * top > max_batch_tokens
                        or (budget is not None and budget(lengths[i]) != budget(lengths[current[0]]))):
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


def texts_per_call(max_batch_size: int, settings: GenerationSettings, languages: int,
                   max_hypotheses: int = DEFAULT_MAX_HYPOTHESES) -> int:
    """Texts per generate call: each decodes ``num_beams x languages`` rows, which the
    hypothesis cap counts (see beam_capped)."""
    return beam_capped(max_batch_size, settings.num_beams * languages, max_hypotheses)


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
    return drain(iter_generate_all(
        backend, texts, target_lang, settings, max_batch_tokens=max_batch_tokens,
        max_batch_size=max_batch_size, max_hypotheses=max_hypotheses), on_batch)


def iter_generate_all(
    backend: Backend,
    texts: Sequence[str],
    target_lang: str | None,
    settings: GenerationSettings,
    *,
    max_batch_tokens: int,
    max_batch_size: int,
    max_hypotheses: int = DEFAULT_MAX_HYPOTHESES,
) -> Schedule:
    """generate_all as a generator: yields ``(sources, outputs)`` per finished batch and
    returns the ``Generated`` summary; closing it stops after the current batch."""
    return _schedule(
        texts,
        lambda unique: backend.count_tokens(unique, target_lang),
        lambda batch: backend.generate_batch(batch, target_lang, settings),
        max_batch_tokens, texts_per_call(max_batch_size, settings, 1, max_hypotheses),
        f"{describe(backend)} ({target_lang or 'en'})", settings.budget,
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
    one ``backend.generate_multi`` call for all languages, and outputs are ``{lang: text}`` per
    input. The call decodes ``len(target_langs)`` rows per sentence, so the hypothesis cap
    counts them."""
    return drain(iter_generate_all_multi(
        backend, texts, target_langs, settings, max_batch_tokens=max_batch_tokens,
        max_batch_size=max_batch_size, max_hypotheses=max_hypotheses), on_batch)


def iter_generate_all_multi(
    backend: Backend,
    texts: Sequence[str],
    target_langs: Sequence[str],
    settings: GenerationSettings,
    *,
    max_batch_tokens: int,
    max_batch_size: int,
    max_hypotheses: int = DEFAULT_MAX_HYPOTHESES,
) -> Schedule:
    """generate_all_multi as a generator (see iter_generate_all)."""
    multi = backend.generate_multi  # type: ignore[attr-defined]  # multi_target says it has it

    def call(batch: list[str]) -> list[dict[str, str]]:
        per_lang = multi(batch, target_langs, settings)
        return [{lang: per_lang[lang][i] for lang in target_langs} for i in range(len(batch))]

    return _schedule(
        texts,
        lambda unique: backend.count_tokens(unique, target_langs[0]),
        call, max_batch_tokens,
        texts_per_call(max_batch_size, settings, len(target_langs), max_hypotheses),
        f"{describe(backend)} ({'+'.join(target_langs)})", settings.budget,
    )


Schedule = Generator[tuple[list[str], list[Any]], None, Generated]


def drain(schedule: Schedule, on_batch: Callable[[list[str], list[Any]], None] | None) -> Generated:
    """Run a schedule to the end, handing each finished batch to ``on_batch``."""
    while True:
        try:
            sources, outputs = next(schedule)
        except StopIteration as done:
            result: Generated = done.value
            return result
        if on_batch is not None:
            on_batch(sources, outputs)


def _schedule(
    texts: Sequence[str],
    count: Callable[[list[str]], list[int]],
    call: Callable[[list[str]], list[Any]],
    max_batch_tokens: int,
    max_batch_size: int,
    what: str = "generation",
    budget: Callable[[int], int] | None = None,
) -> Schedule:
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

    def padded(batch: list[str]) -> int:
        return len(batch) * max(length_of[t] for t in batch)

    def probe(exc: Exception, size: int) -> None:
        """Stop the run unless a plain one-sentence batch still works."""
        stats.probes += 1
        try:
            call([CANARY])
        except OutOfMemory:
            return  # the device is full right now; that says nothing about the code path
        except Exception as again:
            raise GenerationError(
                f"{what}: generation fails on a plain one-sentence batch too, so this is not "
                f"about the input: {first_line(again)} (first seen on a batch of "
                f"{size}: {first_line(exc)})"
            ) from again

    # Each pending entry: (batch, whether its top-level batch was already probed).
    pending = [([unique[i] for i in b], False)
               for b in pack(lengths, max_batch_tokens, max_batch_size, budget)]
    fits: int | None = None  # padded tokens of the largest batch known to fit after an OOM
    while pending:
        batch, probed = pending.pop(0)
        if fits is not None and len(batch) > 1 and padded(batch) > fits:
            per = max(1, fits // max(length_of[t] for t in batch))
            pending[:0] = [(batch[i:i + per], probed) for i in range(0, len(batch), per)]
            continue
        try:
            outputs = call(batch)
        except OutOfMemory as exc:
            if len(batch) == 1:
                failures[batch[0]] = f"out of device memory even alone: {exc}"
                continue
            stats.oom_splits += 1
            fits = min(fits or padded(batch), padded(batch) // 2)
            half = len(batch) // 2
            pending[:0] = [(batch[:half], probed), (batch[half:], probed)]
            continue
        except Exception as exc:
            if is_systemic(exc):
                raise GenerationError(f"{what}: {first_line(exc)}") from exc
            if not probed or len(batch) == 1:
                probe(exc, len(batch))
                probed = True
            if len(batch) == 1:
                failures[batch[0]] = first_line(exc)
                continue
            stats.error_splits += 1
            half = len(batch) // 2
            pending[:0] = [(batch[:half], probed), (batch[half:], probed)]
            continue
        if len(outputs) != len(batch):
            raise GenerationError(
                f"{what}: {len(outputs)} outputs for a batch of {len(batch)} inputs (a bug)"
            )
        stats.batches += 1
        stats.source_tokens += sum(length_of[t] for t in batch)
        stats.padded_tokens += padded(batch)
        results.update(zip(batch, outputs, strict=True))
        yield batch, outputs
    stats.seconds = time.perf_counter() - start
    return Generated([results.get(t) for t in texts], failures, stats)
