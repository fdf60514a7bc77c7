"""CTranslate2 backend: the configured Hugging Face model, converted once and cached.

Inputs are tokenised with the model's own Hugging Face tokenizer and outputs decoded with it,
so source tokens, language handling and detokenisation are the ones the transformers backend
uses; only the forward passes run in CTranslate2.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.backends import devices, families, threads
from summarize.backends.base import OutOfMemory, budget_groups, truncated
from summarize.backends.hashing import content_hash, snapshot_hash
from summarize.backends.sources import hub_offline, local_model_folder
from summarize.config import BatchSettings, GenerationSettings, ModelSpec
from summarize.errors import ConfigError, ModelLoadError

# Bump when the conversion itself changes, so caches made by older code are not trusted.
CONVERTER_SCHEMA = 1
MARKER = "summarize-ct2.json"
# Weight formats the PyTorch converter never reads; not worth downloading.
_IGNORE_ON_DOWNLOAD = ["*.h5", "*.ot", "*.msgpack", "*.onnx", "onnx/*", "*.tflite", "*.mlmodel"]


@dataclass(frozen=True)
class SourceModel:
    """Where the Hugging Face files are, and what identifies their exact version."""

    path: Path
    revision: str | None  # hub commit hash; None for a local folder
    content_hash: str

    @property
    def version(self) -> str:
        return self.revision or f"local-{self.content_hash}"


# ---------------------------------------------------------------- source and cache


def resolve_source(spec: ModelSpec) -> SourceModel:
    """A local folder (content-hashed) or a hub snapshot (commit hash); downloads only if needed."""
    local = local_model_folder(spec)
    if local is not None:
        return SourceModel(local, None, content_hash(local))
    path = _snapshot(spec, ignore=[*_IGNORE_ON_DOWNLOAD, "*.bin", "*.pt"])
    if not any(path.glob("*.safetensors")):  # older repos ship only pytorch_model.bin
        path = _snapshot(spec, ignore=_IGNORE_ON_DOWNLOAD)
    return SourceModel(path, path.name, snapshot_hash(path))


def _snapshot(spec: ModelSpec, ignore: list[str], allow: list[str] | None = None) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(
            spec.model, revision=spec.revision, ignore_patterns=ignore, allow_patterns=allow,
            local_files_only=hub_offline(),
        ))
    except Exception as exc:  # hub errors come in many types; all mean "not available"
        raise ModelLoadError(
            f"cannot get {spec.model}@{spec.revision or 'main'} from the Hugging Face Hub "
            f"({type(exc).__name__}: {str(exc)[:300]}); run once with network access to "
            "download it, or set model: to a local folder"
        ) from None


def model_config_file(spec: ModelSpec) -> Path:
    """The model's config.json, fetched alone (no weights) for a hub id."""
    local = local_model_folder(spec)
    folder = local if local is not None else _snapshot(spec, ignore=[], allow=["config.json"])
    return folder / "config.json"


