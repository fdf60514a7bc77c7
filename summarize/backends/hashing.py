"""Content hashes of model folders, for the run manifest."""

from __future__ import annotations

import hashlib
import os
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
    """sha256 of one file, memoised on (path, size, mtime) so reloading a model is cheap."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _memo:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        _memo[key] = digest.hexdigest()
    return _memo[key]


def content_hash(folder: Path) -> str:
    """sha256 over (name, sha256 of content) of every model file in a local folder."""
    digest = hashlib.sha256()
    for path in model_files(folder):
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def snapshot_hash(folder: Path) -> str:
    """Cheap content hash of a Hugging Face cache snapshot folder.

    Snapshot files are symlinks to blobs named by their hash (sha256 for LFS files such as
    weights, git sha1 for small files), so hashing the names of the targets identifies the
    content without reading gigabytes of weights. Falls back to reading a file that is not a
    link into the blob store.
    """
    digest = hashlib.sha256()
    for path in model_files(folder):
        target = Path(os.path.realpath(path))
        blob = target.name if target.parent.name == "blobs" else file_sha256(path)
        digest.update(f"{path.name}\0{blob}\n".encode())
    return digest.hexdigest()
