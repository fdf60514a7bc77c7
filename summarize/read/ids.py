"""Record ids: sanitised into safe relative paths; the second record with a known id is refused."""


from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import unicodedata
from dataclasses import replace
from pathlib import Path

from summarize.read.common import MAX_ID_COMPONENT, Item
from summarize.records import BadRecord


class IdRegistry:
    """Sanitises ids and turns the second record with a known id into a BadRecord.

    The ids seen so far live in a SQLite table in a temp file (memory stays flat however many
    records there are); it is created on first use and deleted by `close`.
    """

    def __init__(self, workdir: Path | None) -> None:
        self._workdir = workdir
        self._db: sqlite3.Connection | None = None
        self._path: Path | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            if self._workdir is not None:
                self._workdir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix="summarize-ids-", suffix=".sqlite", dir=self._workdir
            )
            os.close(fd)
            self._path = Path(name)
            # One iterator uses it, possibly from another thread than the one that started it.
            self._db = sqlite3.connect(name, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=OFF")  # a scratch table: no journal files
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute(
                "CREATE TABLE ids (key TEXT PRIMARY KEY, origin TEXT NOT NULL) WITHOUT ROWID"
            )
        return self._db

    def admit(self, item: Item) -> Item:
        if isinstance(item, BadRecord):
            return item
        clean = sanitize_id(item.id)
        if not clean:
            return BadRecord(
                source=item.source,
                line=item.line,
                id=item.id,
                reason=f"id {item.id!r} is empty after removing unsafe characters",
            )
        db = self._connect()
        origin = item.source + (f":{item.line}" if item.line is not None else "")
        key = clean.casefold()
        if db.execute("INSERT OR IGNORE INTO ids VALUES (?, ?)", (key, origin)).rowcount == 0:
            (first,) = db.execute("SELECT origin FROM ids WHERE key = ?", (key,)).fetchone()
            return BadRecord(
                source=item.source,
                line=item.line,
                id=clean,
                reason=f"duplicate id {clean!r} (first seen in {first})",
            )
        return replace(item, id=clean)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None


# ---------------------------------------------------------------- ids


_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_DASH_RUN = re.compile(r"-{2,}")


def sanitize_id(raw: str) -> str:
    """Make `raw` a safe relative id: `[A-Za-z0-9_-]` components joined by `/`; "" if nothing is left.

    Accented Latin letters lose their accents; every other unsafe run (spaces,
    dots, `..`, backslashes, other scripts) becomes one `-`; components are
    trimmed of `-`, empty ones dropped, and cut to MAX_ID_COMPONENT characters.
    """
    folded = unicodedata.normalize("NFKD", raw)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    parts = []
    for component in folded.replace("\\", "/").split("/"):
        component = _DASH_RUN.sub("-", _UNSAFE_RUN.sub("-", component)).strip("-")
        component = component[:MAX_ID_COMPONENT].rstrip("-")
        if component:
            parts.append(component)
    return "/".join(parts)


