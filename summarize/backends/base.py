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

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        """Copies and pickles (a Ray batch result) keep the flag."""
        return str(self), self.flag


TRUNCATED = "truncated"  # QA check of an output cut at its new-token budget


def truncated(text: str, budget: int) -> Flagged:
    """An output that stopped at its budget of ``budget`` new tokens, not at its end."""
    return Flagged(text, f"{TRUNCATED}: the output reached its budget of {budget} new tokens")


def flag_check(flag: str) -> tuple[str, str]:
    """The QA check and detail a backend flag stands for: ``truncated`` for a cut output,
    ``llm_reply`` for anything a chat backend says about its reply."""
    check, sep, detail = flag.partition(": ")
    if sep and check == TRUNCATED:
        return TRUNCATED, detail
    return "llm_reply", flag


def budget_groups(budgets: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Row indices grouped by their own new-token budget, largest budget first. A generate()
    call holds one group: every row then stops at exactly its own budget, whatever its
    neighbours, for greedy and beam search alike."""
    groups: dict[int, list[int]] = {}
    for i, budget in enumerate(budgets):
        groups.setdefault(budget, []).append(i)
    return sorted(groups.items(), key=lambda item: -item[0])


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

    # Declared, not probed: True when the backend has ``generate_multi(texts, langs, settings)``
    # -> {lang: outputs}, several target languages of one batch in one call (the encoder run
    # once where the model allows it). The engines and the model check group languages then.
    multi_target: bool

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
