"""Loading with transformers, shared by the seq2seq and chat backends: where a model comes
from (local folder, hub snapshot at a pinned revision), the model class built with the right
attention, device and dtype, provenance for the fingerprint, error messages that say what to
do, device error mapping and CUDA stats."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.backends import devices, threads
from summarize.backends.base import OutOfMemory
from summarize.backends.hashing import content_hash, snapshot_hash
from summarize.backends.sources import hub_offline, local_model_folder
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ModelLoadError

_TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")


@dataclass(frozen=True)
class Source:
    """Where from_pretrained reads a model from."""

    name: str  # hub id or absolute folder path
    local_dir: Path | None = None  # a local folder
    commit: str | None = None  # hub: the commit the requested revision resolved to
    snapshot: Path | None = None  # hub: that commit's folder in the local cache, if there
    cache_dir: str | None = None
    offline: bool = False

    def attempts(self) -> list[bool]:
        """``local_files_only`` values to try: the cache first, the Hub only when needed."""
        if self.local_dir is not None or self.offline:
            return [True]
        # A commit is immutable, so a cached snapshot needs no Hub call; files missing from a
        # partial snapshot are fetched by the second, online attempt.
        return [True, False] if self.snapshot is not None else [False]


def transformers_info(backend: Any) -> dict[str, Any]:
    """The manifest fields every transformers backend reports: version, device, precision."""
    return {
        "model": backend.spec.model,
        "revision": backend.spec.revision,
        "resolved_revision": backend._resolved_revision,
        "local_path": backend._local_path,
        "content_hash": backend._content_hash,
        "backend": "transformers",
        "device": str(backend.device),
        "dtype": str(backend.model.dtype).removeprefix("torch."),
        "attn_implementation": backend.model.config._attn_implementation,
        "threads": threads.resolved(),  # torch's pool: process-wide
    }


def load_pretrained(
    spec: ModelSpec, device: str, dtype: str, load_model: Any, *, weights: bool = True
) -> tuple[Source, Any, Any, Any]:
    """(source, tokenizer, model in eval mode on its device, torch device) for a spec: the hub
    revision pinned, the cache tried before the Hub, weights placed straight on a CUDA card.
    ``load_model(name, weights=..., **kwargs)`` builds the model (seq2seq or causal).

    ``weights=False`` gives a tokenizer-only view: the architecture is built on torch's meta
    device from config.json (no weight file is read, no memory is taken), so token counts,
    limits, the language plan and ``info()`` are the loaded model's, by the same code."""
    from transformers import AutoTokenizer

    quiet_transformers()
    source = _resolve_source(spec)
    torch_device = _pick_device(device)
    torch_dtype = _pick_dtype(dtype, torch_device)
    placement = device_placement(torch_device) if weights else {}
    attempts = source.attempts()
    for attempt, local_only in enumerate(attempts, start=1):
        kwargs = {
            "revision": source.commit,
            "local_files_only": local_only,
            "cache_dir": source.cache_dir,
        }
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.name, **kwargs)
            model = load_model(source.name, weights=weights, dtype=torch_dtype, **placement,
                               **kwargs)
            break
        except Exception as exc:  # any failure to read the files becomes one user message
            if attempt == len(attempts):
                raise ModelLoadError(_load_message(spec, source, exc)) from None
    if weights and not placement:
        model.to(torch_device)
    if weights:
        threads.apply_torch()
    model.eval()
    return source, tokenizer, model, torch_device


@contextlib.contextmanager
def device_errors(model: str, device: Any, batch: str) -> Iterator[None]:
    """Device allocation failures (torch's, cuBLAS's, cuDNN's) become OutOfMemory, so the
    scheduler halves the batch; the CUDA cache is freed once the traceback is gone."""
    import torch

    out_of_memory = False
    try:
        yield
    except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if not devices.is_out_of_memory(exc):
            raise
        out_of_memory = True
    if out_of_memory:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise OutOfMemory(f"{model}: out of device memory on a batch of {batch}")


def seed_sampling(settings: GenerationSettings) -> None:
    """Sampling restarts from the configured seed on every call, so a batch is repeatable."""
    if settings.do_sample:
        import torch

        torch.manual_seed(settings.seed)


def _resolve_source(spec: ModelSpec) -> Source:
    local = local_model_folder(spec)
    if local is not None:
        return Source(str(local), local_dir=local)
    return _resolve_hub(spec)


def _resolve_hub(spec: ModelSpec) -> Source:
    """Pin a hub revision to its commit: one Hub call, or none when offline."""
    from huggingface_hub import constants, resolve_revision, try_to_load_from_cache

    offline = hub_offline()
    cache_dir = constants.HF_HUB_CACHE  # read now, not at import time
    try:
        resolved = resolve_revision(
            spec.model, revision=spec.revision, local_files_only=offline, cache_dir=cache_dir
        )
    except Exception as exc:  # unreachable and not cached, unknown repo or revision
        raise ModelLoadError(_hub_message(spec, offline, exc)) from None
    commit = resolved.resolved
    cached = try_to_load_from_cache(spec.model, "config.json", revision=commit, cache_dir=cache_dir)
    snapshot = Path(cached).parent if isinstance(cached, str) else None
    return Source(
        spec.model, commit=commit, snapshot=snapshot, cache_dir=cache_dir, offline=offline
    )


def load_model(name: str, **kwargs: Any) -> Any:
    from transformers import AutoModelForSeq2SeqLM

    return build_model(AutoModelForSeq2SeqLM, name, **kwargs)


