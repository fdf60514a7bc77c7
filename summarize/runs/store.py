"""Run folders: atomic writes, the manifest, errors.jsonl, the `latest` pointer and the lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from summarize.errors import RunLockedError

TMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"
LATEST = "latest"
MEMORY_NAME = "memory.sqlite"
LOCK_TRIES = 5  # `runs list/show` probe the lock for an instant; a run retries rather than fail
LOCK_RETRY_S = 0.1


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def dump_json(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def new_run_id(config_hash: str, now: datetime | None = None) -> str:
    """Sortable by start time (UTC, to the microsecond), ending with a short config hash."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{config_hash[:8]}"


@dataclass
class Run:
    """One run folder: OUT/<run_id>/."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def errors_path(self) -> Path:
        return self.path / "errors.jsonl"

    def article_path(self, article_id: str) -> Path:
        # A lexical check (ids are sanitised to [A-Za-z0-9_-] components by the readers):
        # resolving symlinks here cost most of an unchanged rerun's time.
        root = os.path.join(os.path.abspath(self.path), "articles")
        target = os.path.normpath(os.path.join(root, f"{article_id}.json"))
        if not target.startswith(root + os.sep):
            raise ValueError(f"article id {article_id!r} would write outside the run folder")
        return Path(target)

    def read_manifest(self) -> dict[str, Any]:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """A manifest saying "running" records the writer's pid, so readers can tell the run
        that holds the folder lock from one whose process was killed."""
        if manifest.get("status") == "running":
            manifest = {**manifest, "pid": os.getpid()}
        atomic_write(self.manifest_path, dump_json(manifest))

    def write_article(self, doc: dict[str, Any]) -> None:
        atomic_write(self.article_path(doc["id"]), dump_json(doc))

    def share_article(self, other: Run, article_id: str) -> None:
        """This run's copy of ``other``'s article file, as a hard link: no data is written and
        each run folder stays complete on its own. Files are only ever replaced (atomic_write),
        never changed in place, so the runs cannot change each other's articles. A copy where
        the file system has no hard links."""
        source, target = other.article_path(article_id), self.article_path(article_id)
        try:
            try:
                os.link(source, target)
            except FileNotFoundError:  # the id's folder is not there yet
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(source, target)
            except FileExistsError:
                target.unlink()
                os.link(source, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            atomic_write(target, source.read_bytes())

    def read_article(self, article_id: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.article_path(article_id).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def iter_article_ids(self) -> Iterator[str]:
        root = self.path / "articles"
        for p in sorted(root.rglob("*.json")):
            if not p.name.startswith(TMP_PREFIX):
                yield p.relative_to(root).with_suffix("").as_posix()

    def reset_errors(self) -> None:
        atomic_write(self.errors_path, b"")

    def append_error(self, record: dict[str, Any]) -> None:
        with open(self.errors_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def remove_stray_temp_files(self) -> int:
        removed = 0
        for p in self.path.rglob(f"{TMP_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed += 1
        return removed


@dataclass(frozen=True)
class LockState:
    """The folder lock: held by a live process or free; `pid` is the holder's, when known."""

    held: bool
    pid: int | None

    def owns(self, manifest: dict[str, Any]) -> bool:
        """Whether a run whose manifest says "running" is alive: the lock is held and, where
        both pids are known, by the process that wrote the manifest."""
        writer = manifest.get("pid")
        return self.held and (writer is None or self.pid is None or writer == self.pid)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


class OutputDir:
    """OUT/: run folders, the `latest` symlink, the translation memory and the lock."""

    def __init__(self, root: Path):
        self.root = root
        self._lock_fd: int | None = None

    @property
    def memory_path(self) -> Path:
        return self.root / MEMORY_NAME

    def runs(self) -> list[Run]:
        if not self.root.is_dir():
            return []
        return [
            Run(p) for p in sorted(self.root.iterdir())
            if p.is_dir() and not p.is_symlink() and (p / "manifest.json").exists()
        ]

    def latest(self) -> Run | None:
        link = self.root / LATEST
        if not link.is_symlink() and not link.is_dir():
            return None
        return Run(link.resolve())

    def create_run(self, config_hash: str, manifest: dict[str, Any] | None = None) -> Run:
        """A new run folder that appears whole (with its manifest) or not at all."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            run_id = new_run_id(config_hash)
            final = self.root / run_id
            if final.exists():
                continue
            tmp = self.root / f"{TMP_PREFIX}{run_id}"
            (tmp / "articles").mkdir(parents=True)
            Run(tmp).write_manifest({**(manifest or {}), "run_id": run_id})
            os.rename(tmp, final)
            _fsync_dir(self.root)
            return Run(final)

    def remove_stray_temp_files(self) -> int:
        """Half-created run folders and temp files left by a killed process (hold the lock)."""
        removed = 0
        for p in self.root.glob(f"{TMP_PREFIX}*"):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            removed += 1
        return removed

    def point_latest(self, run: Run) -> None:
        """Switch OUT/latest to the run atomically (symlink to a temp name, then rename)."""
        tmp = self.root / f"{TMP_PREFIX}latest-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(run.path.name, tmp)
        os.replace(tmp, self.root / LATEST)
        _fsync_dir(self.root)

    def find_resumable(self, config_hash: str, inputs_digest: str) -> Run | None:
        """The newest unfinished run started with the same config and inputs, if any."""
        for run in reversed(self.runs()):
            try:
                m = run.read_manifest()
            except (OSError, json.JSONDecodeError):
                continue
            if m.get("status") in ("running", "interrupted", "failed") and (
                m.get("config_hash") == config_hash and m.get("inputs_digest") == inputs_digest
            ):
                return run
        return None

    def lock(self, hint: str = "wait for it to finish or use another --out") -> None:
        """Take the folder's exclusive lock; another live process holding it is an error."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(LOCK_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if attempt + 1 < LOCK_TRIES:
                    time.sleep(LOCK_RETRY_S)
                    continue
                holder = _read_pid(fd)
                os.close(fd)
                raise RunLockedError(
                    f"output folder {self.root} is in use by another summarize run"
                    f"{f' (pid {holder})' if holder else ''}; {hint}"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def lock_state(self) -> LockState:
        """Whether a live process holds the folder lock, without waiting for it.

        flock is released when its holder dies, so a free lock means no run is alive here,
        whatever the manifests say. The probe holds a shared lock for an instant (a run
        starting at that moment retries, see `lock`)."""
        if self._lock_fd is not None:
            return LockState(True, os.getpid())
        try:
            fd = os.open(self.root / LOCK_NAME, os.O_RDONLY)
        except FileNotFoundError:
            return LockState(False, None)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                return LockState(True, _read_pid(fd))
            fcntl.flock(fd, fcntl.LOCK_UN)
            return LockState(False, None)
        finally:
            os.close(fd)

    def delete_run(self, run: Run) -> None:
        shutil.rmtree(run.path)
