"""The transformers backend: AutoModelForSeq2SeqLM.generate() with every setting explicit.

transformers v5 merges a model's ``generation_config.json`` into whatever config is passed to
``generate()`` (every unset field is filled from it), so a fresh GenerationConfig alone does
not keep hub defaults out. On load we therefore replace ``model.generation_config`` by one that
holds only the special token ids, and pass every setting on each call.

CPU threads: torch's intra-op pool is set at load to the process's count (``threads`` in the
config, else OMP_NUM_THREADS, else one per core; see backends/threads): it is process-wide.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.backends import devices, families, threads
from summarize.backends.base import OutOfMemory, budget_groups, truncated
from summarize.backends.hashing import content_hash, snapshot_hash
from summarize.backends.sources import hub_offline, local_model_folder
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ModelLoadError

_SANE_MAX_LENGTH = 100_000  # tokenizers without a limit report int(1e30)
_FALLBACK_MAX_INPUT = 512
_TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")


@dataclass(frozen=True)
class _Source:
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


class HFBackend:
    """A seq2seq model loaded with transformers; implements ``base.Backend``."""

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Any,
        model: Any,
        *,
        device: Any,
        family: str,
        source: _Source,
        model_generation: dict[str, Any],
    ) -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self.family = family
        self._source = source
        self._model_generation = model_generation
        self._token_ids = _special_token_ids(model_generation, model.config)
        self._plans: dict[str | None, families.LangPlan] = {}
        self._limit = spec.max_input_tokens or _model_input_limit(model.config, tokenizer)
        self._decoder_limit = _decoder_limit(model.config)
        self._resolved_revision, self._local_path, self._content_hash = _provenance(source)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> HFBackend:
        """Load tokenizer and model from a hub id (at ``spec.revision``) or a local folder;
        ``weights=False``: a tokenizer-only view that cannot generate (see load_pretrained)."""
        from transformers import GenerationConfig

        source, tokenizer, model, torch_device = load_pretrained(spec, device, dtype, _load_model,
                                                                 weights=weights)
        model_generation = model.generation_config.to_dict()
        model.generation_config = GenerationConfig(
            **_special_token_ids(model_generation, model.config)
        )
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"
        family: str = spec.family
        if family == "auto":
            family = families.detect_family(tokenizer, model.config)
        return cls(
            spec,
            tokenizer,
            model,
            device=torch_device,
            family=family,
            source=source,
            model_generation=model_generation,
        )

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry for this model."""
        return {
            **transformers_info(self),
            "family": self.family,
            "max_input_tokens": self._limit,
        }

    def max_input_tokens(self) -> int:
        """Longest source in tokens, special tokens and language prefix included."""
        return self._limit

    def device_stats(self, reset: bool = True) -> dict[str, Any] | None:
        """Peak CUDA memory of this model's device since the last reset (device-wide: the
        runner asks one backend per device, so models sharing a card do not reset each other)."""
        if self.device.type != "cuda":
            return None
        return cuda_stats(self.device, reset=reset)

    def lang_plan(self, target_lang: str | None) -> families.LangPlan:
        """How this model is steered to ``target_lang``; ConfigError if it cannot produce it."""
        if target_lang not in self._plans:
            self._plans[target_lang] = families.plan(
                self.family,
                self.tokenizer,
                target_lang,
                model=self.spec.model,
                lang_codes={str(k): v for k, v in self.spec.lang_codes.items()},
                forced_family=self.spec.family != "auto",
                default_bos_token_id=self._model_generation.get("forced_bos_token_id"),
            )
        return self._plans[target_lang]

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        """Source length of each text exactly as generate_batch encodes it."""
        if not texts:
            return []
        encoded = self._encode(texts, self.lang_plan(target_lang), tensors=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def generate_batch(
        self, texts: Sequence[str], target_lang: str | None, settings: GenerationSettings
    ) -> list[str]:
        """One generate() call per budget group of the batch (see budget_groups); one output
        per input, in order, flagged ``truncated`` where it stopped at its budget."""
        if not texts:
            return []
        plan = self.lang_plan(target_lang)
        groups = self._budget_groups(texts, plan, settings)
        out: list[str] = [""] * len(texts)
        for budget, idx in groups:
            part = [texts[i] for i in idx]
            for i, text in zip(idx, self._generate_group(part, plan, settings, budget), strict=True):
                out[i] = text
        return out

    def _budget_groups(self, texts: Sequence[str], plan: families.LangPlan,
                       settings: GenerationSettings) -> list[tuple[int, list[int]]]:
        """The batch's rows by their own budget; inputs over the model's limit refused."""
        lengths = [len(ids) for ids in self._encode(texts, plan, tensors=False)["input_ids"]]
        too_long = [i for i, n in enumerate(lengths) if n > self._limit]
        if too_long:
            raise ValueError(
                f"{len(too_long)} input(s) longer than {self._limit} tokens for {self.spec.model} "
                f"(first: #{too_long[0]}, {lengths[too_long[0]]} tokens); split them first"
            )
        return budget_groups([min(settings.budget(n), self._decoder_limit) for n in lengths])

    def _generate_group(self, texts: Sequence[str], plan: families.LangPlan,
                        settings: GenerationSettings, max_new: int) -> list[str]:
        import torch

        encoded = self._encode(texts, plan, tensors=True)
        longest = int(encoded["attention_mask"].sum(dim=1).max())
        config = self.generation_config(settings, plan, max_new)
        with self._device_errors(len(texts), longest), torch.inference_mode():
            self._seed(settings)
            output = self.model.generate(
                input_ids=encoded["input_ids"].to(self.device),
                attention_mask=encoded["attention_mask"].to(self.device),
                generation_config=config,
            )
        return self._decode(output, plan, max_new)

    def generate_multi(
        self, texts: Sequence[str], target_langs: Sequence[str], settings: GenerationSettings
    ) -> dict[str, list[str]]:
        """All target languages of a batch in ONE generate() call, the encoder run once.

        NLLB/M2M100/mBART-50 encode the source the same way whatever the target (the target is
        only the forced first decoder token). The encoder's states are repeated once per
        language and each row's first decoder token is forced to its own language, so every
        decoding setting (greedy, beam search, sampling) sees exactly the rows it would see in
        one call per language, while transformers expands its inputs for beams only once.
        """
        plans = {lang: self.lang_plan(lang) for lang in target_langs}
        shared = len({(p.prefix, p.src_lang) for p in plans.values()}) == 1
        if not shared or not texts or any(p.forced_bos_token_id is None for p in plans.values()):
            return {lang: self.generate_batch(texts, lang, settings) for lang in target_langs}
        first = plans[target_langs[0]]
        out: dict[str, list[str]] = {lang: [""] * len(texts) for lang in target_langs}
        for budget, idx in self._budget_groups(texts, first, settings):
            part = self._multi_group([texts[i] for i in idx], plans, list(target_langs),
                                     settings, budget)
            for lang in target_langs:
                for i, text in zip(idx, part[lang], strict=True):
                    out[lang][i] = text
        return out

    def _multi_group(self, texts: Sequence[str], plans: dict[str, families.LangPlan],
                     langs: list[str], settings: GenerationSettings, max_new: int
                     ) -> dict[str, list[str]]:
        import torch
        from transformers import LogitsProcessorList
        from transformers.modeling_outputs import BaseModelOutput

        first = plans[langs[0]]
        encoded = self._encode(texts, first, tensors=True)
        longest = int(encoded["attention_mask"].sum(dim=1).max())
        n = len(texts)
        row_targets = [int(plans[lang].forced_bos_token_id or 0) for lang in langs for _ in range(n)]
        config = self.generation_config(settings, first, max_new, forced_bos=False)
        with self._device_errors(n * len(langs), longest), torch.inference_mode():
            ids = encoded["input_ids"].to(self.device)
            mask = encoded["attention_mask"].to(self.device)
            states = self.model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
            self._seed(settings)
            output = self.model.generate(
                encoder_outputs=BaseModelOutput(last_hidden_state=states.repeat(len(langs), 1, 1)),
                attention_mask=mask.repeat(len(langs), 1),
                generation_config=config,
                logits_processor=LogitsProcessorList([row_forced_bos(row_targets)]),
            )
        decoded = self._decode(output, first, max_new)
        return {lang: decoded[i * n:(i + 1) * n] for i, lang in enumerate(langs)}

    def _device_errors(self, rows: int, longest: int) -> Any:
        return device_errors(self.spec.model, self.device, f"{rows} rows (longest {longest} tokens)")

    _seed = staticmethod(lambda settings: seed_sampling(settings))

    # ------------------------------------------------------------------ helpers

    def generation_config(
        self, settings: GenerationSettings, plan: families.LangPlan, max_new_tokens: int,
        *, forced_bos: bool = True,
    ) -> Any:
        """The complete GenerationConfig for one call; nothing comes from the model's own.

        ``forced_bos=False`` leaves the first token to a per-row processor (generate_multi).
        """
        from transformers import GenerationConfig

        beam = settings.num_beams > 1
        pad, eos = self._token_ids["pad_token_id"], self._token_ids["eos_token_id"]
        eos_ids = eos if isinstance(eos, list) else [eos]
        # Padding must never be generated: Marian also uses it as the decoder start token (its
        # hub configs list it in bad_words_ids); no seq2seq model should emit it mid-sequence.
        bad_words = [[pad]] if pad is not None and pad not in eos_ids else None
        sample = settings.do_sample
        return GenerationConfig(
            do_sample=sample,
            temperature=settings.temperature if sample else 1.0,
            top_k=settings.top_k if sample else None,
            top_p=settings.top_p if sample else 1.0,
            num_beams=settings.num_beams,
            num_return_sequences=1,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min(settings.min_new_tokens, max_new_tokens),
            # Only beam search reads these; greedy gets the neutral values.
            length_penalty=settings.length_penalty if beam else 1.0,
            early_stopping=settings.early_stopping if beam else False,
            no_repeat_ngram_size=settings.no_repeat_ngram_size,
            repetition_penalty=settings.repetition_penalty,
            forced_bos_token_id=plan.forced_bos_token_id if forced_bos else None,
            forced_eos_token_id=None,
            bad_words_ids=bad_words,
            use_cache=True,
            **self._token_ids,
        )

    def _encode(self, texts: Sequence[str], plan: families.LangPlan, *, tensors: bool) -> Any:
        if plan.src_lang is not None and getattr(self.tokenizer, "src_lang", None) != plan.src_lang:
            self.tokenizer.src_lang = plan.src_lang
        return self.tokenizer(
            [plan.prefix + text for text in texts],
            add_special_tokens=True,
            padding="longest" if tensors else False,
            truncation=False,
            return_tensors="pt" if tensors else None,
            verbose=False,  # the length check is ours, with a clearer message
        )

    def _decode(self, output: Any, plan: families.LangPlan, budget: int) -> list[str]:
        """Texts of generate()'s output rows; a row with no end-of-sequence token stopped at its
        budget and is flagged ``truncated``."""
        # Drop the decoder start token and the forced language token: some v5 tokenizers
        # (M2M100) no longer mark language tokens as special, so skip_special_tokens misses them.
        skip = 1 + (plan.forced_bos_token_id is not None)
        # transformers' clean_up_tokenization_spaces is meant for WordPiece and v5 refuses it for
        # BPE tokenizers; collapsing runs of whitespace is the safe part of it for any language.
        kwargs: dict[str, Any] = {
            "skip_special_tokens": True,
            "clean_up_tokenization_spaces": False,
        }
        if self.family == "marian":
            # v5 decodes with the source spm when the vocab is shared; the output is target text.
            kwargs["use_source_tokenizer"] = False
        texts = self.tokenizer.batch_decode(output[:, skip:], **kwargs)
        eos = self._token_ids["eos_token_id"]
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        rows = output[:, 1:].tolist()
        return [truncated(" ".join(text.split()), budget) if not eos_ids & set(row)
                else " ".join(text.split()) for text, row in zip(texts, rows, strict=True)]


# ---------------------------------------------------------------------- module helpers


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
) -> tuple[_Source, Any, Any, Any]:
    """(source, tokenizer, model in eval mode on its device, torch device) for a spec: the hub
    revision pinned, the cache tried before the Hub, weights placed straight on a CUDA card.
    ``load_model(name, weights=..., **kwargs)`` builds the model (seq2seq or causal).

    ``weights=False`` gives a tokenizer-only view: the architecture is built on torch's meta
    device from config.json (no weight file is read, no memory is taken), so token counts,
    limits, the language plan and ``info()`` are the loaded model's, by the same code."""
    from transformers import AutoTokenizer

    _quiet_transformers()
    source = _resolve_source(spec)
    torch_device = _pick_device(device)
    torch_dtype = _pick_dtype(dtype, torch_device)
    placement = _placement(torch_device) if weights else {}
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


