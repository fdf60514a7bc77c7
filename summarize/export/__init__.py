"""Exporters: turn a finished run folder into a Hugo site, i18next locales or XLIFF 2.0 files.

Exporters read only the run folder (manifest.json and articles/**.json) and write
deterministically (sorted ids and keys), so exporting the same run twice gives
byte-identical files and a re-export after a new run diffs cleanly. Files of
articles that are no longer in the run are left in place, never deleted.

Everything streams: articles are read one at a time in id order and each output
file is written as they come (into a temp file renamed into place at the end), so
memory does not grow with the number of articles; the review import reads a
reviewed file one <file> at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

from summarize.export.hugo import export_hugo
from summarize.export.i18next import export_i18next
from summarize.export.run import ExportError, ExportReport, RunView, open_run
from summarize.export.xliff import ReviewedSegment, ReviewFile, export_xliff
from summarize.export.xliff_read import read_review, read_xliff

Format = Literal["hugo", "i18next", "xliff"]
FORMATS: tuple[str, ...] = get_args(Format)

_EXPORTERS: dict[str, Callable[[RunView, Path, ExportReport], None]] = {
    "hugo": export_hugo,
    "i18next": export_i18next,
    "xliff": export_xliff,
}


def export_run(run: Path, fmt: Format, to: Path) -> ExportReport:
    """Export the run folder `run` (or an output folder's `latest` run) as `fmt` into `to`."""
    if fmt not in _EXPORTERS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    view = open_run(Path(run))
    to = Path(to)
    if to.exists() and not to.is_dir():
        raise ExportError(f"export target {to} exists and is not a folder")
    if to.resolve() == view.path.resolve() or view.path.resolve() in to.resolve().parents:
        raise ExportError(f"export target {to} is inside the run folder {view.path}")
    report = ExportReport(fmt=fmt, run_id=view.run_id, out=to)
    _EXPORTERS[fmt](view, to, report)
    return report


__all__ = [
    "FORMATS",
    "ExportError",
    "ExportReport",
    "Format",
    "ReviewFile",
    "ReviewedSegment",
    "RunView",
    "export_run",
    "open_run",
    "read_review",
    "read_xliff",
]
