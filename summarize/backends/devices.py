"""Device strings, dtype resolution and error classification shared by every backend.

``dtype: auto`` means the same thing on every backend:

| device | bf16 native (compute capability >= 8, or ROCm) | activations |
|--------|-----------------------------------------------|-------------|
| cpu    | -                                             | float32     |
| cuda   | yes                                           | bfloat16    |
| cuda   | no (V100, T4: bf16 only emulated, slow)       | float16     |

The transformers backend keeps its weights in that dtype; CTranslate2's ``quantization: auto``
stores int8 weights and computes with those activations (``int8_bfloat16``/``int8_float16``
on CUDA, ``int8`` on CPU).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from summarize.config import DEVICE_PATTERN
from summarize.errors import ConfigError


@dataclass(frozen=True)
class Device:
    """A validated device: kind (cpu, cuda, mps) and, for CUDA, the card's index."""

    kind: str
    index: int = 0

    def __str__(self) -> str:
        return f"cuda:{self.index}" if self.kind == "cuda" else self.kind


def parse_device(device: str) -> tuple[str, int | None]:
    """(kind, index or None) of a config device string; ConfigError when it is not one."""
    if not DEVICE_PATTERN.fullmatch(device):
        raise ConfigError(f"device {device!r} is not auto, cpu, cuda, cuda:N or mps")
    kind, _, index = device.partition(":")
    return kind, int(index) if index else None


def pick_device(device: str, cuda_count: int, mps: bool = False) -> Device:
    """The device to run on, given how many CUDA cards this process sees."""
    kind, index = parse_device(device)
    if kind == "auto":
        return Device("cuda", 0) if cuda_count > 0 else Device("cpu")
    if kind == "cuda":
        if cuda_count == 0:
            raise ConfigError(f"device {device} requested but CUDA is not available here")
        if (index or 0) >= cuda_count:
            raise ConfigError(
                f"device {device}: this machine has {cuda_count} CUDA device(s), "
                f"cuda:0 to cuda:{cuda_count - 1}"
            )
        return Device("cuda", index or 0)
    if kind == "mps" and not mps:
        raise ConfigError("device mps requested but MPS is not available here")
    return Device(kind)


def resolve_dtype(setting: str, device_kind: str, bf16_native: bool) -> str:
    """The activation dtype for a ``dtype`` setting (see the module's table)."""
    if setting != "auto":
        return setting
    if device_kind == "cuda":
        return "bfloat16" if bf16_native else "float16"
    return "float32"


def cuda_bf16_native(index: int) -> bool:
    """bf16 in hardware on CUDA card ``index`` (Ampere or newer, or any ROCm card)."""
    import torch

    if torch.version.hip:
        return True
    major, _minor = torch.cuda.get_device_capability(index)
    return major >= 8


# ---------------------------------------------------------------------- errors

# Messages of failures that are about the machine, never about one input.
_SYSTEMIC = re.compile(
    r"CUDA error|CUBLAS_STATUS|cuBLAS|CUDNN_STATUS|cuDNN error|device-side assert|NCCL|"
    r"cudaError|CUDA driver|no CUDA-capable device|CUDA kernel|illegal memory access|"
    r"libcu\w+\.so|libcudnn|ECC error|unspecified launch failure",
    re.IGNORECASE,
)
_OOM = re.compile(r"out of memory|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|"
                  r"failed to allocate", re.IGNORECASE)


def is_out_of_memory(exc: BaseException) -> bool:
    """A device allocation failure: torch's OutOfMemoryError, or a CUDA library's own."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and bool(_OOM.search(str(exc)))


def is_systemic(exc: BaseException) -> bool:
    """A failure of the install, driver or device: retrying other inputs cannot help."""
    if isinstance(exc, ImportError | MemoryError | NotImplementedError):
        return True
    return bool(_SYSTEMIC.search(f"{type(exc).__name__}: {exc}")) and not is_out_of_memory(exc)


def first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:limit]}" if text else type(exc).__name__


def describe(obj: Any) -> str:
    """``model on device`` for messages, from a backend's info()."""
    try:
        info = obj.info()
    except Exception:  # a backend that cannot even describe itself: name it by type
        return type(obj).__name__
    return f"{info.get('model')} on {info.get('device', '?')}"
