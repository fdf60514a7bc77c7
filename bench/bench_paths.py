"""The measured generation paths. Each runs in its own process (see bench.py --child).

Every path turns the same source sentences into output strings with the output length forced to
exactly ``new_tokens`` tokens; the clock covers tokenising, generating and decoding, after the
model is loaded and one warm-up batch has run.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USER_BATCH = 32  # what the hand-written loops use


@dataclass(frozen=True)
class Job:
    """What one child process measures."""

    path: str
    model_dir: str
    family: str
    target_lang: str | None
    sentences: list[str]
    warmup: list[str]
    new_tokens: int
    beams: int
    device: str  # cpu | cuda
    dtype: str  # HF: float32 | bfloat16 | float16; CT2: a compute type (int8, int8_float16, ...)
    repeats: int = 1  # timed passes; the fastest counts (other processes share the CPU)
    batch: dict[str, int] | None = None  # BatchSettings overrides for the tool's paths


def peak_rss_mb() -> float:
    """This process's peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


def run(job: Job) -> dict[str, Any]:
    """Load, warm up, then time the path on all sentences; returns the child's figures."""
    t0 = time.perf_counter()
    generate, check = PATHS[job.path](job)
    load_s = time.perf_counter() - t0
    generate(job.warmup)
    times = []
    for _ in range(max(1, job.repeats)):
        t1 = time.perf_counter()
        outputs = generate(job.sentences)
        times.append(time.perf_counter() - t1)
        assert len(outputs) == len(job.sentences)
    seconds = min(times)
    tokens = len(job.sentences) * job.new_tokens
    result: dict[str, Any] = {
        "tokens_per_s": round(tokens / seconds, 1),
        "sentences_per_s": round(len(job.sentences) / seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
        "seconds": round(seconds, 2),
        "all_seconds": [round(t, 2) for t in times],
        "load_average": round(os.getloadavg()[0], 2),
        "load_seconds": round(load_s, 2),
        "sentences": len(job.sentences),
        "dtype": job.dtype,
        "tokens_checked": check(),
    }
    gpu = _peak_gpu_mb(job)
    if gpu is not None:
        result["peak_gpu_mb"] = gpu
    return result


def _peak_gpu_mb(job: Job) -> float | None:
    if job.device != "cuda" or "ct2" in job.path:
        return None
    import torch

    return round(torch.cuda.max_memory_allocated() / (1 << 20), 1)


# ---------------------------------------------------------------- transformers, as a user writes it


def _hf_load(job: Job) -> tuple[Any, Any, dict[str, Any]]:
    """Tokenizer, model and the per-family generate() arguments a user would pass."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(job.model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(job.model_dir, dtype=getattr(torch, job.dtype))
    model.to(job.device).eval()
    extra: dict[str, Any] = {}
    if job.family == "nllb":
        tokenizer.src_lang = "eng_Latn"
        extra["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids("kor_Hang")
    return tokenizer, model, extra


def _prefix(job: Job) -> str:
    return ">>cmn_Hans<< " if job.family == "marian" else ""


def _generate_kwargs(job: Job) -> dict[str, Any]:
    return {"num_beams": job.beams, "do_sample": False, "max_new_tokens": job.new_tokens,
            "min_new_tokens": job.new_tokens}


class _Lengths:
    """Records how many tokens the raw paths really generated, to check the forced length."""

    def __init__(self, expected: int):
        self.expected = expected
        self.seen: set[int] = set()

    def __call__(self) -> bool:
        return self.seen == {self.expected}


def naive_hf(job: Job) -> tuple[Callable[[list[str]], list[str]], Callable[[], bool]]:
    """One generate() call per sentence."""
    tokenizer, model, extra = _hf_load(job)
    lengths = _Lengths(job.new_tokens)
    kwargs = {**_generate_kwargs(job), **extra}

    def generate(texts: list[str]) -> list[str]:
        outputs = []
        for text in texts:
            inputs = tokenizer(_prefix(job) + text, return_tensors="pt").to(job.device)
            out = model.generate(**inputs, **kwargs)
            lengths.seen.add(out.shape[1] - 1)
            outputs.append(tokenizer.decode(out[0], skip_special_tokens=True))
        return outputs

    return generate, lengths


def batched_hf(job: Job) -> tuple[Callable[[list[str]], list[str]], Callable[[], bool]]:
    """Sorted by length, batches of 32, under torch.inference_mode()."""
    import torch

    tokenizer, model, extra = _hf_load(job)
    lengths = _Lengths(job.new_tokens)
    kwargs = {**_generate_kwargs(job), **extra}

    def generate(texts: list[str]) -> list[str]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        outputs: dict[int, str] = {}
        with torch.inference_mode():
            for start in range(0, len(order), USER_BATCH):
                idx = order[start:start + USER_BATCH]
                batch = [_prefix(job) + texts[i] for i in idx]
                inputs = tokenizer(batch, return_tensors="pt", padding=True).to(job.device)
                out = model.generate(**inputs, **kwargs)
                lengths.seen.add(out.shape[1] - 1)
                outputs.update(zip(idx, tokenizer.batch_decode(out, skip_special_tokens=True), strict=True))
        return [outputs[i] for i in range(len(texts))]

    return generate, lengths


# ---------------------------------------------------------------- the tool's paths


def _settings(job: Job) -> Any:
    from summarize.config import GenerationSettings

    return GenerationSettings(num_beams=job.beams, max_new_tokens=job.new_tokens,
                              min_new_tokens=job.new_tokens, max_new_tokens_ratio=None)


def _tool_generate(job: Job, backend: Any) -> Callable[[list[str]], list[str]]:
    from summarize.backends.scheduler import generate_all
    from summarize.config import BatchSettings

    batch = BatchSettings.model_validate(job.batch or {})
    settings = _settings(job)

    def generate(texts: list[str]) -> list[str]:
        result = generate_all(backend, texts, job.target_lang, settings,
                              max_batch_tokens=batch.max_batch_tokens, max_batch_size=batch.max_batch_size,
                              max_hypotheses=batch.max_hypotheses)
        outputs = getattr(result, "outputs", None)
        if outputs is None:  # older scheduler: (outputs, stats)
            outputs = result[0]
        if any(o is None for o in outputs):
            raise RuntimeError(f"generation failed: {getattr(result, 'failures', {})}")
        return list(outputs)

    return generate


def _spec(job: Job, backend: str, quantization: str = "auto") -> Any:
    from summarize.config import ModelSpec

    return ModelSpec(model=job.model_dir, backend=backend, family=job.family,  # type: ignore[arg-type]
                     generation=_settings(job), ct2={"quantization": quantization})


def summarize_hf(job: Job) -> tuple[Callable[[list[str]], list[str]], Callable[[], bool]]:
    """HFBackend + scheduler.generate_all with the default BatchSettings."""
    from summarize.backends.hf import HFBackend

    backend = HFBackend.load(_spec(job, "transformers"), device=job.device, dtype=job.dtype)
    return _tool_generate(job, backend), lambda: False


def _ct2_quantization(job: Job) -> str:
    """The stored quantization that serves a compute type (int8 weights serve int8_*)."""
    return "int8" if job.dtype.startswith("int8") else job.dtype


def raw_ct2(job: Job) -> tuple[Callable[[list[str]], list[str]], Callable[[], bool]]:
    """translate_batch on the tool's converted model, batches of 32 examples."""
    import ctranslate2
    from transformers import AutoTokenizer

    from summarize.backends.ct2_convert import ensure_converted, resolve_source

    spec = _spec(job, "ctranslate2")
    model_dir, _ = ensure_converted(spec, resolve_source(spec), _ct2_quantization(job))
    tokenizer = AutoTokenizer.from_pretrained(job.model_dir)
    translator = ctranslate2.Translator(str(model_dir), device=job.device, compute_type=job.dtype,
                                        intra_threads=_cores(), inter_threads=1)
    prefix = None
    if job.family == "nllb":
        tokenizer.src_lang = "eng_Latn"
        prefix = ["kor_Hang"]
    lengths = _Lengths(job.new_tokens)

    def generate(texts: list[str]) -> list[str]:
        sources = [tokenizer.convert_ids_to_tokens(tokenizer(_prefix(job) + t).input_ids) for t in texts]
        results = translator.translate_batch(
            sources, target_prefix=[prefix] * len(sources) if prefix else None,
            max_batch_size=USER_BATCH, batch_type="examples", beam_size=job.beams,
            max_decoding_length=job.new_tokens, min_decoding_length=job.new_tokens,
            max_input_length=0,
        )
        outputs = []
        for r in results:
            tokens = r.hypotheses[0]
            lengths.seen.add(len(tokens))
            tokens = tokens[1:] if prefix else tokens
            outputs.append(tokenizer.decode(tokenizer.convert_tokens_to_ids(tokens), skip_special_tokens=True))
        return outputs

    return generate, lengths


def summarize_ct2(job: Job) -> tuple[Callable[[list[str]], list[str]], Callable[[], bool]]:
    """CT2Backend + scheduler.generate_all with the default BatchSettings."""
    from summarize.backends.ct2 import CT2Backend

    # "auto" is what the tool's config uses: int8 weights, int8 (CPU) / int8_float16 (CUDA) compute.
    quantization = "auto" if job.dtype in ("int8", "int8_float16") else job.dtype
    backend = CT2Backend.load(_spec(job, "ctranslate2", quantization), device=job.device, dtype="auto")
    return _tool_generate(job, backend), lambda: False


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


PATHS: dict[str, Callable[[Job], tuple[Callable[[list[str]], list[str]], Callable[[], bool]]]] = {
    "naive_hf": naive_hf,
    "batched_hf": batched_hf,
    "summarize_hf": summarize_hf,
    "raw_ct2": raw_ct2,
    "summarize_ct2": summarize_ct2,
}


def prepare(model_dirs: dict[str, str], quantizations: list[str]) -> None:
    """Convert each model once for CT2 (outside the measured children)."""
    from summarize.backends.ct2_convert import ensure_converted, resolve_source
    from summarize.config import ModelSpec

    for model_dir in model_dirs.values():
        spec = ModelSpec(model=model_dir, backend="ctranslate2")
        source = resolve_source(spec)
        for quantization in quantizations:
            ensure_converted(spec, source, quantization)


def model_path(root: Path, name: str) -> str:
    return str((root / name).resolve())
