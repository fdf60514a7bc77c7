"""The command-line app, its shared options and the error mapping: SummarizeError -> message
and exit code. The commands live in the sibling modules; no logic here."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from summarize.errors import (
    EXIT_INTERNAL,
    SummarizeError,
)

app = typer.Typer(
    help="Summarise English news articles and translate them into Korean and Simplified Chinese.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Model utilities.", no_args_is_help=True)
runs_app = typer.Typer(help="Inspect and manage run folders.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(runs_app, name="runs")

_state: dict[str, Any] = {"debug": False}

DEFAULT_CONFIG = Path("configs/default.yaml")
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder holding the runs.")]
ExportFormat = Literal["hugo", "i18next", "xliff"]


def fail(exc: BaseException) -> None:
    if _state["debug"]:
        traceback.print_exception(exc)
    code = exc.exit_code if isinstance(exc, SummarizeError) else EXIT_INTERNAL
    prefix = "error" if isinstance(exc, SummarizeError) else f"internal error ({type(exc).__name__})"
    typer.echo(f"{prefix}: {exc}", err=True)
    if not isinstance(exc, SummarizeError) and not _state["debug"]:
        typer.echo("run again with --debug for the traceback", err=True)
    raise typer.Exit(code)


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    _state["debug"] = debug

def report_export(report: Any) -> None:
    typer.echo(f"exported run {report.run_id} as {report.fmt} to {report.out}: "
               f"{report.articles} articles, {report.files_written} files", err=True)
    for line in report.skipped:
        typer.echo(f"  skipped {line}", err=True)
    for line in report.warnings:
        typer.echo(f"  warning: {line}", err=True)
