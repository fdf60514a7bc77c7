"""Model backends. Heavy libraries are imported only when a backend is loaded.

A backend is registered in ``REGISTRY`` by the backend name a config uses and whether the model
is a chat model (``family: chat``) or a seq2seq one: the class's ``load(spec, device=, dtype=,
weights=)`` builds it. Adding one is a line here and a module; nothing else chooses."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from summarize.backends.base import Backend
    from summarize.config import ModelSpec

# (backend, chat model?) -> "module:class"
REGISTRY: dict[tuple[str, bool], str] = {
    ("transformers", False): "summarize.backends.hf:HFBackend",
    ("transformers", True): "summarize.backends.chat:ChatBackend",
    ("ctranslate2", False): "summarize.backends.ct2:CT2Backend",
    ("ctranslate2", True): "summarize.backends.ct2_chat:CT2ChatBackend",
    # vLLM serves chat models only; its load refuses a seq2seq spec with a message.
    ("vllm", False): "summarize.backends.vllm_chat:VLLMChatBackend",
    ("vllm", True): "summarize.backends.vllm_chat:VLLMChatBackend",
}


def backend_class(backend: str, chat: bool) -> type:
    """The class registered for a backend name and model kind (imported now)."""
    module, _, name = REGISTRY[(backend, chat)].partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def load_backend(spec: ModelSpec, *, device: str = "auto", dtype: str = "auto",
                 weights: bool = True) -> Backend:
    """Load the model a spec names with the backend it asks for. ``weights=False`` gives a
    tokenizer-only view: token counts, input limit, language plan and ``info()`` (so the
    fingerprint) exactly as the loaded model's, without reading or converting its weights.
    ``backend: auto`` is resolved here (backends/auto.py); the backend keeps the resolved spec."""
    if spec.backend == "auto":
        from summarize.backends.auto import resolve

        spec = spec.model_copy(update={"backend": resolve(spec, device)})
    cls = backend_class(spec.backend, spec.family == "chat")
    return cls.load(spec, device=device, dtype=dtype, weights=weights)  # type: ignore[attr-defined,no-any-return]
