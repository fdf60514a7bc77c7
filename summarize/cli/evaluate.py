"""`summarize eval`: scores of one or more profiles on FLORES-200 or your references."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from summarize.cli.app import DEFAULT_CONFIG, OutOpt, app, fail
from summarize.errors import (
    EXIT_OK,
    EXIT_PARTIAL,
    ConfigError,
)


@app.command("eval")
def eval_cmd(
    config: Annotated[list[Path] | None, typer.Option("--config", "-c", help="YAML config; repeat to compare profiles (default: configs/default.yaml).")] = None,
    set_name: Annotated[Literal["flores200"] | None, typer.Option("--set", help="A shipped test set: flores200 (FLORES-200 devtest, 1012 sentences).")] = None,
    refs: Annotated[Path | None, typer.Option("--refs", help="Your references: JSONL with en and ko/zh-Hans, or summary with body/text/en.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N references.")] = None,
    out: OutOpt = Path("outputs"),
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the full report (scores, QA, outputs) here.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N (overrides the configs).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the table.")] = False,
) -> None:
    """Score profiles' translations (chrF, BLEU, QA flags) and summaries (ROUGE) against
    references, through the run's path and translation memory; exit 3 if some failed."""
    from rich.console import Console
    from rich.table import Table

    from summarize.config import load_config
    from summarize.progress import make_progress
    from summarize.quality.eval import (
        evaluate,
        failed_count,
        summary_rows,
        translation_rows,
    )
    from summarize.quality.references import flores200, read_references
    from summarize.runs.store import atomic_write, dump_json

    progress = None
    try:
        if (set_name is None) == (refs is None):
            raise ConfigError("give either --set flores200 or --refs FILE.jsonl")
        paths = config or [DEFAULT_CONFIG]
        if not config and not DEFAULT_CONFIG.exists():
            raise ConfigError("no --config given and configs/default.yaml not found here")
        configs = [(str(p), load_config(p, {"device": device})) for p in paths]
        references = flores200(limit) if refs is None else read_references(refs, limit)
        for bad in references.bad:
            typer.echo(f"skipped reference {bad.describe()}", err=True)
        progress = make_progress(quiet)
        report = evaluate(configs, references, out, progress)
    except Exception as exc:
        if progress is not None:
            progress.close()
        fail(exc)
        return
    progress.close()
    table = Table("config", "lang", "chrF", "BLEU", "QA flagged", "n", "model", "licence",
                  box=None, title=f"translation: {report['references']['set']}")
    for row in translation_rows(report):
        table.add_row(*row)
    console = Console(width=200)
    console.print(table)
    rows = summary_rows(report)
    if rows:
        summaries = Table("config", "ROUGE-1", "ROUGE-2", "ROUGE-L", "n", "model", "licence",
                          box=None, title="summaries (reference only: ROUGE F, stemmed)")
        for row in rows:
            summaries.add_row(*row)
        console.print(summaries)
    for c in report["configs"]:
        typer.echo(f"{c['config']}: segments {c['segments_computed']} computed, "
                   f"{c['segments_reused']} reused; {c['seconds']:.1f}s", err=True)
        if c["languages_not_in_config"]:
            typer.echo(f"  not scored (not in this config's languages): "
                       f"{', '.join(c['languages_not_in_config'])}", err=True)
    if references.bad:
        typer.echo(f"{len(references.bad)} reference line(s) skipped", err=True)
    failed = failed_count(report)
    if failed:
        typer.echo(f"{failed} segment(s)/summaries could not be generated and score as empty "
                   "(see the report's failures)", err=True)
    if json_path is not None:
        try:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(json_path, dump_json(report))
        except OSError as exc:
            fail(ConfigError(f"cannot write the report {json_path}: {exc.strerror or exc}"))
    raise typer.Exit(EXIT_PARTIAL if failed else EXIT_OK)
