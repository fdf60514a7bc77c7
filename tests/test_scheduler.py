from collections.abc import Sequence

import pytest

from summarize.backends.base import OutOfMemory
from summarize.backends.scheduler import CANARY, generate_all, generate_all_multi, pack
from summarize.config import GenerationSettings
from summarize.errors import GenerationError


class Recorder:
    """A fake backend: output is the upper-cased input; records every batch it sees."""

    multi_target = False

    def __init__(self, oom_above: int | None = None, poison: str | None = None,
                 broken: Exception | None = None):
        self.batches: list[list[str]] = []
        self.calls = 0
        self.oom_above = oom_above
        self.poison = poison
        self.broken = broken  # raised on every call: a systemic failure

    def count_tokens(self, texts: Sequence[str], target_lang=None) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def info(self):
        return {"model": "recorder", "device": "cpu"}

    def generate_batch(self, texts, target_lang, settings):
        self.calls += 1
        if self.broken is not None:
            raise self.broken
        if self.oom_above is not None and len(texts) > self.oom_above:
            raise OutOfMemory("CUDA out of memory")
        if self.poison is not None and self.poison in texts:
            raise ValueError("bad input")
        self.batches.append(list(texts))
        return [t.upper() for t in texts]


S = GenerationSettings()


def test_pack_respects_budget_and_sorts():
    lengths = [5, 50, 7, 48, 6, 49]
    batches = pack(lengths, max_batch_tokens=100, max_batch_size=8)
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 100
    assert sorted(i for b in batches for i in b) == list(range(6))
    # batches are consecutive runs of the length-sorted order, longest first
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths, reverse=True)
    assert batches[0] == [1, 5]


def test_pack_max_batch_size():
    batches = pack([3] * 10, max_batch_tokens=10_000, max_batch_size=4)
    assert [len(b) for b in batches] == [4, 4, 2]


def test_pack_single_item_over_budget_still_gets_a_batch():
    assert pack([500], max_batch_tokens=10, max_batch_size=4) == [[0]]


def test_generate_all_dedupes_and_keeps_order():
    be = Recorder()
    texts = ["a b", "c", "a b", "d e f", "c"]
    gen = generate_all(be, texts, "ko", S, max_batch_tokens=1000, max_batch_size=64)
    assert gen.outputs == ["A B", "C", "A B", "D E F", "C"]
    assert sum(len(b) for b in be.batches) == 3
    assert gen.stats.unique == 3 and gen.stats.inputs == 5


def test_on_batch_sees_every_result_once():
    be = Recorder()
    seen: list[tuple[str, str]] = []
    generate_all(be, [f"w{i}" for i in range(10)], None, S, max_batch_tokens=9, max_batch_size=64,
                 on_batch=lambda s, o: seen.extend(zip(s, o, strict=True)))
    assert sorted(seen) == sorted((f"w{i}", f"W{i}") for i in range(10))
    assert len(be.batches) > 1


def test_oom_halves_and_never_drops():
    be = Recorder(oom_above=2)
    texts = [f"t{i}" for i in range(8)]
    gen = generate_all(be, texts, None, S, max_batch_tokens=1000, max_batch_size=8)
    assert gen.outputs == [t.upper() for t in texts]
    assert all(len(b) <= 2 for b in be.batches)
    assert gen.stats.oom_splits == 2  # 8 -> 4 (OOM) -> 2 fits