def cache_root() -> Path:
    base = os.environ.get("SUMMARIZE_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "summarize"
    return root / "ct2"


def cache_dir(spec: ModelSpec, source: SourceModel, quantization: str) -> Path:
    """One folder per (model, exact version, quantization, converter schema)."""
    name = spec.model.strip("/").replace("/", "--").replace(":", "_")[-80:]
    key = json.dumps([spec.model, source.version, quantization, CONVERTER_SCHEMA])
    short = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root() / f"{name}--{quantization}--{short}"


def _marker_ok(folder: Path, expected: dict[str, Any]) -> bool:
    try:
        found = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(found.get(k) == v for k, v in expected.items())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Only one process converts a given model at a time; the others wait and reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_converted(spec: ModelSpec, source: SourceModel, quantization: str) -> tuple[Path, bool]:
    """The converted model folder, converting it first if needed; returns (folder, converted)."""
    final = cache_dir(spec, source, quantization)
    expected = {"model": spec.model, "version": source.version, "quantization": quantization,
                "schema": CONVERTER_SCHEMA}
    if _marker_ok(final, expected):
        return final, False
    with _locked(final.with_name(final.name + ".lock")):
        if _marker_ok(final, expected):
            return final, False
        if final.exists():  # left by a crash before the marker existed: never trusted
            shutil.rmtree(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            convert(source.path, tmp, quantization, model_name=spec.model)
            marker = {**expected, "source_path": str(source.path), "ctranslate2": _ct2_version()}
            (tmp / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final, True


def _ct2_version() -> str:
    import ctranslate2

    return str(ctranslate2.__version__)


# ---------------------------------------------------------------- conversion


def convert(source: Path, out: Path, quantization: str, *, model_name: str | None = None) -> None:
    """Convert a Hugging Face seq2seq folder with CTranslate2's converter, patched for transformers 5."""
    converter = _patched_converter(str(source))
    name = model_name or str(source)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*sacremoses")
            converter.convert(str(out), quantization=quantization, force=True)
    except Exception as exc:  # the converter raises bare ValueError/KeyError/AttributeError
        raise ModelLoadError(
            f"ctranslate2 {_ct2_version()} cannot convert {name} "
            f"({converter.architecture or 'unknown architecture'}): {type(exc).__name__}: {exc}. "
            "Use backend: transformers for this model."
        ) from None


def _patched_converter(path: str) -> Any:
    """TransformersConverter with the fixes transformers 5 needs (ctranslate2 4.8 predates it).

    - BART/mBART configs no longer carry ``normalize_before``/``normalize_embedding``, which the
      converter reads: they are filled in with the architectures' fixed values.
    - M2M100Tokenizer.get_vocab() no longer lists the language tokens, so the converted
      vocabulary lacked them: they are added back at their ids.
    - mBART-50 starts decoding from ``decoder_start_token_id``; the converter guesses it from
      ``config.tokenizer_class``, which locally saved models often do not set; and
      MBart50Tokenizer has no ``bos_token`` any more, which CT2's config requires.
    """
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):  # type: ignore[misc]
        architecture: str | None = None

        def load_model(self, model_class: Any, name: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, name, **kwargs)
            config = model.config
            self.architecture = type(model).__name__
            defaults = {"bart": (False, True), "mbart": (True, True)}.get(config.model_type)
            if defaults is not None:
                for attr, value in zip(("normalize_before", "normalize_embedding"), defaults, strict=True):
                    if not hasattr(config, attr):
                        setattr(config, attr, value)
            if config.model_type == "mbart":
                self._mbart_start = config.decoder_start_token_id
            return model

        def load_tokenizer(self, tokenizer_class: Any, name: str, **kwargs: Any) -> Any:
            tokenizer = super().load_tokenizer(tokenizer_class, name, **kwargs)
            self._tokenizer = tokenizer
            if hasattr(tokenizer, "lang_token_to_id"):
                return _VocabWithLanguages(tokenizer)
            return tokenizer

        def _load(self) -> Any:
            spec = super()._load()
            tokenizer = self._tokenizer
            start = getattr(self, "_mbart_start", None)
            if start is not None:
                spec.config.decoder_start_token = tokenizer.convert_ids_to_tokens(start)
            if getattr(spec.config, "bos_token", "") is None:
                # MBart50Tokenizer (transformers 5) has no bos_token; CT2 needs one.
                spec.config.bos_token = tokenizer.cls_token or "<s>"
            return spec

    return Converter(path)


class _VocabWithLanguages:
    """Tokenizer view whose get_vocab() includes M2M100's language tokens."""

    def __init__(self, tokenizer: Any):
        self._tokenizer = tokenizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)

    def get_vocab(self) -> dict[str, int]:
        vocab = dict(self._tokenizer.get_vocab())
        for token, idx in self._tokenizer.lang_token_to_id.items():
            vocab.setdefault(token, idx)
        return vocab


# ---------------------------------------------------------------- the backend


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


@dataclass(frozen=True)
class _ModelFacts:
    """What the backend needs from the Hugging Face config files, read without torch."""

    family: str
    max_input: int
    decoder_limit: int
    forced_bos_token_id: int | None
    pad_token: str | None
    end_tokens: tuple[str, ...] = ()


class CT2Backend:
    """A converted seq2seq model run by ``ctranslate2.Translator``; implements ``base.Backend``."""

    def __init__(
        self, spec: ModelSpec, translator: Any, tokenizer: Any, facts: _ModelFacts, *,
        source: SourceModel, model_dir: Path, device: str, quantization: str, compute_type: str,
    ) -> None:
        self.spec = spec
        self.translator = translator
        self.tokenizer = tokenizer
        self.family = facts.family
        self.facts = facts
        self.source = source
        self.model_dir = model_dir
        self.device = device
        self.quantization = quantization
        self.compute_type = compute_type
        # A safety net for direct calls: CT2 itself splits anything bigger into sub-batches.
        self.max_batch_tokens: int = BatchSettings.model_fields["max_batch_tokens"].default
        self._plans: dict[str | None, families.LangPlan] = {}

    @classmethod
    def load(cls, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
             weights: bool = True) -> CT2Backend:
        """Resolve, convert (once, cached) and load ``spec``'s model. ``weights=False``: a
        tokenizer-only view (nothing converted or loaded; it cannot generate)."""
        ctranslate2 = import_ctranslate2()
        ready = prepare(spec, device, dtype, convert=weights)
        source, model_dir = ready.source, ready.model_dir
        tokenizer = _load_tokenizer(source.path)
        facts = _model_facts(spec, source.path, tokenizer)
        if not weights:
            return cls(spec, None, tokenizer, facts, source=source, model_dir=model_dir,
                       device=ready.device_name, quantization=ready.quantization,
                       compute_type=ready.compute_type)
        try:
            translator = ctranslate2.Translator(str(model_dir), **ready.runtime(spec))
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"ctranslate2 cannot load {model_dir}: {exc}") from None
        return cls(
            spec, translator, tokenizer, facts, source=source, model_dir=model_dir,
            device=ready.device_name, quantization=ready.quantization,
            compute_type=translator.compute_type,
        )

    # ------------------------------------------------------------------ Backend protocol

    def info(self) -> dict[str, Any]:
        """Manifest entry: the source model's version, and how it was converted and is run."""
        local = self.source.revision is None
        return {
            "model": self.spec.model,
            "revision": self.spec.revision,
            "resolved_revision": self.source.revision or "",
            "local_path": str(self.source.path),
            "content_hash": self.source.content_hash,
            "backend": "ctranslate2",
            "family": self.family,
            "device": self.device,
            "dtype": self.compute_type,
            "compute_type": self.compute_type,
            "quantization": self.quantization,
            "converted_path": str(self.model_dir),
            "source": "local folder" if local else "hub snapshot",
            "ctranslate2": _ct2_version(),
            "threads": intra_threads(self.spec),
            "max_input_tokens": self.facts.max_input,
        }

    def max_input_tokens(self) -> int:
        """Longest source in tokens, special tokens and language prefix included."""
        return self.facts.max_input

    def lang_plan(self, target_lang: str | None) -> families.LangPlan:
        """How this model is steered to ``target_lang`` (the same plan as the HF backend's)."""
        if target_lang not in self._plans:
            self._plans[target_lang] = families.plan(
                self.family, self.tokenizer, target_lang, model=self.spec.model,
                lang_codes={str(k): v for k, v in self.spec.lang_codes.items()}, forced_family=self.spec.family != "auto",
                default_bos_token_id=self.facts.forced_bos_token_id,
            )
        return self._plans[target_lang]

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        """Source length of each text exactly as generate_batch encodes it."""
        return [len(ids) for ids in self._encode(texts, self.lang_plan(target_lang))]

    def source_tokens(self, texts: Sequence[str], target_lang: str | None) -> list[list[str]]:
        """The token strings handed to CTranslate2: the HF tokenizer's ids, as tokens."""
        rows = self._encode(texts, self.lang_plan(target_lang))
        return [self.tokenizer.convert_ids_to_tokens(ids) for ids in rows]

    def target_prefix(self, target_lang: str | None) -> str | None:
        """The forced first target token (language code, or BART-CNN's ``<s>``), if any."""
        bos = self.lang_plan(target_lang).forced_bos_token_id
        return None if bos is None else str(self.tokenizer.convert_ids_to_tokens(bos))

    def generate_batch(
        self, texts: Sequence[str], target_lang: str | None, settings: GenerationSettings
    ) -> list[str]:
        """One translate_batch call; one output per input, in order."""
        if not texts:
            return []
        sources = self.source_tokens(texts, target_lang)
        limit = self.facts.max_input
        too_long = [i for i, s in enumerate(sources) if len(s) > limit]
        if too_long:
            raise ValueError(
                f"{len(too_long)} input(s) longer than {limit} tokens for {self.spec.model} "
                f"(first: #{too_long[0]}, {len(sources[too_long[0]])} tokens); split them first"
            )
        prefix = self.target_prefix(target_lang)
        out: list[str] = [""] * len(texts)
        for budget, idx in self._budget_groups([len(s) for s in sources], settings):
            results = self._translate([sources[i] for i in idx], [prefix] * len(idx), settings,
                                      budget)
            for i, text in zip(idx, self._finish(results, [prefix] * len(idx), budget),
                               strict=True):
                out[i] = text
        return out

    def _budget_groups(self, lengths: Sequence[int], settings: GenerationSettings
                       ) -> list[tuple[int, list[int]]]:
        return budget_groups([min(settings.budget(n), self.facts.decoder_limit) for n in lengths])

    def _finish(self, results: Any, prefixes: Sequence[str | None], budget: int) -> list[str]:
        """Decoded texts; one that did not end on the end token stopped at its budget and is
        flagged ``truncated`` (the end token is asked for in the results, then dropped)."""
        texts: list[str] = []
        for result, prefix in zip(results, prefixes, strict=True):
            tokens = list(result.hypotheses[0])
            ended = bool(tokens) and tokens[-1] in self.facts.end_tokens
            text = self._decode([tokens[:-1] if ended else tokens], prefix)[0]
            texts.append(text if ended else truncated(text, budget))
        return texts

    def generate_multi(
        self, texts: Sequence[str], target_langs: Sequence[str], settings: GenerationSettings
    ) -> dict[str, list[str]]:
        """All target languages of a batch in one translate_batch call.

        Each row carries its own language prefix and target prefix. CTranslate2 cannot hand an
        encoder's output to another call, so the encoder runs once per row and language; the
        gain is one call (one set of sub-batches) per batch instead of one per language.
        """
        if not texts:
            return {lang: [] for lang in target_langs}
        rows: list[list[str]] = []
        prefixes: list[str | None] = []
        for lang in target_langs:
            rows.extend(self.source_tokens(texts, lang))
            prefixes.extend([self.target_prefix(lang)] * len(texts))
        limit = self.facts.max_input
        if any(len(r) > limit for r in rows):
            raise ValueError(f"input longer than {limit} tokens for {self.spec.model}; split it first")
        n = len(texts)
        flat: list[str] = [""] * len(rows)
        for budget, idx in self._budget_groups([len(r) for r in rows], settings):
            group_prefixes = [prefixes[i] for i in idx]
            results = self._translate([rows[i] for i in idx], group_prefixes, settings, budget)
            for i, text in zip(idx, self._finish(results, group_prefixes, budget), strict=True):
                flat[i] = text
        return {lang: flat[i * n:(i + 1) * n] for i, lang in enumerate(target_langs)}

    def _translate(
        self, sources: list[list[str]], prefixes: list[str | None], settings: GenerationSettings,
        max_new: int,
    ) -> Any:
        target_prefix = [[p] if p else [] for p in prefixes] if any(prefixes) else None
        with call_errors(self.spec.model, len(sources)):
            seed_sampling(settings)
            return self.translator.translate_batch(
                sources, target_prefix=target_prefix, **self.decoding_options(settings, max_new)
            )

    # ------------------------------------------------------------------ helpers

    def decoding_options(self, settings: GenerationSettings, max_new_tokens: int) -> dict[str, Any]:
        """translate_batch options for one call, mirroring the HF backend's GenerationConfig."""
        pad = self.facts.pad_token
        return {
            **search_options(settings),
            "batch_type": "tokens",
            "max_batch_size": self.max_batch_tokens,
            "max_decoding_length": max_new_tokens,
            "min_decoding_length": min(settings.min_new_tokens, max_new_tokens),
            "suppress_sequences": [[pad]] if pad else None,
            "max_input_length": 0,  # never truncate: lengths are checked before
            "return_end_token": True,  # tells a finished output from one cut at its budget
        }

    def _encode(self, texts: Sequence[str], plan: families.LangPlan) -> list[list[int]]:
        if not texts:
            return []
        if plan.src_lang is not None and getattr(self.tokenizer, "src_lang", None) != plan.src_lang:
            self.tokenizer.src_lang = plan.src_lang
        encoded = self.tokenizer(
            [plan.prefix + text for text in texts],
            add_special_tokens=True, padding=False, truncation=False, verbose=False,
        )
        return [list(ids) for ids in encoded["input_ids"]]

    def _decode(self, hypotheses: list[list[str]], prefix: str | None) -> list[str]:
        rows = [h[1:] if prefix and h[:1] == [prefix] else h for h in hypotheses]
        kwargs: dict[str, Any] = {"skip_special_tokens": True, "clean_up_tokenization_spaces": True}
        if self.family == "marian":
            kwargs["use_source_tokenizer"] = False  # decode with the target spm, as HF does
        ids = [self.tokenizer.convert_tokens_to_ids(row) for row in rows]
        return [text.strip() for text in self.tokenizer.batch_decode(ids, **kwargs)]


