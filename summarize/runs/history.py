"""`summarize runs ...`: list, show, diff and prune the run folders of an output folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from summarize.errors import SummarizeError
from summarize.runs.store import LockState, OutputDir, Run


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def resolve_run(out: Path, ref: str) -> Run:
    """A run by id, by unique id prefix, 'latest', or by path."""
    path = Path(ref)
    if (path / "manifest.json").exists():
        return Run(path.resolve())
    od = OutputDir(out)
    if ref == "latest":
        latest = od.latest()
        if latest is None:
            raise SummarizeError(f"{out} has no latest run")
        return latest
    matches = [r for r in od.runs() if r.run_id == ref] or [r for r in od.runs() if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SummarizeError(f"no run {ref!r} in {out}")
    raise SummarizeError(f"{ref!r} matches {len(matches)} runs in {out}; give more of the id")


def effective_status(manifest: dict[str, Any], lock: LockState) -> tuple[str | None, str | None]:
    """The status to show and, when it differs from the manifest's, why.

    A manifest still saying "running" whose process no longer holds the folder lock was
    killed (SIGKILL, power loss): it is interrupted, and the same `summarize run` resumes it."""
    status = manifest.get("status")
    if status != "running" or lock.owns(manifest):
        return status, None
    pid = manifest.get("pid")
    who = f"process {pid}" if pid else "its process"
    return "interrupted", f"manifest says running, but {who} no longer holds the output folder lock"


def run_state(run: Run) -> tuple[dict[str, Any], str | None, str | None]:
    """A run's manifest, the status to show and the reason it differs from the manifest's."""
    manifest = run.read_manifest()
    status, why = effective_status(manifest, OutputDir(run.path.parent).lock_state())
    return manifest, status, why


def list_rows(out: Path) -> list[dict[str, Any]]:
    od = OutputDir(out)
    latest = od.latest()
    lock = od.lock_state()
    rows = []
    for run in od.runs():
        try:
            m = run.read_manifest()
        except (OSError, json.JSONDecodeError):
            rows.append({"run_id": run.run_id, "status": "unreadable"})
            continue
        start, end = _parse_time(m.get("started_at")), _parse_time(m.get("finished_at"))
        counts = m.get("counts", {})
        row: dict[str, Any] = {
            "run_id": run.run_id,
            "status": effective_status(m, lock)[0],
            "ok": counts.get("articles_ok"),
            "failed": counts.get("articles_failed"),
            "started": m.get("started_at"),
            "duration_s": round((end - start).total_seconds(), 1) if start and end else None,
            "latest": latest is not None and latest.path == run.path,
        }
        rows.append(row)
    return rows


@dataclass
class RunDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # language -> article ids

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


def _texts(doc: dict[str, Any], lang: str) -> Any:
    if lang == "en":
        src = doc.get("source", {})
        return [src.get("title"), src.get("body"), doc.get("summary", {}).get("en")]
    tr = doc.get("translations", {}).get(lang, {})
    return [tr.get("title"), tr.get("body"), doc.get("summary", {}).get(lang)]


def diff_runs(a: Run, b: Run) -> RunDiff:
    ids_a, ids_b = set(a.iter_article_ids()), set(b.iter_article_ids())
    result = RunDiff(added=sorted(ids_b - ids_a), removed=sorted(ids_a - ids_b))
    langs = ["en", *sorted({lang for r in (a, b) for lang in r.read_manifest().get("config", {}).get("languages", [])})]
    for lang in langs:
        result.changed[lang] = []
    for aid in sorted(ids_a & ids_b):
        da, db = a.read_article(aid) or {}, b.read_article(aid) or {}
        for lang in langs:
            if _texts(da, lang) != _texts(db, lang):
                result.changed[lang].append(aid)
    return result


def prune(out: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` runs, never `latest`. Holds the folder lock, so a
    live run makes it fail (RunLockedError) and any manifest still saying "running" belongs
    to a killed process: such a run is interrupted and may go."""
    if keep < 0:
        raise SummarizeError("--keep must be 0 or more")
    od = OutputDir(out)
    if not od.root.is_dir():
        raise SummarizeError(f"output folder {out} does not exist")
    od.lock(hint="wait for it to finish, then prune again")
    try:
        latest = od.latest()
        runs = od.runs()
        deleted = []
        for run in runs[: max(0, len(runs) - keep)]:
            if latest is not None and latest.path == run.path:
                continue
            od.delete_run(run)
            deleted.append(run.run_id)
        return deleted
    finally:
        od.unlock()