def _resolve_source(spec: ModelSpec) -> _Source:
    local = local_model_folder(spec)
    if local is not None:
        return _Source(str(local), local_dir=local)
    return _resolve_hub(spec)


def _resolve_hub(spec: ModelSpec) -> _Source:
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
    return _Source(
        spec.model, commit=commit, snapshot=snapshot, cache_dir=cache_dir, offline=offline
    )


def _load_model(name: str, **kwargs: Any) -> Any:
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


def _load_message(spec: ModelSpec, source: _Source, exc: Exception) -> str:
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


def _provenance(source: _Source) -> tuple[str, str, str]:
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


def _special_token_ids(generation: dict[str, Any], config: Any) -> dict[str, Any]:
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


def _placement(device: Any) -> dict[str, Any]:
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


def _model_input_limit(config: Any, tokenizer: Any) -> int:
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < _SANE_MAX_LENGTH:
        limits.append(tok_max)
    return min(limits) if limits else _FALLBACK_MAX_INPUT


def _decoder_limit(config: Any) -> int:
    """Most new tokens the decoder can take: its positions, less the decoder start token."""
    positions = getattr(config, "max_position_embeddings", None)
    return positions - 1 if isinstance(positions, int) and positions > 1 else _SANE_MAX_LENGTH


def _quiet_transformers() -> None:
    """Our own progress and errors replace transformers' per-load bars and advisories."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
