"""`summarize export` (Hugo, i18next, XLIFF) and `summarize import` (reviewed XLIFF)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarize.cli.app import ExportFormat, OutOpt, app, fail, report_export
from summarize.errors import (
    EXIT_OK,
    EXIT_PARTIAL,
    SummarizeError,
)


@app.command("export")
def export_cmd(
    run_ref: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder, or an output folder (its latest run).")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="hugo, i18next or xliff.")],
    to: Annotated[Path, typer.Option(help="Destination folder.")],
) -> None:
    """Export a finished run for a Hugo site, an i18next front end or XLIFF review."""
    from summarize.export import export_run

    try:
        report = export_run(run_ref, format, to)
    except SummarizeError as exc:
        fail(exc)
        return
    report_export(report)


@app.command("import")
def import_cmd(
    xliff: Annotated[Path, typer.Argument(metavar="FILE.xlf", help="A reviewed XLIFF 2.0 file.")],
    out: OutOpt = Path("outputs"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be taken; store nothing.")] = False,
) -> None:
    """Load reviewed translations into OUT's memory; they win over model output from now on.

    Only segments a reviewer changed (or marked reviewed/final) are taken; exit 3 when
    some were refused.
    """
    from summarize.export.review import import_review

    try:
        report = import_review(xliff, out, dry_run=dry_run)
    except Exception as exc:  # never a traceback; fail picks the exit code
        fail(exc)
        return
    typer.echo("\n".join(report.lines()))
    raise typer.Exit(EXIT_PARTIAL if report.refused_count else EXIT_OK)
