"""Content hashes of model folders, for the run manifest."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

# Files that change what a model computes: weights, configs, tokenizer files.
MODEL_FILE_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".json",
    ".model",
    ".spm",
    ".txt",
    ".vocab",
    ".tiktoken",
)
_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_memo: dict[tuple[str, int, int], str] = {}


def model_files(folder: Path) -> list[Path]:
    """The weight, config and tokenizer files directly in ``folder``, sorted by name."""
    return sorted(
        (
            p
            for p in Path(folder).iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name.endswith(MODEL_FILE_SUFFIXES)
        ),
        key=lambda p: p.name,
    )


def file_sha256(path: Path) -> str:
    """sha256 of a file's content.

    A file in a Hugging Face cache snapshot that links to a blob named by a sha256 (LFS files,
    i.e. the weights) is identified by that name without reading gigabytes; other files are
    read once per (path, size, mtime).
    """
    target = Path(os.path.realpath(path))
    if target.parent.name == "blobs" and _SHA256.fullmatch(target.name):
        return target.name
    st = target.stat()
    key = (str(target), st.st_size, st.st_mtime_ns)
    if key not in _memo:
        digest = hashlib.sha256()
        with target.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        _memo[key] = digest.hexdigest()
    return _memo[key]


def content_hash(folder: Path) -> str:
    """sha256 over (name, sha256 of content) of every model file in a folder.

    The same files give the same hash in a local folder and in a hub cache snapshot.
    """
    digest = hashlib.sha256()
    for path in model_files(folder):
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


# A cache snapshot is hashed like any folder; the name says where it is used.
snapshot_hash = content_hash
