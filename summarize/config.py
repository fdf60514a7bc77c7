"""Typed run configuration, loaded from YAML; unknown keys and bad values are errors."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal, TypedDict

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from summarize.errors import ConfigError

# What `device:` accepts (the backends resolve "auto"; summarize.backends.devices uses it too).
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

Lang = Literal["ko", "zh-Hans"]
LANGUAGES: tuple[Lang, ...] = ("ko", "zh-Hans")
# "chat": an instruction-tuned causal LM prompted per task (summarize/backends/chat.py,
# ct2_chat.py on backend ctranslate2, vllm_chat.py on backend vllm).
Family = Literal["auto", "marian", "nllb", "m2m100", "mbart50", "plain", "chat"]


# New-token budgets are rounded up to a multiple of this (see GenerationSettings.budget). Part of
# the output identity (summarize/models/load.py): changing it changes outputs.
BUDGET_STEP = 16


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationSettings(_Strict):
    """Every setting handed to generate(); nothing is taken from a model's generation_config.

    max_new_tokens for one input is ``min(max_new_tokens, ceil(ratio * source_tokens) + extra)``,
    rounded up to a multiple of BUDGET_STEP, when ``max_new_tokens_ratio`` is set, else
    ``max_new_tokens``. The budget is each input's own: a generate() call only ever holds inputs
    with equal budgets (summarize/backends/base.py budget_groups), so a sentence's output never
    depends on its batch neighbours. The rounding keeps those groups few in a length-sorted pass.
    """

    num_beams: int = Field(4, ge=1, le=16)
    max_new_tokens: int = Field(256, ge=1, le=4096)
    max_new_tokens_ratio: float | None = Field(2.0, gt=0)
    max_new_tokens_extra: int = Field(16, ge=0)
    min_new_tokens: int = Field(0, ge=0)
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0)
    early_stopping: bool = True
    # Sampling (off by default: a batch job should give the same output for the same input).
    # On, each generate() call restarts from ``seed``, so output depends on batch composition.
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0)
    top_k: int | None = Field(None, ge=1)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check_sampling(self) -> GenerationSettings:
        if self.do_sample and self.num_beams > 1:
            raise ValueError("do_sample needs num_beams: 1 (beam sampling is not supported)")
        return self

    def budget(self, source_tokens: int) -> int:
        """Max new tokens for a source of this many tokens (a function of that source alone)."""
        if self.max_new_tokens_ratio is None:
            return self.max_new_tokens
        scaled = -(-int(source_tokens * self.max_new_tokens_ratio * 1000) // 1000)
        wanted = scaled + self.max_new_tokens_extra
        rounded = -(-wanted // BUDGET_STEP) * BUDGET_STEP
        return max(1, min(self.max_new_tokens, rounded))

    def max_source_tokens(self) -> int:
        """Longest source whose scaled budget still fits under ``max_new_tokens``: a longer
        one could be cut, so segmenting splits it further. With no ratio, the output is assumed
        no longer than the source."""
        if self.max_new_tokens_ratio is None:
            return self.max_new_tokens
        room = self.max_new_tokens - self.max_new_tokens_extra
        return max(1, int(room / self.max_new_tokens_ratio))


class CT2Settings(_Strict):
    quantization: Literal["auto", "int8", "int8_float16", "int8_bfloat16", "float16", "bfloat16", "float32"] = "auto"
    # CPU threads of this model's Translator/Generator; 0: the run's ``threads``
    intra_threads: int = Field(0, ge=0)


class VLLMSettings(_Strict):
    """How the vllm backend spreads and sizes the engine; outputs do not depend on it."""

    tensor_parallel_size: int = Field(1, ge=1)  # GPUs one copy of the model is split over
    # Share of each GPU's memory vLLM may take (on a CPU: of the RAM, checked at start).
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    kv_cache_gb: float | None = Field(None, gt=0)  # KV cache size; unset: from the share above
    # Tokens per KV-cache block; prefix caching reuses whole blocks only. Unset: 32 on a CPU
    # (the smallest its attention kernel takes; vLLM's CPU default, 128, is longer than the
    # instruction the tool's prompts share), vLLM's own on CUDA.
    block_size: int | None = Field(None, ge=1)


class ModelSpec(_Strict):
    """A model as named in the config: hub id or local folder, plus how to run it."""

    model: str
    revision: str | None = None
    # auto: the fastest installed engine for the model and device (summarize/backends/auto.py):
    # ctranslate2 for seq2seq models on a CPU, vllm for chat models on a GPU, else transformers.
    # The resolved engine is part of the output identity and shown in the manifest.
    backend: Literal["auto", "transformers", "ctranslate2", "vllm"] = "transformers"
    family: Family = "auto"
    # BCP-47 tag -> the model's own code/token, where the family's table is not right.
    lang_codes: dict[Lang, str] = Field(default_factory=dict)
    max_input_tokens: int | None = Field(None, ge=8)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    ct2: CT2Settings = Field(default_factory=CT2Settings)
    vllm: VLLMSettings = Field(default_factory=VLLMSettings)
    # family chat: the translation prompt style of summarize/backends/prompts.py ("rules" or "short").
    prompt: Literal["rules", "short"] = "rules"

    def key(self) -> tuple[Any, ...]:
        """Two specs with the same key share one loaded model (the language codes and the
        prompt style are read at load time, so they are part of it)."""
        return (self.model, self.revision, self.backend, self.family,
                tuple(sorted(self.lang_codes.items())), self.prompt)


def _summary_generation() -> GenerationSettings:
    return GenerationSettings(
        num_beams=4, max_new_tokens=142, max_new_tokens_ratio=None, max_new_tokens_extra=0,
        min_new_tokens=56, length_penalty=2.0, no_repeat_ngram_size=3, repetition_penalty=1.0,
        early_stopping=True,
    )


class SummarizerSpec(ModelSpec):
    generation: GenerationSettings = Field(default_factory=_summary_generation)


class Packing(TypedDict):
    """The scheduler's keyword arguments (BatchSettings.packing())."""

    max_batch_tokens: int
    max_batch_size: int
    max_hypotheses: int