def test_after_an_oom_later_batches_are_cut_to_the_size_that_fit():
    """Without the cut every later full batch would run out of memory again."""
    be = Recorder(oom_above=4)
    texts = [f"t{i}" for i in range(64)]
    gen = generate_all(be, texts, None, S, max_batch_tokens=1000, max_batch_size=8)
    assert gen.outputs == [t.upper() for t in texts]
    assert gen.stats.oom_splits == 1  # only the first batch hit the limit
    assert be.calls == gen.stats.batches + 1
    assert all(len(b) <= 4 for b in be.batches)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("CUDA error: device-side assert triggered"),
        RuntimeError("CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm`"),
        RuntimeError("Library libcublas.so.12 is not found or cannot be loaded"),
        ImportError("libcudnn.so.9: cannot open shared object file"),
    ],
)
def test_device_errors_stop_at_once(error):
    be = Recorder(broken=error)
    texts = [f"t{i}" for i in range(40)]
    with pytest.raises(GenerationError, match="recorder on cpu") as info:
        generate_all(be, texts, None, S, max_batch_tokens=1000, max_batch_size=8)
    assert str(error)[:20] in str(info.value)
    assert be.calls == 1


def test_an_error_on_every_input_is_systemic_not_bad_input():
    """The beam-search bug of the multilingual path raised IndexError on every batch; it must
    stop the run after the canary fails too, not bisect 40 inputs one by one."""
    be = Recorder(broken=IndexError("index 3 is out of bounds for dimension 0 with size 2"))
    texts = [f"t{i}" for i in range(40)]
    with pytest.raises(GenerationError, match=r"plain one-sentence batch too.*IndexError"):
        generate_all(be, texts, None, S, max_batch_tokens=1000, max_batch_size=8)
    assert be.calls == 2  # the batch, then the canary


def test_device_oom_reported_as_runtime_error_is_not_systemic():
    """cuBLAS allocation failures arrive as RuntimeError; the backend maps them to OutOfMemory,
    and the classifier never calls them systemic."""
    from summarize.backends.devices import is_out_of_memory, is_systemic

    exc = RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")
    assert is_out_of_memory(exc) and not is_systemic(exc)
    assert not is_systemic(ValueError("input longer than 512 tokens"))


def test_failing_input_is_isolated():
    be = Recorder(poison="bad")
    gen = generate_all(be, ["x", "bad", "y", "z"], None, S, max_batch_tokens=1000, max_batch_size=8)
    assert gen.outputs == ["X", None, "Y", "Z"]
    assert "bad input" in gen.failures["bad"]
    assert gen.stats.probes == 2  # once for the batch, once for the isolated input
    assert [CANARY] in be.batches


class MultiRecorder(Recorder):
    multi_target = True

    def generate_multi(self, texts, langs, settings):
        self.calls += 1
        self.batches.append(list(texts))
        return {lang: [f"{lang}:{t}" for t in texts] for lang in langs}


@pytest.mark.parametrize(("beams", "expected"), [(1, 32), (4, 8)])
def test_multi_caps_rows_of_all_languages(beams, expected):
    """generate_multi decodes one row per sentence and language: the cap counts them all."""
    be = MultiRecorder()
    texts = [f"s{i}" for i in range(100)]
    gen = generate_all_multi(be, texts, ["ko", "zh-Hans"], GenerationSettings(num_beams=beams),
                             max_batch_tokens=10**6, max_batch_size=64, max_hypotheses=64)
    assert max(len(b) for b in be.batches) == expected
    assert be.calls == gen.stats.batches
    assert gen.outputs[3] == {"ko": "ko:s3", "zh-Hans": "zh-Hans:s3"}


@pytest.mark.parametrize("n", [0, 1])
def test_small_inputs(n):
    gen = generate_all(Recorder(), ["only"] * n, None, S, max_batch_tokens=10, max_batch_size=1)
    assert gen.outputs == ["ONLY"] * n


@pytest.mark.parametrize(("beams", "expected"), [(1, 64), (2, 64), (4, 32), (8, 16), (16, 8)])
def test_beam_search_caps_sentences_per_batch(beams, expected):
    be = Recorder()
    texts = [f"s{i}" for i in range(200)]
    generate_all(be, texts, None, GenerationSettings(num_beams=beams), max_batch_tokens=10**6,
                 max_batch_size=64, max_hypotheses=128)
    assert max(len(b) for b in be.batches) == expected