def build_model(auto_class: Any, name: str, *, weights: bool = True, **kwargs: Any) -> Any:
    """``auto_class`` from ``name`` with SDPA attention, or the model's default where it has
    none. Without weights, the architecture on the meta device with the checkpoint's configs."""

    def make(**attn: Any) -> Any:
        if weights:
            return auto_class.from_pretrained(name, **attn, **kwargs)
        import torch
        from transformers import AutoConfig, GenerationConfig

        files = {k: kwargs[k] for k in ("revision", "local_files_only", "cache_dir") if k in kwargs}
        config = AutoConfig.from_pretrained(name, **files)
        with torch.device("meta"):
            model = auto_class.from_config(config, dtype=kwargs.get("dtype"), **attn)
        # no generation_config.json: from_pretrained derives it from config.json, as from_config
        with contextlib.suppress(OSError):
            model.generation_config = GenerationConfig.from_pretrained(name, **files)
        return model

    try:
        return make(attn_implementation="sdpa")
    except ValueError as exc:
        if "scaled_dot_product_attention" not in str(exc):
            raise
    return make()


_MAKE_AVAILABLE = (
    "run once with network access to download it, or set model: to a local folder with "
    "config.json, the weights and the tokenizer files"
)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _hub_message(spec: ModelSpec, offline: bool, exc: Exception) -> str:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    at = f" at revision {spec.revision}" if spec.revision else ""
    if isinstance(exc, RevisionNotFoundError):
        return f"model {spec.model} has no revision {spec.revision} on the Hugging Face Hub"
    if isinstance(exc, RepositoryNotFoundError):
        return (
            f"model {spec.model} was not found on the Hugging Face Hub (or it is private or "
            f"gated: log in with `hf auth login`); check the model id, or set model: to a "
            f"local folder"
        )
    why = "the Hub is offline (HF_HUB_OFFLINE is set)" if offline else "the Hub cannot be reached"
    return f"model {spec.model}{at} is not in the local Hugging Face cache and {why}: {_MAKE_AVAILABLE}"


def _load_message(spec: ModelSpec, source: Source, exc: Exception) -> str:
    if source.local_dir is not None:
        return (
            f"cannot load the model in {source.local_dir}: {_first_line(exc)}. The folder must "
            f"hold config.json, the weights and the tokenizer files saved with save_pretrained"
        )
    at = f" at revision {spec.revision}" if spec.revision else ""
    if source.offline:
        return (
            f"model {spec.model}{at} is not complete in the local Hugging Face cache and the Hub "
            f"is offline (HF_HUB_OFFLINE is set): {_MAKE_AVAILABLE}"
        )
    return f"cannot load model {spec.model}{at} ({_first_line(exc)}): {_MAKE_AVAILABLE}"


def provenance(source: Source) -> tuple[str, str, str]:
    """(resolved hub commit, local folder, content hash); empty strings where unknown."""
    if source.local_dir is not None:
        return "", str(source.local_dir), content_hash(source.local_dir)
    from huggingface_hub import try_to_load_from_cache

    commit = source.commit or ""
    cached = try_to_load_from_cache(
        source.name, "config.json", revision=source.commit, cache_dir=source.cache_dir
    )
    if not isinstance(cached, str):
        return commit, "", ""
    snapshot = Path(cached).parent
    return commit, str(snapshot), snapshot_hash(snapshot)


def special_token_ids(generation: dict[str, Any], config: Any) -> dict[str, Any]:
    """bos/eos/pad/decoder-start ids: the generation config's, else the model config's."""
    ids = {}
    for name in _TOKEN_ID_FIELDS:
        value = generation.get(name)
        ids[name] = value if value is not None else getattr(config, name, None)
    return ids


def _pick_device(device: str) -> Any:
    import torch

    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return torch.device(str(devices.pick_device(device, count, mps)))


def _pick_dtype(dtype: str, device: Any) -> Any:
    import torch

    native = device.type == "cuda" and devices.cuda_bf16_native(device.index or 0)
    return getattr(torch, devices.resolve_dtype(dtype, device.type, native))


def device_placement(device: Any) -> dict[str, Any]:
    """Load CUDA weights straight onto the card: loading on CPU first needs twice the host RAM."""
    return {"device_map": str(device)} if device.type == "cuda" else {}


def cuda_stats(device: Any, *, reset: bool) -> dict[str, Any]:
    """Peak and reserved memory of one CUDA device (and utilisation where NVML is there)."""
    import torch

    stats: dict[str, Any] = {
        "max_allocated_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1),
        "reserved_mb": round(torch.cuda.memory_reserved(device) / 2**20, 1),
    }
    with contextlib.suppress(Exception):  # needs pynvml; utilisation is optional
        stats["utilization_pct"] = torch.cuda.utilization(device)
    if reset:
        torch.cuda.reset_peak_memory_stats(device)
    return stats


def row_forced_bos(token_ids: Sequence[int]) -> Any:
    """A logits processor forcing each row's first generated token to its own id.

    transformers' ForcedBOSTokenLogitsProcessor forces one id for the whole batch; this is the
    same rule per input row. Rows are expanded by generate() (beams, or return sequences) in
    blocks, so hypothesis ``r`` of an ``expand``-times expanded batch belongs to row
    ``r // expand``.
    """
    import torch
    from transformers import LogitsProcessor

    class RowForcedBOS(LogitsProcessor):  # type: ignore[misc]
        def __init__(self, ids: Sequence[int]) -> None:
            self.ids = torch.tensor(list(ids), dtype=torch.long)

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if input_ids.shape[-1] != 1:
                return scores
            expand = scores.shape[0] // len(self.ids)
            ids = self.ids.to(scores.device).repeat_interleave(expand)
            forced = torch.full_like(scores, -math.inf)
            forced[torch.arange(scores.shape[0], device=scores.device), ids] = 0
            return forced

    return RowForcedBOS(token_ids)


def quiet_transformers() -> None:
    """Our own progress and errors replace transformers' per-load bars and advisories."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
