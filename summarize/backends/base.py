"""The one interface every backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from summarize.config import GenerationSettings


class Flagged(str):
    """A generated output the backend could not make right (a chat reply still not a
    translation after its retry, or cut off at the token budget): the best text it got, with
    what is wrong in ``flag``. The run stores the flag with the text in the memory and puts it
    on the segment's QA (check ``llm_reply``), also when the text is reused."""

    flag: str

    def __new__(cls, text: str, flag: str) -> Flagged:
        obj = super().__new__(cls, text)
        obj.flag = flag
        return obj


def flag_of(output: object) -> str | None:
    """The flag of a Flagged output, None for any other."""
    return getattr(output, "flag", None)


def with_flag(text: str, flag: str | None) -> str:
    return Flagged(text, flag) if flag else text


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
