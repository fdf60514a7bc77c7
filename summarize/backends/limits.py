"""How long an input may be: one rule for the model's input limit and the decoder's room,
and one check that refuses a batch holding an input over the limit (every backend)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SANE_MAX_LENGTH = 100_000  # tokenizers without a limit report int(1e30)
FALLBACK_MAX_INPUT = 512  # neither the config nor the tokenizer says


def model_input_limit(config: Any, tokenizer: Any) -> int:
    """Tokens a model takes in: the smaller of its position embeddings and the tokenizer's
    model_max_length (when that is a real number), else FALLBACK_MAX_INPUT."""
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < SANE_MAX_LENGTH:
        limits.append(tok_max)
    return min(limits) if limits else FALLBACK_MAX_INPUT


def decoder_limit(config: Any) -> int:
    """Most new tokens the decoder can take: its positions, less the decoder start token."""
    positions = getattr(config, "max_position_embeddings", None)
    return positions - 1 if isinstance(positions, int) and positions > 1 else SANE_MAX_LENGTH


def refuse_too_long(lengths: Sequence[int], limit: int, model: str, what: str = "input") -> None:
    """ValueError naming how many inputs (or prompts) exceed ``limit`` tokens and the first
    one: the scheduler isolates it and the segmenter should have split it."""
    too_long = [i for i, n in enumerate(lengths) if n > limit]
    if too_long:
        raise ValueError(
            f"{len(too_long)} {what}(s) longer than {limit} tokens for {model} "
            f"(first: #{too_long[0]}, {lengths[too_long[0]]} tokens); split them first"
        )
