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
    from summarize.backends.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))
