"""The runner's seams on their own: the engine, the cached generation, map-reduce planning,
assembly."""


import pytest

from summarize.backends.scheduler import BatchStats
from summarize.config import BatchSettings, GenerationSettings, ModelSpec
from summarize.engines.local import BatchResult, LocalEngine
from summarize.errors import GenerationError
from summarize.pipeline.assemble import Summary, Translated, assemble, key_of
from summarize.pipeline.generation import CachedGeneration, generate_cached
from summarize.pipeline.summaries import first_level, fold_level, partial_settings, plan_level
from summarize.records import Article, Segment
from summarize.runs.memory import Memory
from summarize.text.qa import QAFlag
from tests.fakes import FakeBackend

BATCHING = BatchSettings(max_batch_tokens=4096, max_batch_size=8, max_hypotheses=128)


def cached_run(memory: Memory, backend: FakeBackend, texts: list[str], use_cache: bool = True):
    cache = CachedGeneration(memory, "translate", "model-fp", "settings-fp", use_cache)
    advanced: list[int] = []
    outcome = generate_cached(cache, LocalEngine(), backend, texts, ["ko"], GenerationSettings(), BATCHING,
                              advanced.append)
    return outcome, sum(advanced)


def test_cached_hits_are_not_regenerated_and_results_are_stored_once():
    memory = Memory(None)
    backend = FakeBackend(ModelSpec(model="fake/multi"))
    first, progressed = cached_run(memory, backend, ["One cat.", "Two dogs.", "One cat."])
    assert first.segments_computed == 2 and first.segments_reused == 0 and progressed == 2
    assert memory.count() == 2
    calls = list(backend.calls)
    second, progressed = cached_run(memory, backend, ["Two dogs.", "Three birds."])
    assert backend.calls[len(calls):] == [("ko", ["Three birds."])]  # the hit went nowhere near the model
    assert second.segments_reused == 1 and second.segments_computed == 1 and progressed == 2
    assert second.reused == {"ko": {"Two dogs."}}
    assert second.outputs["ko"][0] == first.outputs["ko"][1]
    assert memory.count() == 3
    assert set(second.stats) == {"translate:ko"} and second.stats["translate:ko"].inputs == 1


def test_cache_off_generates_everything_but_still_stores():
    memory = Memory(None)
    backend = FakeBackend(ModelSpec(model="fake/multi"))
    cached_run(memory, backend, ["One cat."])
    outcome, _ = cached_run(memory, backend, ["One cat."], use_cache=False)
    assert outcome.segments_computed == 1 and outcome.reused == {"ko": set()}
    assert memory.count() == 1


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def test_a_level_plans_one_final_job_when_it_fits_and_chunks_when_not():
    pending = first_level({"short": ("One two three.",),
                           "long": ("A b c d. E f g h.", "I j k l. M n o p.")})
    assert pending == {"short": ["One two three."], "long": ["A b c d. E f g h. I j k l. M n o p."]}
    level = plan_level(pending, 9, words)
    assert level.finals == {"short"}
    assert level.jobs == [("short", "One two three."),
                          ("long", "A b c d. E f g h."), ("long", "I j k l. M n o p.")]
    assert level.final_texts == ["One two three."]
    assert level.partial_texts == ["A b c d. E f g h.", "I j k l. M n o p."]
    assert plan_level({"x": ["a b c"]}, 3, words).finals == {"x"}  # exactly the window fits


def test_folding_makes_summaries_next_texts_and_failures():
    level = plan_level({"a": ["One two."], "b": ["C d e f. G h i j."], "c": ["K l m n. O p q r."]},
                       5, words)
    assert level.finals == {"a"}
    partial = {"C d e f.": "Cd.", "G h i j.": "Gh.", "K l m n.": None, "O p q r.": "Op."}
    folded = fold_level(level, {"One two.": " Summary. "}, partial, {"K l m n.": "boom"})
    assert folded.summaries == {"a": "Summary."}
    assert folded.pending == {"b": ["Cd.", "Gh."]}  # c failed, so it goes no further
    assert folded.failures == {"c": "summary failed: boom"}


def test_chunk_summaries_get_at_most_a_third_of_the_window():
    settings = GenerationSettings(max_new_tokens=142, min_new_tokens=56)
    capped = partial_settings(settings, 120)
    assert (capped.max_new_tokens, capped.min_new_tokens) == (40, 20)
    assert partial_settings(settings, 1024) is settings


def test_assembly_puts_segments_back_per_language_exactly():
    article = Article("a1", "Big news", ("One. Two.", "Three."), {"tag": "x"}, "a1.md")
    segs = [Segment("a1", "title", 0, 0, "Big news"), Segment("a1", "body", 0, 0, "One."),
            Segment("a1", "body", 0, 1, "Two."), Segment("a1", "body", 1, 0, "Three."),
            Segment("a1", "summary", 0, 0, "One.")]
    flag = QAFlag("number_mismatch", "1 != 2")
    ko = {key_of(s): Translated(f"k{i}", "model") for i, s in enumerate(segs)}
    ko[key_of(segs[2])] = Translated("k2", "memory", [flag])
    zh = {key_of(s): Translated(f"句{i}。", "human") for i, s in enumerate(segs)}
    doc, failure = assemble(article, segs, Summary("One.", 1), {"ko": ko, "zh-Hans": zh},
                            ["ko", "zh-Hans"], "sha", "cfg")
    assert failure is None
    assert doc == {
        "id": "a1",
        "source": {"lang": "en", "title": "Big news", "body": "One. Two.\n\nThree.",
                   "file": "a1.md", "meta": {"tag": "x"}},
        "summary": {"en": "One.", "ko": "k4", "zh-Hans": "句4。"},
        "translations": {"ko": {"title": "k0", "body": "k1 k2\n\nk3"},
                         "zh-Hans": {"title": "句0。", "body": "句1。句2。\n\n句3。"}},
        "segments": [
            {"part": p, "para": a, "sent": b, "en": en, "ko": f"k{i}", "zh-Hans": f"句{i}。",
             "origin": {"ko": "memory" if i == 2 else "model", "zh-Hans": "human"}}
            for i, (p, a, b, en) in enumerate([("title", 0, 0, "Big news"), ("body", 0, 0, "One."),
                                               ("body", 0, 1, "Two."), ("body", 1, 0, "Three."),
                                               ("summary", 0, 0, "One.")])],
        "qa": [{"segment": "body/p0s1", "language": "ko", "check": "number_mismatch",
                "detail": "1 != 2"}],
        "input_sha256": "sha",
        "config_hash": "cfg",
        "output_identity": "",
        "summary_levels": 1,
    }
    assert list(doc) == ["id", "source", "summary", "translations", "segments", "qa",
                         "input_sha256", "config_hash", "output_identity", "summary_levels"]


