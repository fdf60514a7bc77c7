"""Model backends. Heavy libraries are imported only when a backend is loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from summarize.backends.base import Backend
    from summarize.config import ModelSpec


def load_backend(spec: ModelSpec, *, device: str = "auto", dtype: str = "auto",
                 weights: bool = True) -> Backend:
    """Load the model a spec names with the backend it asks for. ``weights=False`` gives a
    tokenizer-only view: token counts, input limit, language plan and ``info()`` (so the
    fingerprint) exactly as the loaded model's, without reading or converting its weights.
    ``backend: auto`` is resolved here (backends/auto.py); the backend keeps the resolved spec."""
    if spec.backend == "auto":
        from summarize.backends.auto import resolve

        spec = spec.model_copy(update={"backend": resolve(spec, device)})
    if spec.backend == "ctranslate2" and spec.family == "chat":
        from summarize.backends.ct2_chat import CT2ChatBackend

        return CT2ChatBackend.load(spec, device=device, dtype=dtype, weights=weights)
    if spec.backend == "vllm":
        from summarize.backends.vllm_chat import VLLMChatBackend

        return VLLMChatBackend.load(spec, device=device, dtype=dtype, weights=weights)
    if spec.backend == "ctranslate2":
        from summarize.backends.ct2 import CT2Backend

        return CT2Backend.load(spec, device=device, dtype=dtype, weights=weights)
    if spec.family == "chat":
        from summarize.backends.chat import ChatBackend

        return ChatBackend.load(spec, device=device, dtype=dtype, weights=weights)
    from summarize.backends.hf import HFBackend

    return HFBackend.load(spec, device=device, dtype=dtype, weights=weights)
