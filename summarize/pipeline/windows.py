"""Articles on their way through a run: windows of the input, and their sentence segments
sized to fit every translator's window."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from summarize.backends.base import Backend
from summarize.config import ModelSpec
from summarize.records import Article, Part, Segment
from summarize.text.glossary import Glossary
from summarize.text.segment import split_long
from summarize.text.sentences import split_sentences

SPLIT_MARGIN = 0.9  # placeholders may make a masked sentence a little longer than its source

Sentence = tuple["Work", Part, int, str]  # (article, part, paragraph index, text)
Unit = Literal["sentence", "paragraph"]


@dataclass
class Work:
    """One article on its way through the pipeline."""

    article: Article
    input_sha: str
    segments: list[Segment] = field(default_factory=list)
    summary_en: str = ""
    summary_levels: int = 0  # generate() rounds the summary took (1: direct, more: map-reduce)
    failure: str | None = None


def article_sha(article: Article) -> str:
    blob = json.dumps([article.id, article.title, list(article.paragraphs), article.meta],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def windows(works: Iterable[Work], size: int) -> Iterator[list[Work]]:
    """The articles to work on in windows of ``size``; only one window is held at a time."""
    batch: list[Work] = []
    for work in works:
        batch.append(work)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def article_sentences(works: Sequence[Work], glossary: Glossary | None) -> list[Sentence]:
    out: list[Sentence] = []
    for w in works:
        out.extend((w, "title", 0, s) for s in split_sentences(w.article.title, glossary))
        for p_idx, paragraph in enumerate(w.article.paragraphs):
            out.extend((w, "body", p_idx, s) for s in split_sentences(paragraph, glossary))
    return out


def summary_sentences(works: Sequence[Work], glossary: Glossary | None) -> list[Sentence]:
    """The English summary's sentences, for articles still going."""
    return [(w, "summary", 0, s) for w in works if w.failure is None
            for s in split_sentences(w.summary_en, glossary)]


@dataclass(frozen=True)
class Limit:
    """What one segment may hold for one translator: ``window`` tokens of input as the backend
    counts them (a chat model's whole prompt), and ``output`` tokens of bare source, the most
    whose scaled new-token budget still fits under ``max_new_tokens``."""

    window: int
    output: int


def segment_limit(spec: ModelSpec, backend: Backend) -> Limit:
    """Longest segment the translator takes in whole and can translate within its new-token
    budget (a longer one could only be cut: it is split further)."""
    return Limit(spec.max_input_tokens or backend.max_input_tokens(),
                 spec.generation.max_source_tokens())


def window_load(limits: Sequence[tuple[Backend, str, Limit]]) -> Callable[[list[str]], list[int]]:
    """Per mille of the tightest limit each text takes; limits are (backend, language, limit)
    per translator."""
    def load(texts: list[str]) -> list[int]:
        worst = [0] * len(texts)
        for backend, lang, limit in limits:
            window = int(limit.window * SPLIT_MARGIN)
            counts = backend.count_tokens(texts, lang)
            worst = [max(w, -(-c * 1000 // window)) for w, c in zip(worst, counts, strict=True)]
            # The budget is scaled to the bare text for a chat model (not its prompt), to the
            # encoded source (the counts above) for a seq2seq model.
            bare = getattr(backend, "budget_tokens", None)
            if bare is not None:
                counts = list(bare(texts))
            output = limit.output  # the budget's rounding up to 16 is the margin here
            worst = [max(w, -(-c * 1000 // output)) for w, c in zip(worst, counts, strict=True)]
        return worst
    return load


class Segmenter:
    """Cuts articles, then their summaries, into segments that fit every translator; limits
    are (backend, language, Limit) per translator. ``unit``: a segment is a
    sentence, or a paragraph (as many whole sentences of it as fit, so a long paragraph
    becomes the fewest runs of consecutive sentences that fit)."""

    def __init__(self, limits: Sequence[tuple[Backend, str, Limit]], glossary: Glossary | None,
                 unit: Unit = "sentence"):
        self.load = window_load(limits)
        self.glossary = glossary
        self.unit = unit

    def articles(self, works: Sequence[Work]) -> None:
        self._add(article_sentences(works, self.glossary))

    def summaries(self, works: Sequence[Work]) -> None:
        self._add(summary_sentences(works, self.glossary))

    def _add(self, sentences: list[Sentence]) -> None:
        if self.unit == "paragraph":
            sentences = paragraph_runs(sentences, self.load)
        add_segments(sentences, self.load, self.glossary)


def paragraph_runs(sentences: list[Sentence], load: Callable[[list[str]], list[int]]
                   ) -> list[Sentence]:
    """Consecutive sentences of one paragraph joined while the run still fits (load <= 1000
    per mille of the tightest window); greedy from the start, which gives the fewest runs. A
    sentence that does not fit alone stays alone (add_segments splits it)."""
    out: list[Sentence] = []
    i = 0
    while i < len(sentences):
        w, part, para, text = sentences[i]
        j = i + 1
        while j < len(sentences) and sentences[j][:3] == (w, part, para):
            joined = f"{text} {sentences[j][3]}"
            if load([joined])[0] > 1000:
                break
            text, j = joined, j + 1
        out.append((w, part, para, text))
        i = j
    return out


def add_segments(sentences: list[Sentence], load: Callable[[list[str]], list[int]],
                 glossary: Glossary | None) -> None:
    """Append sentences to their articles as segments, splitting any that is too long."""
    loads = load([s[3] for s in sentences]) if sentences else []
    sent_idx: dict[tuple[str, Part, int], int] = {}
    for (w, part, para, sentence), cost in zip(sentences, loads, strict=True):
        pieces = [sentence] if cost <= 1000 else split_long(sentence, 1000, load, glossary)
        for piece in pieces:
            key = (w.article.id, part, para)
            idx = sent_idx.get(key, 0)
            sent_idx[key] = idx + 1
            w.segments.append(Segment(w.article.id, part, para, idx, piece))
