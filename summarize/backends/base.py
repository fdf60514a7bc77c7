"""The one interface every backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from summarize.config import GenerationSettings


class OutOfMemory(RuntimeError):
    """Raised by a backend when a batch did not fit on the device; the scheduler halves it."""


class Backend(Protocol):
    """A loaded seq2seq model.

    ``target_lang`` is a BCP-47 tag ("ko", "zh-Hans") for translation, or None to generate in
    the source language (summarisation). Model-specific language codes stay inside the backend.
    """

    def info(self) -> dict[str, Any]:
        """Manifest entry: model id, revision or local path + content hash, backend, device, dtype."""
        ...

    def max_input_tokens(self) -> int:
        """Longest source, in tokens (special tokens included), the model accepts."""
        ...

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        """Source length in tokens of each text, exactly as generate_batch would encode it."""
        ...

    def generate_batch(
        self, texts: Sequence[str], target_lang: str | None, settings: GenerationSettings
    ) -> list[str]:
        """One batched generate() call; returns one output per input, in order."""
        ...
