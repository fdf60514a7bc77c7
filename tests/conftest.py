"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

# Tests never download: set before huggingface_hub is first imported (it reads these at import).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny offline models, built once per session; the folder holding their config.yaml."""
    from summarize.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def hang_guard():
    """``with hang_guard(seconds):`` fails the test if the block runs longer.

    Not a speed test: the bound is generous (linear code takes well under a second where it is
    used; quadratic or exponential code takes minutes to hours), so noisy machines cannot make it
    flaky, but a regression to super-linear time fails instead of hanging the suite.
    """
    import contextlib
    import signal

    @contextlib.contextmanager
    def guard(seconds: float):
        def expired(signum, frame):
            raise TimeoutError(f"still running after {seconds}s: not linear time any more")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return guard
