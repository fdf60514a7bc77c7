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

import os
import re
import sqlite3
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from summarize.export.run import ExportError, RunView, open_run
from summarize.export.xliff import (
    HUMAN_STATES,
    Exported,
    ReviewedSegment,
    digest,
    export_records,
)
from summarize.export.xliff_read import ReviewReader
from summarize.runs.memory import Memory
from summarize.runs.store import OutputDir, Run

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
    skipped: Counter[str] = field(default_factory=Counter)  # why -> segments (not kept)
    refused: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)
    stored: int = 0

    @property
    def refused_count(self) -> int:
        return sum(len(refs) for refs in self.refused.values())

    def lines(self, limit: int = 5) -> list[str]:
        """The report as printed: counts, then each reason with up to `limit` segments."""
        skipped = sum(self.skipped.values())
        out = [f"import {self.path} ({self.lang}), sources checked against run {self.run_id}"]
        out += [f"  note: {note}" for note in self.notes]
        out.append(f"  taken    {len(self.taken)} segment(s)")
        out.append(f"  skipped  {skipped} segment(s)")
        out += [f"    {count} {why}" for why, count in self.skipped.items()]
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


def _reference_run(od: OutputDir, path: Path, run_id: str | None) -> tuple[Run, list[str]]:
    """The run to check sources against, and a note when it is not the exported one."""
    runs = {run.run_id: run for run in od.runs()}
    if run_id and run_id in runs:  # matched by name: never a path from the file
        return runs[run_id], []
    latest = od.latest()
    if latest is None or not (latest.path / "manifest.json").is_file():
        raise ExportError(
            f"{path}: {od.root} has no run to check the English sources against "
            f"(the file names run {run_id!r})"
        )
    why = f"run {run_id!r} named by the file is not in {od.root}" if run_id else "the file names no run"
    return latest, [f"{why}; checked against the latest run {latest.run_id}"]


Place = tuple[str, str, int, int]  # article, part, para, sent
_ARTICLE_ID = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*\Z")  # as the readers make them


class _RunRecords:
    """The export records of the run's articles, loaded one article at a time as the file's
    segments ask for them (a file's segments come article by article)."""

    def __init__(self, view: RunView, lang: str):
        self.view = view
        self.lang = lang
        self._article: str | None = None
        self._records: dict[tuple[str, int, int], Exported] = {}

    def get(self, seg: ReviewedSegment) -> Exported | None:
        if seg.article_id != self._article:
            self._article = seg.article_id
            self._records = self._load(seg.article_id)
        return self._records.get((seg.part, seg.para, seg.sent))

    def _load(self, article_id: str) -> dict[tuple[str, int, int], Exported]:
        # The id comes from the file: only one the run's store could have written is looked up.
        if not _ARTICLE_ID.match(article_id):
            return {}
        if not os.path.isfile(os.path.join(self.view.articles_dir, f"{article_id}.json")):
            return {}
        return export_records(self.view.load(article_id), self.lang)


@dataclass
class _Candidate:
    """A segment that passed every check but the last: is its English a sentence of the run?"""

    seg: ReviewedSegment
    order: int  # its place in the file


def _known_sentences(view: RunView, wanted: set[str]) -> dict[str, str]:
    """The run's English sentences among `wanted` (NFC form -> exact text, the first found in
    id order), read one article at a time."""
    known: dict[str, str] = {}
    if not wanted:
        return known
    for doc in view.articles():
        for seg in doc.get("segments") or []:
            en = seg["en"]
            norm = unicodedata.normalize("NFC", en.strip())
            if norm in wanted:
                known.setdefault(norm, en)
    return known


def plan_import(path: Path, out: Path, *, dry_run: bool = False) -> ImportReport:
    """Read and judge a reviewed file against OUT's runs; stores nothing.

    The file is read one article at a time, and the run is only read where a segment needs
    it: an article's export records when the file lost them, and the English sentences a
    taken segment claims. What stays in memory is the taken segments and the reasons, not
    the file or the run.
    """
    reader = ReviewReader(path)
    od = OutputDir(Path(out))
    run, notes = _reference_run(od, reader.path, reader.run_id)
    view = open_run(run.path, require_complete=False)
    langs = view.configured_languages()
    if reader.lang not in langs:
        raise ExportError(
            f"{path}: trgLang {reader.lang!r} is not one of run {run.run_id}'s languages "
            f"({', '.join(langs) or 'none'})"
        )
    # Not the run the file came from: its records say nothing about this file.
    run_records = None if notes else _RunRecords(view, reader.lang)
    report = ImportReport(Path(path), reader.lang, run.run_id, dry_run, notes=notes)
    first_refusal: dict[str, int] = {}
    candidates: list[_Candidate] = []
    for order, seg in enumerate(reader.segments()):
        if not seg.target:
            report.skipped[SKIP_EMPTY] += 1
            continue
        rec = seg.exported
        if rec is None and run_records is not None:
            rec = run_records.get(seg)
        human = is_human(seg, rec)
        if human is False:
            report.skipped[SKIP_UNCHANGED] += 1
            continue
        why = None
        if human is None:
            why = REFUSE_NO_RECORD
        elif rec is not None and rec.source != digest(seg.source):
            why = REFUSE_SOURCE_EDITED
        if why is not None:
            first_refusal.setdefault(why, order)
            report.refused[why].append(seg.ref)
            continue
        candidates.append(_Candidate(seg, order))

    wanted = {unicodedata.normalize("NFC", c.seg.source) for c in candidates}
    known = _known_sentences(view, wanted)
    unknown = refuse_unknown_source(run.run_id)
    for c in candidates:
        english = known.get(unicodedata.normalize("NFC", c.seg.source))
        if english is None:
            first_refusal.setdefault(unknown, c.order)
            report.refused[unknown].append(c.seg.ref)
        else:
            report.taken.append((c.seg, english))
    # Reasons in the order the file first gave each, as when segments were judged in one go.
    report.refused = defaultdict(
        list, sorted(report.refused.items(), key=lambda item: first_refusal[item[0]])
    )
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
