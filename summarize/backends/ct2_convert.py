"""CTranslate2 conversion: the Hugging Face model a spec names (local folder or pinned hub
snapshot), converted once per quantization into a cache keyed by its content, under a lock,
with a marker that says the conversion finished."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.backends.hashing import content_hash, snapshot_hash
from summarize.backends.sources import hub_offline, local_model_folder
from summarize.config import ModelSpec
from summarize.errors import ModelLoadError

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
            marker = {**expected, "source_path": str(source.path), "ctranslate2": ct2_version()}
            (tmp / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final, True


def ct2_version() -> str:
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
            f"ctranslate2 {ct2_version()} cannot convert {name} "
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