class BatchSettings(_Strict):
    max_batch_tokens: int = Field(6000, ge=16)
    max_batch_size: int = Field(64, ge=1)
    max_hypotheses: int = Field(128, ge=1)  # sentences x beams per generate() call
    window_articles: int = Field(128, ge=1)
    # Read and segment the next window in a thread while this one is generated (one ahead).
    # Off by default: it pays only where the driver has a core the generation does not use.
    read_ahead: bool = False

    def packing(self) -> Packing:
        """The scheduler's keyword arguments: how texts are packed into generate() calls."""
        return {"max_batch_tokens": self.max_batch_tokens, "max_batch_size": self.max_batch_size,
                "max_hypotheses": self.max_hypotheses}


class RaySettings(_Strict):
    """Where and how wide the ray engine runs (summarize/engines/ray_cluster.py). None of it changes
    outputs, so none of it is in the config hash."""

    # Cluster to join ("host:6379" or "auto"); unset: RAY_ADDRESS if set, else a local Ray
    # started for the run and stopped after it. Ray Client (ray://) is not supported.
    address: str | None = None
    # Actors held for the whole run; each loads every model it is asked for once.
    actors: int = Field(1, ge=1)
    gpus_per_actor: float = Field(0.0, ge=0)  # 1: a GPU per actor; 0.5: two actors share one
    cpus_per_actor: float = Field(1.0, gt=0)
    # Batches queued per actor (one runs, the rest wait on the actor, so it never idles).
    inflight_per_actor: int = Field(2, ge=1)
    # A batch whose worker died is retried this many times, then bisected down to the input
    # that kills it (that input fails its article).
    max_batch_retries: int = Field(1, ge=0)
    # Actors that die starting or loading a model this many times in a row stop the run.
    max_start_failures: int = Field(3, ge=1)
    # Seconds an actor may take to be placed and start (process and imports, not model load).
    start_timeout_s: float = Field(300.0, gt=0)
    # A joined cluster with no node offering CPUs/GPUs of the actor's kind (an autoscaler that
    # has not added workers yet): wait this long for one before giving up.
    wait_for_workers_s: float = Field(120.0, ge=0)
    # Only for the local Ray started when no address is given:
    num_cpus: int | None = Field(None, ge=1)
    object_store_memory: int | None = Field(None, ge=78_643_200)  # bytes; Ray's minimum is 75 MiB

    @field_validator("address")
    @classmethod
    def _no_ray_client(cls, address: str | None) -> str | None:
        if address is not None and address.startswith("ray://"):
            raise ValueError(
                "ray:// (Ray Client) is not supported: run summarize on a node of the cluster "
                "with address auto, or give the head's GCS address (HEAD_IP:6379)")
        return address


