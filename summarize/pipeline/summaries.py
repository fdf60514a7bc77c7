"""Map-reduce summaries as plain functions: plan a level (which texts go to the model for each
article, and which of those are final), then fold the outputs into the next level."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from summarize.backends.base import flag_of, with_flag
from summarize.config import GenerationSettings
from summarize.text.segment import pack_chunks, split_long
from summarize.text.sentences import split_sentences

MAX_REDUCE_LEVELS = 8
Counter = Callable[[list[str]], list[int]]  # token counts, one per text


def partial_settings(settings: GenerationSettings, window: int) -> GenerationSettings:
    """Settings for the summaries of a long article's chunks: at most a third of the window
    each, so three or more fit in the next level's window and every level shrinks the text.
    (With the final summary's own budget, e.g. 56-142 tokens, a small-window model never
    converges: two chunk summaries refill a window.)"""
    cap = max(1, window // 3)
    if settings.max_new_tokens <= cap:
        return settings
    return settings.model_copy(update={"max_new_tokens": cap,
                                       "min_new_tokens": min(settings.min_new_tokens, cap // 2)})


@dataclass
class Level:
    """One round of generate() calls: (article id, text) jobs in order; an article whose text
    fits the window has one job, and it is final."""

    jobs: list[tuple[str, str]] = field(default_factory=list)
    finals: set[str] = field(default_factory=set)

    @property
    def final_texts(self) -> list[str]:
        return [t for aid, t in self.jobs if aid in self.finals]

    @property
    def partial_texts(self) -> list[str]:
        return [t for aid, t in self.jobs if aid not in self.finals]


@dataclass
class Folded:
    """A level's outputs put away: finished summaries, texts for the next level, failures."""

    summaries: dict[str, str] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def first_level(articles: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each article's paragraphs as one text to summarise."""
    return {aid: [" ".join(paragraphs)] for aid, paragraphs in articles.items()}


def plan_level(pending: dict[str, list[str]], window: int, count: Counter) -> Level:
    """The jobs for one level: an article's texts joined when they fit the window, otherwise
    its sentences (long ones split) packed into chunks that fit."""
    level = Level()
    texts_all = [t for ts in pending.values() for t in ts]
    counts = dict(zip(texts_all, count(texts_all), strict=True)) if texts_all else {}
    for aid, texts in pending.items():
        joined = " ".join(texts)
        n = counts.get(joined) if len(texts) == 1 else count([joined])[0]
        if n is not None and n <= window:
            level.jobs.append((aid, joined))
            level.finals.add(aid)
            continue
        sentences = [s for t in texts for s in split_sentences(t)]
        pieces: list[str] = []
        for s, c in zip(sentences, count(sentences), strict=True):
            pieces.extend([s] if c <= window else split_long(s, window, count))
        for chunk in pack_chunks(pieces, count(pieces), window):
            level.jobs.append((aid, " ".join(pieces[i] for i in chunk)))
    return level


def fold_level(level: Level, final_out: dict[str, str | None], partial_out: dict[str, str | None],
               failures: dict[str, str]) -> Folded:
    """Final outputs become summaries, partial ones the next level's texts; an article with any
    failed job fails (the first reason) and goes no further."""
    folded = Folded()
    for aid, text in level.jobs:
        out = final_out[text] if aid in level.finals else partial_out[text]
        if out is None:
            folded.failures.setdefault(
                aid, f"summary failed: {failures.get(text, 'unknown error')}")
            continue
        if aid in level.finals:
            folded.summaries[aid] = with_flag(out.strip(), flag_of(out))  # keep the verdict
        else:
            folded.pending.setdefault(aid, []).append(out.strip())
    folded.pending = {aid: ts for aid, ts in folded.pending.items() if aid not in folded.failures}
    return folded


Generate = Callable[[list[str], GenerationSettings], tuple[dict[str, str | None], dict[str, str]]]


@dataclass
class Summarized:
    """English summary per article id, the generate() rounds each took, why any has none."""

    summaries: dict[str, str] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def summarize_articles(articles: dict[str, Sequence[str]], settings: GenerationSettings,
                       window: int, count: Counter, generate: Generate) -> Summarized:
    """Each article's summary (its paragraphs), map-reduce over whole-sentence chunks when it
    is longer than the window. ``generate(texts, settings)`` gives (output by text, None where
    it failed; failure reasons by text), e.g. through the translation memory."""
    done = Summarized()
    pending = first_level(articles)
    for level in range(MAX_REDUCE_LEVELS):
        plan = plan_level(pending, window, count)
        outputs: list[dict[str, str | None]] = []
        failures: dict[str, str] = {}
        for texts, step in ((plan.final_texts, settings),
                            (plan.partial_texts, partial_settings(settings, window))):
            got, failed = generate(texts, step) if texts else ({}, {})
            outputs.append(got)
            failures.update(failed)
        folded = fold_level(plan, outputs[0], outputs[1], failures)
        done.levels.update((aid, level + 1) for aid, _ in plan.jobs)
        done.summaries.update(folded.summaries)
        done.failures.update(folded.failures)
        pending = folded.pending
        if not pending:
            return done
    done.failures.update({aid: f"summary did not converge in {MAX_REDUCE_LEVELS} map-reduce "
                               f"levels" for aid in pending})
    return done
