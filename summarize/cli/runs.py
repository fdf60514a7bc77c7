"""`summarize runs`: list, show, diff and prune run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarize.cli.app import OutOpt, fail, runs_app
from summarize.errors import (
    SummarizeError,
)


@runs_app.command("list")
def runs_list(out: OutOpt = Path("outputs")) -> None:
    """Runs in OUT: id, status, articles ok/failed, start time, duration."""
    from rich.console import Console
    from rich.table import Table

    from summarize.runs.history import list_rows

    table = Table("run id", "status", "ok", "failed", "started", "duration", box=None)
    for r in list_rows(out):
        dur = f"{r['duration_s']}s" if r.get("duration_s") is not None else "-"
        rid = r["run_id"] + (" (latest)" if r.get("latest") else "")
        table.add_row(rid, str(r.get("status")), str(r.get("ok", "-")), str(r.get("failed", "-")),
                      str(r.get("started") or "-"), dur)
    Console(width=200).print(table)


@runs_app.command("show")
def runs_show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or prefix), 'latest' or a run folder.")],
    out: OutOpt = Path("outputs"),
) -> None:
    """The manifest of a run in readable form."""
    import json

    from summarize.runs.history import resolve_run, run_state

    try:
        m, status, why = run_state(resolve_run(out, run_ref))
    except SummarizeError as exc:
        fail(exc)
        return
    lines = [f"run       {m['run_id']}", f"status    {status}" + (f" ({why})" if why else ""),
             f"config    {m['config_hash'][:16]}", f"started   {m.get('started_at')}",
             f"finished  {m.get('finished_at')}", f"input     {m.get('inputs', {}).get('path')}"
             f" ({len(m.get('inputs', {}).get('files', []))} files)", "counts"]
    lines += [f"  {k:<18} {v}" for k, v in m.get("counts", {}).items()]
    lines.append("models")
    for e in m.get("models", []):
        rev = e.get("resolved_revision") or e.get("content_hash") or e.get("revision") or "-"
        lines.append(f"  {e['task']:<9} {e.get('target_lang') or 'en':<8} {e['model']} @ {str(rev)[:16]}"
                     f" [{e.get('backend')}, {e.get('device', '-')}, {e.get('dtype', '-')}]")
    lines.append("timings (s)")
    lines += [f"  {k:<18} {v:.2f}" for k, v in m.get("timings", {}).items()]
    lines.append("packages  " + json.dumps(m.get("packages", {})))
    typer.echo("\n".join(lines))


@runs_app.command("diff")
def runs_diff(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B")],
    out: OutOpt = Path("outputs"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Articles added, removed and changed (per language) from RUN_A to RUN_B."""
    import json

    from summarize.runs.history import diff_runs, resolve_run

    try:
        d = diff_runs(resolve_run(out, run_a), resolve_run(out, run_b))
    except SummarizeError as exc:
        fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(d.as_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(f"added   {len(d.added)}: {' '.join(d.added)}")
    typer.echo(f"removed {len(d.removed)}: {' '.join(d.removed)}")
    for lang, ids in d.changed.items():
        typer.echo(f"changed [{lang}] {len(ids)}: {' '.join(ids)}")


@runs_app.command("prune")
def runs_prune(
    keep: Annotated[int, typer.Option(help="How many of the newest runs to keep.")],
    out: OutOpt = Path("outputs"),
) -> None:
    """Delete old runs; never `latest`. Refused (exit 5) while a run is using OUT."""
    from summarize.runs.history import prune

    try:
        deleted = prune(out, keep)
    except SummarizeError as exc:
        fail(exc)
        return
    typer.echo(f"deleted {len(deleted)} run(s)" + "".join(f"\n  {r}" for r in deleted))