class Config(_Strict):
    languages: tuple[Lang, ...] = LANGUAGES
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    # CPU threads the models compute with (process-wide; summarize/backends/threads.py).
    # Unset: OMP_NUM_THREADS if set, else one per core; on Ray actors, the actor's CPUs.
    # Not an output setting: outputs are the same at any count.
    threads: int | None = Field(None, ge=1)
    summarizer: SummarizerSpec
    translators: dict[Lang, ModelSpec]
    batch: BatchSettings = Field(default_factory=BatchSettings)
    cache: bool = True
    glossary: str | dict[str, Any] | None = None
    # Score each model version on the built-in canary on first use (summarize/models/check.py).
    model_check: bool = True
    # What one translation input is: a sentence, or a paragraph (context for an LLM; a
    # paragraph longer than a translator's window goes as runs of whole sentences that fit).
    unit: Literal["sentence", "paragraph"] = "sentence"
    # Where generation runs: this process (local) or actors on a Ray cluster (ray).
    engine: Literal["local", "ray"] = "local"
    ray: RaySettings = Field(default_factory=RaySettings)

    @model_validator(mode="after")
    def _check(self) -> Config:
        if not self.languages:
            raise ValueError("languages: at least one target language is needed")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages: a language is listed twice")
        missing = [lang for lang in self.languages if lang not in self.translators]
        if missing:
            raise ValueError(f"translators: no model for {', '.join(missing)}")
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device: {self.device!r} is not auto, cpu, cuda, cuda:N or mps")
        return self

    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def hash(self) -> str:
        """Hash of the settings that can change outputs (batching and cache flags excluded)."""
        data = self.resolved()
        for key in ("batch", "cache", "device", "model_check", "engine", "ray", "threads"):
            data.pop(key, None)
        if isinstance(self.glossary, str):
            # The glossary's content changes outputs, not its path: an edited glossary is a new
            # config, so a resumed run never mixes old and new glossary forms.
            try:
                data["glossary_sha256"] = hashlib.sha256(Path(self.glossary).read_bytes()).hexdigest()
            except OSError:
                data["glossary_sha256"] = None  # reported when the glossary is loaded
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


def _format_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def load_config(path: Path | str | None, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate a YAML config; ``overrides`` maps dotted keys to values (CLI flags)."""
    data: dict[str, Any] = {}
    source = "(defaults)"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config {p}: {exc.strerror or exc}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config {p} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {p}: expected a mapping at the top level")
        data = loaded
        base = p.parent
        # Relative local model paths are relative to the config file.
        for spec in _model_entries(data):
            model = spec.get("model")
            if isinstance(model, str) and model.startswith(("./", "../")):
                spec["model"] = str((base / model).resolve())
        if isinstance(data.get("glossary"), str) and not Path(data["glossary"]).is_absolute():
            data["glossary"] = str((base / data["glossary"]).resolve())
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, key, value)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from None


def _model_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    if isinstance(data.get("summarizer"), dict):
        out.append(data["summarizer"])
    if isinstance(data.get("translators"), dict):
        out.extend(v for v in data["translators"].values() if isinstance(v, dict))
    return out
