"""A fast fake backend for runner tests: deterministic, script-correct output, call log."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from summarize.config import GenerationSettings, ModelSpec
from summarize.models.check import WARM_UP_TEXTS
from summarize.text.qa import traditional_chars

KEEP = re.compile(r"^[\[\(]?\d[\d.,%]*[\]\)]?[.,;:!?]*$|^\[\d+\]")
HANGUL = [chr(c) for c in range(0xAC00, 0xAC00 + 400)]
# Simplified only: the zh-Hans QA check flags Traditional characters (OpenCC t2s).
HAN = [c for c in map(chr, range(0x4E00, 0x4E00 + 600)) if not traditional_chars(c)][:400]


def fake_word(word: str, lang: str) -> str:
    alphabet = HANGUL if lang == "ko" else HAN
    h = hashlib.sha256(word.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in h[: 1 + len(word) // 3])


class FakeBackend:
    multi_target = False  # one language per call

    """Summary = first words of the source; translation = per-word fake Hangul/Han, digits and
    placeholders copied. ``calls`` logs (target_lang, texts) per generate_batch call, except
    the runner's warm-up call."""

    def __init__(self, spec: ModelSpec, window: int = 512, poison: str | None = None):
        self.spec = spec
        self.window = window
        self.poison = poison
        self.calls: list[tuple[str | None, list[str]]] = []

    def info(self) -> dict[str, Any]:
        return {"model": self.spec.model, "resolved_revision": "fake-rev", "backend": "fake",
                "device": "cpu", "dtype": "float32"}

    def max_input_tokens(self) -> int:
        return self.window

    def count_tokens(self, texts: Sequence[str], target_lang: str | None = None) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def generate_batch(self, texts: Sequence[str], target_lang: str | None,
                       settings: GenerationSettings) -> list[str]:
        if tuple(texts) != WARM_UP_TEXTS:
            self.calls.append((target_lang, list(texts)))
        for t in texts:
            if self.count_tokens([t])[0] > self.window:
                raise ValueError("input longer than the window")
            if self.poison and self.poison in t:
                raise RuntimeError("poisoned input")
        if target_lang is None:
            return [" ".join(t.split()[: max(3, settings.max_new_tokens // 10)]).rstrip(".") + "." for t in texts]
        out = []
        for t in texts:
            words = [w if KEEP.match(w) else fake_word(w, target_lang) for w in t.split()]
            sep = " " if target_lang == "ko" else ""
            out.append(sep.join(words) + ("." if target_lang == "ko" else "。"))
        return out


class FakeLoader:
    """Hands out one FakeBackend per distinct model spec and remembers them."""

    def __init__(self, windows: dict[str, int] | None = None, poison: str | None = None):
        self.windows = windows or {}
        self.poison = poison
        self.backends: dict[str, FakeBackend] = {}

    def __call__(self, spec: ModelSpec, device: str = "auto", dtype: str = "auto",
                 weights: bool = True) -> FakeBackend:
        if not weights:  # a tokenizer-only view: counts like the model, never generates here
            return FakeBackend(spec, self.windows.get(spec.model, 512), self.poison)
        if spec.model not in self.backends:
            self.backends[spec.model] = FakeBackend(spec, self.windows.get(spec.model, 512), self.poison)
        return self.backends[spec.model]

    def generated(self, model: str) -> list[str]:
        be = self.backends.get(model)
        return [t for _, texts in be.calls for t in texts] if be else []
