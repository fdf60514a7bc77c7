"""The generating stages, written once for `summarize run` and `summarize eval`: segmenting to
fit every translator, the English summary (map-reduce when an article is too long), and the
translations, each generation going through the translation memory with the run's keys (the
model's and the settings' fingerprints), the configured engine and the config's batch settings.

A run and an eval of the same profile therefore cut the same segments, ask the memory for the
same keys and generate in the same batches; what differs is said by the caller: a run uses the
reviewed (human) translations in the memory, an eval scores the model and does not."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from summarize.backends.base import Backend
from summarize.backends.scheduler import BatchStats
from summarize.config import Config, GenerationSettings, ModelSpec
from summarize.engines.local import Engine
from summarize.models.check import translator_groups
from summarize.models.load import Models
from summarize.pipeline.assemble import SegmentKey, Translated, finish_translations, to_translate
from summarize.pipeline.generation import CachedGeneration, Outcome, generate_cached
from summarize.pipeline.summaries import Summarized, summarize_articles
from summarize.pipeline.windows import Segmenter, segment_limit
from summarize.records import Segment
from summarize.runs.memory import Memory, fingerprint
from summarize.text.glossary import Glossary


class Stages:
    """One profile's models, memory and engine, driven stage by stage. ``advance(phase, n)``
    reports progress ("summaries", "segments"); ``run`` is the run id stored with new memory
    rows (None: rows of no run, as eval writes them). ``counts`` (segments_computed,
    segments_reused, segments_human) and ``stats`` (batch statistics per model and language
    group) are added to as the stages go: a run passes its manifest's counters and its own
    statistics."""

    def __init__(self, config: Config, models: Models, memory: Memory, engine: Engine,
                 glossary: Glossary | None, advance: Callable[[str, int], None], *,
                 use_cache: bool = True, run: str | None = None,
                 counts: dict[str, int] | None = None,
                 stats: dict[str, BatchStats] | None = None) -> None:
        self.cfg = config
        self.models = models
        self.memory = memory
        self.engine = engine
        self.glossary = glossary
        self.advance = advance
        self.use_cache = use_cache
        self.run = run
        self.counts = counts if counts is not None else {}
        for key in ("segments_computed", "segments_reused", "segments_human"):
            self.counts.setdefault(key, 0)
        self.stats = stats if stats is not None else {}

    def segmenter(self, backend_of: Callable[[ModelSpec], Backend] | None = None) -> Segmenter:
        """Cuts text to fit every translator of the config (window and output budget), with
        ``backend_of``'s tokenizers (default: the loaded models')."""
        get = backend_of or self.models.get
        specs = [self.cfg.translators[lang] for lang in self.cfg.languages]
        return Segmenter([(get(spec), lang, segment_limit(spec, get(spec)))
                          for lang, spec in zip(self.cfg.languages, specs, strict=True)],
                         self.glossary, self.cfg.unit)

    def generate(self, task: str, spec: ModelSpec, texts: list[str], langs: list[str | None],
                 settings: GenerationSettings) -> Outcome:
        """Outputs per language for ``texts``, through the memory (see generate_cached)."""
        cache = CachedGeneration(self.memory, task, self.models.fingerprint(spec),
                                 fingerprint(settings.model_dump(mode="json")), self.use_cache,
                                 run=self.run)
        phase = "segments" if task == "translate" else "summaries"
        outcome = generate_cached(cache, self.engine, self.models.get(spec), texts, langs,
                                  settings, self.cfg.batch, lambda n: self.advance(phase, n))
        self.counts["segments_reused"] += outcome.segments_reused
        self.counts["segments_computed"] += outcome.segments_computed
        for name, stats in outcome.stats.items():
            self.stats.setdefault(name, BatchStats()).add(stats)
        return outcome

    def summaries(self, articles: Mapping[str, Sequence[str]]) -> Summarized:
        """An English summary per article id (its paragraphs); map-reduce over whole-sentence
        chunks when an article is longer than the summariser's window."""
        spec = self.cfg.summarizer
        backend = self.models.get(spec)

        def generate(texts: list[str], settings: GenerationSettings
                     ) -> tuple[dict[str, str | None], dict[str, str]]:
            got = self.generate("summarize", spec, texts, [None], settings)
            return dict(zip(texts, got.outputs[None], strict=True)), got.failures

        return summarize_articles(dict(articles), spec.generation,
                                  spec.max_input_tokens or backend.max_input_tokens(),
                                  lambda xs: backend.count_tokens(xs, None), generate)

    def translations(self, segments: Sequence[Segment], langs: Sequence[str] | None = None, *,
                     human: bool = True) -> dict[str, dict[SegmentKey, Translated]]:
        """Per language (the config's, or those of ``langs``), per segment: final text, origin
        and QA flags. Languages one model serves with the same settings are generated
        together. ``human``: reviewed translations in the memory win over the model's."""
        wanted = set(langs) if langs is not None else set(self.cfg.languages)
        segments = list(segments)
        sources = list({s.text for s in segments})
        results: dict[str, dict[SegmentKey, Translated]] = {}
        for spec, group in translator_groups(self.cfg):
            group = [lang for lang in group if lang in wanted]
            if not group:
                continue
            reviewed = {lang: self.memory.human_many(sources, lang) if human else {}
                        for lang in group}
            masked, todo = to_translate(segments, group, reviewed, self.glossary)
            got = self.generate("translate", spec, todo, list(group), spec.generation)
            for lang in group:
                out_of = dict(zip(todo, got.outputs[lang], strict=True))
                results[lang] = finish_translations(segments, lang, reviewed[lang],
                                                    masked[lang], out_of, got.failures,
                                                    got.reused[lang], self.glossary)
                self.counts["segments_human"] += sum(1 for r in results[lang].values()
                                                     if r.origin == "human")
        return results
