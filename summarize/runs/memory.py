"""Translation memory: every generated unit, keyed by what determines it, in SQLite (WAL)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from summarize.backends.base import flag_of, with_flag

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    lang TEXT NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    output TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    flag TEXT,  -- what the backend says is wrong with the output (backends.base.Flagged)
    run TEXT  -- the run that generated it: reuse within that run is not "memory" origin
);
CREATE TABLE IF NOT EXISTS human (
    source TEXT NOT NULL,
    lang TEXT NOT NULL,
    target TEXT NOT NULL,
    origin TEXT NOT NULL,
    imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (source, lang)
);
"""


def unit_key(task: str, lang: str, model_fp: str, settings_fp: str, source: str) -> str:
    """Everything that changes a generated unit goes into its key."""
    blob = json.dumps([task, lang, model_fp, settings_fp, source], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def fingerprint(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class Memory:
    """A small key-value store; each put commits, so a kill loses at most one batch."""

    def __init__(self, path: Path | None):
        self.path = path
        target = ":memory:" if path is None else str(path)
        self.conn = sqlite3.connect(target, timeout=60, isolation_level=None)
        if path is not None:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(units)")}
        if "flag" not in columns:  # a memory written before flags were stored
            self.conn.execute("ALTER TABLE units ADD COLUMN flag TEXT")
        if "run" not in columns:  # ... or before the generating run was
            self.conn.execute("ALTER TABLE units ADD COLUMN run TEXT")

    def close(self) -> None:
        self.conn.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Stored outputs by key; a flagged one comes back as a ``Flagged`` string."""
        return {key: output for key, (output, _) in self.get_many_with_run(keys).items()}

    def get_many_with_run(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Stored (output, generating run) by key."""
        out: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT key, output, flag, run FROM units WHERE key IN ({marks})", chunk)
            out.update((key, (with_flag(output, flag), run))
                       for key, output, flag, run in rows.fetchall())
        return out

    def put_many(self, rows: Iterable[tuple[str, str, str, str, str, str]],
                 run: str | None = None) -> None:
        """rows: (key, task, lang, model, source, output); one transaction. An output that is
        ``Flagged`` is stored with its flag; ``run`` names the run that generated them."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR REPLACE INTO units (key, task, lang, model, source, output, flag, run) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row[:5], str(row[5]), flag_of(row[5]), run) for row in rows],
            )

    def human_many(self, sources: Sequence[str], lang: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(sources), 500):
            chunk = list(sources[start:start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT source, target FROM human WHERE lang = ? AND source IN ({marks})",
                [lang, *chunk],
            )
            out.update(rows.fetchall())
        return out

    def put_human(self, rows: Iterable[tuple[str, str, str, str]]) -> int:
        """rows: (source, lang, target, origin). Returns how many were stored."""
        data = list(rows)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR REPLACE INTO human (source, lang, target, origin) VALUES (?, ?, ?, ?)",
                data,
            )
        return len(data)

    def human_stamp(self) -> str:
        """Changes whenever human translations are imported (a rerun then rebuilds articles)."""
        count, last = self.conn.execute("SELECT COUNT(*), MAX(imported_at) FROM human").fetchone()
        return f"{count}:{last or ''}"

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM units").fetchone()[0])
