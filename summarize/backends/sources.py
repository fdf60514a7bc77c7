"""Where a model spec's files come from: a local folder, or the hub (offline-aware)."""

from __future__ import annotations

import os
from pathlib import Path

from summarize.config import ModelSpec
from summarize.errors import ModelLoadError


def hub_offline() -> bool:
    """HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE, read now rather than at hub import time."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any(
        (v or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for v in flags
    )


def looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", ".\\")) or model.count("/") > 1 or "\\" in model


def local_model_folder(spec: ModelSpec) -> Path | None:
    """The spec's local model folder, None for a hub id; ModelLoadError for a bad path."""
    path = Path(spec.model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {path} has no config.json: it must hold a transformers model saved "
                f"with save_pretrained (config.json, weights and tokenizer files)"
            )
        return path.resolve()
    if path.exists() or looks_like_path(spec.model):
        what = "is not a folder" if path.exists() else "does not exist"
        raise ModelLoadError(
            f"model folder {spec.model} {what}; check the model: path in the config (relative "
            f"paths start with ./ and are relative to the config file)"
        )
    return None