def _load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*sacremoses")
            return AutoTokenizer.from_pretrained(str(path))
    except Exception as exc:  # any failure to read the files becomes one user-facing message
        raise ModelLoadError(f"cannot load the tokenizer in {path}: {exc}") from None


def _model_facts(spec: ModelSpec, path: Path, tokenizer: Any) -> _ModelFacts:
    """Family, input limit and special tokens, read the way the HF backend reads them."""
    from transformers import AutoConfig, GenerationConfig

    config = AutoConfig.from_pretrained(str(path))
    try:
        generation = GenerationConfig.from_pretrained(str(path)).to_dict()
    except OSError:  # no generation_config.json: v5 derives it from config.json
        generation = GenerationConfig.from_model_config(config).to_dict()
    family = spec.family if spec.family != "auto" else families.detect_family(tokenizer, config)
    positions = getattr(config, "max_position_embeddings", None)
    limits = [positions] if isinstance(positions, int) and positions > 0 else []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 100_000:
        limits.append(tok_max)
    pad_id = generation.get("pad_token_id", getattr(config, "pad_token_id", None))
    eos_id = generation.get("eos_token_id", getattr(config, "eos_token_id", None))
    eos_ids = eos_id if isinstance(eos_id, list) else [eos_id]
    # Padding is never generated (the HF backend bans it); Marian's pad is not in the CT2 vocab.
    pad = None
    if pad_id is not None and pad_id not in eos_ids and family != "marian":
        pad = str(tokenizer.convert_ids_to_tokens(pad_id))
    return _ModelFacts(
        family=family,
        max_input=spec.max_input_tokens or (min(limits) if limits else 512),
        decoder_limit=positions - 1 if isinstance(positions, int) and positions > 1 else 100_000,
        forced_bos_token_id=generation.get("forced_bos_token_id"),
        pad_token=pad,
        end_tokens=tuple(str(tokenizer.convert_ids_to_tokens(i)) for i in eos_ids if i is not None),
    )
