"""Model backends. Heavy libraries are imported only when a backend is loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from summarize.backends.base import Backend
    from summarize.config import ModelSpec


def load_backend(spec: ModelSpec, *, device: str = "auto", dtype: str = "auto") -> Backend:
    """Load the model a spec names with the backend it asks for."""
    if spec.backend == "ctranslate2" and spec.family == "chat":
        from summarize.backends.ct2_chat import CT2ChatBackend

        return CT2ChatBackend.load(spec, device=device, dtype=dtype)
    if spec.backend == "ctranslate2":
        from summarize.backends.ct2 import CT2Backend

        return CT2Backend.load(spec, device=device, dtype=dtype)
    if spec.family == "chat":
        from summarize.backends.chat import ChatBackend

        return ChatBackend.load(spec, device=device, dtype=dtype)
    from summarize.backends.hf import HFBackend

    return HFBackend.load(spec, device=device, dtype=dtype)
