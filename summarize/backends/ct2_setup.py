"""CTranslate2 set-up shared by the seq2seq and chat backends: device and quantization
choice, the prepared (converted) model and its Translator/Generator arguments, device error
mapping, sampling seed and search options."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.backends import devices, threads
from summarize.backends.base import OutOfMemory
from summarize.backends.ct2_convert import SourceModel, cache_dir, ensure_converted, resolve_source
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ConfigError, ModelLoadError


def pick_device(device: str) -> tuple[str, int]:
    """CTranslate2's (device, index) for a config device string."""
    import ctranslate2

    if devices.parse_device(device)[0] == "mps":
        raise ConfigError(f"device {device}: ctranslate2 runs on cpu or cuda only")
    picked = devices.pick_device(device, ctranslate2.get_cuda_device_count())
    return picked.kind, picked.index


def pick_quantization(setting: str, device: str, dtype: str, bf16_native: bool = True) -> tuple[str, str]:
    """(quantization stored on disk, compute type) for a CT2Settings.quantization value.

    ``auto`` stores int8 weights; it computes in int8 (float32 activations) on CPU, and on
    CUDA in int8 with the
    activations ``dtype: auto`` means for every backend (devices.resolve_dtype): bfloat16
    where the card has it natively, float16 otherwise. One converted folder serves both.
    """
    if setting != "auto":
        # "int8" is CT2's alias for int8 weights with float32 activations; the full name is
        # what a loaded Translator reports, so a tokenizer-only view reports the same.
        return setting, "int8_float32" if setting == "int8" else setting
    if device == "cpu":
        return "int8", "int8_float32"
    activations = devices.resolve_dtype(dtype, "cuda", bf16_native)
    return "int8", "int8_float32" if activations == "float32" else f"int8_{activations}"


def _bf16_native(index: int) -> bool:
    """bf16 in hardware on the card, asked of torch where it is installed (it always is for the
    transformers backend; a CT2-only install gets float16, which every CUDA card runs)."""
    try:
        return devices.cuda_bf16_native(index)
    except Exception:  # no torch, or a torch without CUDA next to a CUDA ctranslate2
        return False



def import_ctranslate2() -> Any:
    try:
        import ctranslate2
    except ImportError:
        raise ModelLoadError(
            "backend ctranslate2 needs the ctranslate2 package: pip install 'summarize[ct2]'"
        ) from None
    return ctranslate2


@dataclass(frozen=True)
class Prepared:
    """A spec's model converted (once, cached) and where and how CTranslate2 runs it."""

    source: SourceModel
    model_dir: Path
    device: str  # cpu or cuda
    index: int
    quantization: str  # stored on disk
    compute_type: str

    @property
    def device_name(self) -> str:
        return self.device if self.device == "cpu" else f"cuda:{self.index}"

    def runtime(self, spec: ModelSpec) -> dict[str, Any]:
        """Keyword arguments of ctranslate2.Translator / Generator."""
        return {"device": self.device, "device_index": self.index,
                "compute_type": self.compute_type,
                "intra_threads": intra_threads(spec), "inter_threads": 1}


def intra_threads(spec: ModelSpec) -> int:
    """CPU threads of one Translator/Generator: ``ct2.intra_threads`` when set, else the
    process's count (``threads``, OMP_NUM_THREADS, or one per core; see backends/threads)."""
    return spec.ct2.intra_threads or threads.resolved()


def prepare(spec: ModelSpec, device: str, dtype: str, convert: bool = True) -> Prepared:
    """Pick device and quantization, resolve the source and convert it if not cached
    (``convert=False``, for a tokenizer-only view: only say where the conversion would be)."""
    ct2_device, index = pick_device(device)
    native = ct2_device == "cuda" and _bf16_native(index)
    quantization, compute_type = pick_quantization(spec.ct2.quantization, ct2_device, dtype, native)
    source = resolve_source(spec)
    if convert:
        model_dir, _ = ensure_converted(spec, source, quantization)
    else:
        model_dir = cache_dir(spec, source, quantization)
    return Prepared(source, model_dir, ct2_device, index, quantization, compute_type)


@contextlib.contextmanager
def call_errors(model: str, rows: int) -> Iterator[None]:
    """CTranslate2's device allocation failures become OutOfMemory (the scheduler halves)."""
    try:
        yield
    except RuntimeError as exc:
        if not devices.is_out_of_memory(exc):
            raise
        raise OutOfMemory(f"{model}: out of device memory on a batch of {rows} rows") from exc


def seed_sampling(settings: GenerationSettings) -> None:
    """Sampling restarts from the configured seed on every call, as on the HF backends."""
    if settings.do_sample:
        import ctranslate2

        ctranslate2.set_random_seed(settings.seed)


def search_options(settings: GenerationSettings) -> dict[str, Any]:
    """The beam, penalty and sampling options translate_batch and generate_batch share."""
    beam = settings.num_beams > 1
    return {
        "beam_size": settings.num_beams,
        "length_penalty": settings.length_penalty if beam else 1.0,
        "no_repeat_ngram_size": settings.no_repeat_ngram_size,
        "repetition_penalty": settings.repetition_penalty,
        "sampling_topk": (settings.top_k or 0) if settings.do_sample else 1,
        "sampling_topp": settings.top_p if settings.do_sample else 1.0,
        "sampling_temperature": settings.temperature if settings.do_sample else 1.0,
        "return_scores": False,
    }




def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*sacremoses")
            return AutoTokenizer.from_pretrained(str(path))
    except Exception as exc:  # any failure to read the files becomes one user-facing message
        raise ModelLoadError(f"cannot load the tokenizer in {path}: {exc}") from None
