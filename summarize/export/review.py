"""`summarize import`: decide which segments of a reviewed XLIFF file are a human's work.

A segment is taken as a human translation when its target differs from what the
export wrote, or when the reviewer raised its state to `reviewed`/`final`. Both are
judged against the export record the file carries (see xliff.py). Where a review
tool dropped that record, the record is rebuilt from the run the file names (its
`sum:run`) when that run is still in OUT; failing that, a segment is taken only
when its state says a human reviewed it. Unchanged segments are skipped, so
exporting and re-importing an untouched file stores nothing.

The memory keys human translations by the unmasked English sentence, which is each
run's `segments[].en`. Sources are checked against the run the file was exported
from (its `sum:run`, looked up among OUT's run folders by name), or OUT's latest
run when that one is gone: a sentence that run does not have is reported, not stored.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from summarize.memory import Memory
from summarize.store import OutputDir, Run

from .run import ExportError, RunView, open_run
from .xliff import (
    HUMAN_STATES,
    Exported,
    ReviewedSegment,
    ReviewFile,
    digest,
    export_records,
    read_review,
)

# Reasons, as the report prints them.
SKIP_UNCHANGED = "unchanged since export"
SKIP_EMPTY = "no target"
REFUSE_NO_RECORD = (
    "no export record to compare with (a tool dropped summarize's data, and the run it "
    "came from is not in the output folder); set the state to reviewed or final to import it"
)
REFUSE_SOURCE_EDITED = "the English source was edited in the file"
REFUSE_CONFLICT = "other segments give the same English sentence a different translation"


def refuse_unknown_source(run_id: str) -> str:
    return f"English source is not a sentence of run {run_id}"


@dataclass
class ImportReport:
    """What an import took, skipped and refused (by reason), and what it stored."""

    path: Path
    lang: str
    run_id: str  # the run the sources were checked against
    dry_run: bool
    taken: list[tuple[ReviewedSegment, str]] = field(default_factory=list)  # (segment, English)
    skipped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)
    stored: int = 0

    @property
    def refused_count(self) -> int:
        return sum(len(refs) for refs in self.refused.values())

    def lines(self, limit: int = 5) -> list[str]:
        """The report as printed: counts, then each reason with up to `limit` segments."""
        skipped = sum(len(refs) for refs in self.skipped.values())
        out = [f"import {self.path} ({self.lang}), sources checked against run {self.run_id}"]
        out += [f"  note: {note}" for note in self.notes]
        out.append(f"  taken    {len(self.taken)} segment(s)")
        out.append(f"  skipped  {skipped} segment(s)")
        out += [f"    {len(refs)} {why}" for why, refs in self.skipped.items()]
        out.append(f"  refused  {self.refused_count} segment(s)")
        for why, refs in self.refused.items():
            more = f", … {len(refs) - limit} more" if len(refs) > limit else ""
            out.append(f"    {len(refs)} {why}: {'; '.join(refs[:limit])}{more}")
        if self.dry_run:
            out.append("dry run: nothing stored")
        else:
            out.append(f"stored {self.stored} human translation(s)")
        return out


def is_human(seg: ReviewedSegment, rec: Exported | None) -> bool | None:
    """True: a human's work; False: unchanged; None: no export record to tell."""
    raised = seg.state in HUMAN_STATES
    if rec is None:
        return True if raised else None
    edited = rec.target != digest(seg.target)
    return edited or (raised and rec.state not in HUMAN_STATES)


def _reference_run(od: OutputDir, review: ReviewFile) -> tuple[Run, list[str]]:
    """The run to check sources against, and a note when it is not the exported one."""
    runs = {run.run_id: run for run in od.runs()}
    if review.run_id and review.run_id in runs:  # matched by name: never a path from the file
        return runs[review.run_id], []
    latest = od.latest()
    if latest is None or not (latest.path / "manifest.json").is_file():
        raise ExportError(
            f"{review.path}: {od.root} has no run to check the English sources against "
            f"(the file names run {review.run_id!r})"
        )
    why = (
        f"run {review.run_id!r} named by the file is not in {od.root}"
        if review.run_id
        else "the file names no run"
    )
    return latest, [f"{why}; checked against the latest run {latest.run_id}"]