def test_assembly_reports_failed_segments_and_flags_an_empty_summary():
    article = Article("a2", "T", ("P.",))
    segs = [Segment("a2", "title", 0, 0, "T"), Segment("a2", "body", 0, 0, "P.")]
    ko = {key_of(segs[0]): Translated("t", "model"),
          key_of(segs[1]): Translated(None, "model", error="out of memory")}
    doc, failure = assemble(article, segs, Summary("", 2), {"ko": ko}, ["ko"], "sha", "cfg")
    assert failure == "translation failed: ko body/p0s0: out of memory"
    assert doc["qa"] == [{"segment": "summary", "language": "en", "check": "empty",
                          "detail": "the summariser returned no text"}]
    blank = {key_of(segs[0]): Translated("t", "model"), key_of(segs[1]): Translated(" ", "model")}
    _, failure = assemble(article, segs, Summary("S.", 1), {"ko": blank}, ["ko"], "sha", "cfg")
    assert failure == "translation failed: ko body paragraph 0: the translation is empty"


SMALL_BATCHES = BatchSettings(max_batch_tokens=4096, max_batch_size=1, max_hypotheses=128)


def test_local_engine_yields_each_batch_then_the_pass_stats():
    backend = FakeBackend(ModelSpec(model="fake/multi"))
    results = list(LocalEngine().generate(backend, {"ko": ["One cat.", "Two dogs."]},
                                          GenerationSettings(), SMALL_BATCHES))
    assert [r.sources for r in results] == [["One cat."], ["Two dogs."], []]
    assert [list(r.outputs) for r in results[:2]] == [["ko"], ["ko"]]
    assert results[0].outputs["ko"] == backend.generate_batch(["One cat."], "ko",
                                                              GenerationSettings())
    assert results[-1].stats is not None and results[-1].stats.batches == 2


def test_a_consumer_that_stops_stops_the_pass_after_its_batch():
    backend = FakeBackend(ModelSpec(model="fake/multi"))
    batches = LocalEngine().generate(backend, {"ko": ["One cat.", "Two dogs.", "Three birds."]},
                                     GenerationSettings(), SMALL_BATCHES)
    assert next(batches).sources == ["One cat."]
    batches.close()
    # The engine generates on the consumer's thread, batch by batch: nothing ran ahead of the
    # consumer, and nothing runs after it stopped.
    assert len(backend.calls) == 1
    with pytest.raises(StopIteration):
        next(batches)
    assert len(backend.calls) == 1


def test_a_systemic_failure_reaches_the_consumer():
    backend = FakeBackend(ModelSpec(model="fake/multi"), poison="e")  # the canary fails too
    with pytest.raises(GenerationError, match="plain one-sentence batch"):
        list(LocalEngine().generate(backend, {"ko": ["One cat."]}, GenerationSettings(), BATCHING))


def test_any_engine_that_yields_values_drives_the_cached_generation():
    class Scripted:
        def generate(self, backend, todo, settings, batching):
            assert todo == {"ko": ["a", "b"], "zh-Hans": ["a", "b"]}
            yield BatchResult(("ko", "zh-Hans"), ["a"], {"ko": ["A-ko"], "zh-Hans": ["A-zh"]})
            yield BatchResult(("ko", "zh-Hans"), failures={"b": "bad input"},
                              stats=BatchStats(inputs=2, batches=1))

    memory = Memory(None)
    cache = CachedGeneration(memory, "translate", "m", "s")
    outcome = generate_cached(cache, Scripted(), None, ["a", "b"], ["ko", "zh-Hans"],
                              GenerationSettings(), BATCHING, lambda n: None)
    assert outcome.outputs == {"ko": ["A-ko", None], "zh-Hans": ["A-zh", None]}
    assert outcome.failures == {"b": "bad input"} and outcome.segments_computed == 2
    assert set(outcome.stats) == {"translate:ko+zh-Hans"} and memory.count() == 2


def test_an_error_while_storing_stops_the_engine_at_once():
    class FullDisk(Memory):
        def put_many(self, rows, run=None):
            raise OSError("disk full")

    backend = FakeBackend(ModelSpec(model="fake/multi"))
    cache = CachedGeneration(FullDisk(None), "translate", "m", "s")
    with pytest.raises(OSError, match="disk full"):
        generate_cached(cache, LocalEngine(), backend, ["One cat.", "Two dogs.", "Three birds."],
                        ["ko"], GenerationSettings(), SMALL_BATCHES, lambda n: None)
    assert len(backend.calls) == 1  # nothing generated after the failed store