Place = tuple[str, str, int, int]  # article, part, para, sent


def _scan_run(view: RunView, lang: str) -> tuple[dict[str, str], dict[Place, Exported]]:
    """The run's English sentences (NFC form -> exact text) and its export records."""
    known: dict[str, str] = {}
    records: dict[Place, Exported] = {}
    for doc in view.articles():
        for seg in doc.get("segments") or []:
            en = seg["en"]
            known.setdefault(unicodedata.normalize("NFC", en.strip()), en)
        for (part, para, sent), rec in export_records(doc, lang).items():
            records[(doc["id"], part, para, sent)] = rec
    return known, records


def plan_import(path: Path, out: Path, *, dry_run: bool = False) -> ImportReport:
    """Read and judge a reviewed file against OUT's runs; stores nothing."""
    review = read_review(path)
    od = OutputDir(Path(out))
    run, notes = _reference_run(od, review)
    view = open_run(run.path, require_complete=False)
    langs = view.configured_languages()
    if review.lang not in langs:
        raise ExportError(
            f"{path}: trgLang {review.lang!r} is not one of run {run.run_id}'s languages "
            f"({', '.join(langs) or 'none'})"
        )
    known, run_records = _scan_run(view, review.lang)
    if notes:  # not the run the file came from: its records say nothing about this file
        run_records = {}
    report = ImportReport(Path(path), review.lang, run.run_id, dry_run, notes=notes)
    for seg in review.segments:
        if not seg.target:
            report.skipped[SKIP_EMPTY].append(seg.ref)
            continue
        rec = seg.exported or run_records.get((seg.article_id, seg.part, seg.para, seg.sent))
        human = is_human(seg, rec)
        if human is False:
            report.skipped[SKIP_UNCHANGED].append(seg.ref)
            continue
        if human is None:
            report.refused[REFUSE_NO_RECORD].append(seg.ref)
            continue
        if rec is not None and rec.source != digest(seg.source):
            report.refused[REFUSE_SOURCE_EDITED].append(seg.ref)
            continue
        english = known.get(unicodedata.normalize("NFC", seg.source))
        if english is None:
            report.refused[refuse_unknown_source(run.run_id)].append(seg.ref)
            continue
        report.taken.append((seg, english))
    _refuse_conflicts(report)
    return report


def _refuse_conflicts(report: ImportReport) -> None:
    """One English sentence has one translation per language: contradicting reviews go back."""
    targets: dict[str, set[str]] = defaultdict(set)
    for seg, english in report.taken:
        targets[english].add(seg.target)
    clash = {english for english, found in targets.items() if len(found) > 1}
    for seg, english in report.taken:
        if english in clash:
            report.refused[REFUSE_CONFLICT].append(seg.ref)
    report.taken = [(seg, english) for seg, english in report.taken if english not in clash]


def import_review(path: Path, out: Path, *, dry_run: bool = False) -> ImportReport:
    """Judge a reviewed XLIFF file and, unless `dry_run`, store what it takes in OUT's memory."""
    report = plan_import(path, out, dry_run=dry_run)
    if dry_run or not report.taken:
        return report
    od = OutputDir(Path(out))
    rows = {
        (english, seg.lang): (english, seg.lang, seg.target, f"{report.path.name}: {seg.ref}")
        for seg, english in report.taken
    }
    od.lock()
    try:
        mem = Memory(od.memory_path)
        try:
            report.stored = mem.put_human(rows.values())
        finally:
            mem.close()
    except sqlite3.Error as exc:
        raise ExportError(f"cannot store reviewed translations in {od.memory_path}: {exc}") from None
    finally:
        od.unlock()
    return report
