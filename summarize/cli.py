"""Command-line interface. Maps SummarizeError to a message and an exit code; no logic here."""

from __future__ import annotations

import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from .errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    ConfigError,
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


def _fail(exc: BaseException) -> None:
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


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@app.command()
def run(
    input: Annotated[Path, typer.Argument(help="A file or a folder of .md/.txt/.html/.jsonl/.csv articles.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: configs/default.yaml).")] = None,
    out: OutOpt = Path("outputs"),
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N (overrides the config).")] = None,
    dtype: Annotated[str | None, typer.Option(help="auto, float32, bfloat16, float16.")] = None,
    max_batch_tokens: Annotated[int | None, typer.Option(help="Padded source tokens per generate() call.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads the models compute with (default: OMP_NUM_THREADS, else one per core).")] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="Target language(s); repeat the option.")] = None,
    glossary: Annotated[Path | None, typer.Option(help="YAML glossary (overrides the config's).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read the translation memory.")] = False,
    fail_on_qa: Annotated[bool, typer.Option("--fail-on-qa", help="Count articles with QA flags as failed.")] = False,
    export: Annotated[ExportFormat | None, typer.Option(help="Also export the finished run.")] = None,
    to: Annotated[Path | None, typer.Option(help="Export destination (with --export).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the closing summary.")] = False,
    no_check: Annotated[bool, typer.Option("--no-check", help="Skip the model check on first use of a model version.")] = False,
    engine: Annotated[str | None, typer.Option(help="local (this process) or ray (actors on a Ray cluster); overrides the config.")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to join (implies --engine ray); default: RAY_ADDRESS, else a local Ray for the run.")] = None,
) -> None:
    """Summarise and translate a batch of articles into OUT/<run_id>/."""
    from .config import load_config
    from .progress import make_progress
    from .runner import RunOptions, run_batch

    try:
        if export and to is None:
            raise ConfigError("--export needs --to DIR")
        config_path = config if config is not None else DEFAULT_CONFIG
        if config is None and not config_path.exists():
            raise ConfigError("no --config given and configs/default.yaml not found here")
        overrides = {"device": device, "dtype": dtype, "batch.max_batch_tokens": max_batch_tokens,
                     "threads": threads,
                     "languages": lang or None, "glossary": str(glossary) if glossary else None,
                     "engine": "ray" if ray_address and engine is None else engine,
                     "ray.address": ray_address}
        cfg = load_config(config_path, overrides)
        opts = RunOptions(input=input, out=out, config=cfg, use_cache=not no_cache,
                          fail_on_qa=fail_on_qa, command=sys.argv, check_models=not no_check)
    except SummarizeError as exc:
        _fail(exc)
        return
    progress = make_progress(quiet)
    signal.signal(signal.SIGTERM, _sigterm)
    t0 = time.perf_counter()
    try:
        result = run_batch(opts, progress)
    except KeyboardInterrupt:
        progress.close()
        typer.echo("interrupted: run saved as 'interrupted'; run the same command again to resume",
                   err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        progress.close()
        _fail(exc)
        return
    progress.close()
    _closing_summary(result.manifest, time.perf_counter() - t0, out)
    if export:
        from .export import export_run

        assert to is not None
        try:
            _report_export(export_run(result.run.path, export, to))
        except SummarizeError as exc:
            _fail(exc)
    ok = result.manifest["status"] == "complete"
    raise typer.Exit(EXIT_PARTIAL if result.articles_failed or not ok else EXIT_OK)


def _closing_summary(manifest: dict[str, Any], seconds: float, out: Path) -> None:
    c = manifest["counts"]
    segments = c["segments_computed"]
    # Wall-clock: what the run cost, whatever the engine and however many workers it had.
    rate = f", {segments / seconds:.1f} segments/s" if seconds > 0 and segments else ""
    lines = [
        f"run {manifest['run_id']} {manifest['status']}: {c['articles_ok']} articles ok "
        f"({c.get('articles_unchanged', 0)} unchanged, shared with the previous run), "
        f"{c['articles_failed']} failed ({c['bad_records']} unreadable), "
        f"{c['articles_flagged']} with QA flags; segments {segments} computed, "
        f"{c['segments_reused']} reused, {c['segments_human']} human; {seconds:.1f}s{rate}",
        f"  -> {out / manifest['run_id']}",
    ]
    engines = _engines_line(manifest.get("models") or [])
    if engines:
        lines.append(engines)
    reuse = manifest.get("reuse") or {}
    if reuse.get("changes"):
        lines.append(f"  nothing shared with run {reuse['from']}: " + "; ".join(reuse["changes"]))
    if manifest.get("failure"):
        lines.append(f"  {manifest['failure']}")
    typer.echo("\n".join(lines), err=True)


def _engines_line(models: list[dict[str, Any]]) -> str:
    """``  engines: summary ctranslate2 (auto), ko ...; threads 2``: what ran each model."""
    parts = []
    for m in models:
        name = m.get("target_lang") or "summary"
        auto = " (auto)" if m.get("backend_setting") == "auto" else ""
        parts.append(f"{name} {m.get('backend')}{auto} on {m.get('device', '?')}")
    found = sorted({str(m["threads"]) for m in models if m.get("threads") is not None})
    threads = f"; threads {'/'.join(found)}" if found else ""
    return f"  engines: {', '.join(parts)}{threads}" if parts else ""


def _report_export(report: Any) -> None:
    typer.echo(f"exported run {report.run_id} as {report.fmt} to {report.out}: "
               f"{report.articles} articles, {report.files_written} files", err=True)
    for line in report.skipped:
        typer.echo(f"  skipped {line}", err=True)
    for line in report.warnings:
        typer.echo(f"  warning: {line}", err=True)


@models_app.command("tiny")
def models_tiny(
    directory: Annotated[Path, typer.Argument(help="Where to write the tiny models and config.yaml.")],
) -> None:
    """Build tiny random-weight models offline (meaningless output) and DIR/config.yaml."""
    from .backends.tiny import build_tiny_models

    try:
        build_tiny_models(directory)
    except SummarizeError as exc:
        _fail(exc)
    typer.echo(f"tiny models written to {directory}; run them with --config {directory / 'config.yaml'}")


@models_app.command("check")
def models_check(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: configs/default.yaml).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N (overrides the config).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
) -> None:
    """Load every model of a profile and score it on a built-in canary; exit 4 if one is broken."""
    import json

    from .backends import load_backend
    from .config import load_config
    from .modelcheck import check_summarizer, check_translator, failure_message, translator_groups
    from .runner import Models

    try:
        config_path = config if config is not None else DEFAULT_CONFIG
        cfg = load_config(config_path, {"device": device})
        models = Models(cfg, load_backend)
        verdicts = [check_summarizer(models.get(cfg.summarizer), cfg.summarizer, cfg,
                                     models.fingerprint(cfg.summarizer))]
        for spec, langs in translator_groups(cfg):
            verdicts += check_translator(models.get(spec), spec, langs, cfg, models.fingerprint(spec))
    except SummarizeError as exc:
        _fail(exc)
        return
    except Exception as exc:
        _fail(exc)
        return
    rows = [v.as_dict() for v in verdicts]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for r in rows:
            scores = ", ".join(f"{k} {v}" for k, v in r["scores"].items())
            verdict = "ok" if r["passed"] else "FAIL: " + "; ".join(r["problems"])
            typer.echo(f"{r['task']:<9} {r['lang']:<8} {r['model']}\n  {scores}\n  sample: "
                       f"{r['sample'][:100]}\n  {verdict}")
    failed = [r for r in rows if not r["passed"]]
    if failed:
        typer.echo(failure_message(failed), err=True)
        raise typer.Exit(4)


@runs_app.command("list")
def runs_list(out: OutOpt = Path("outputs")) -> None:
    """Runs in OUT: id, status, articles ok/failed, start time, duration."""
    from rich.console import Console
    from rich.table import Table

    from .runs import list_rows

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

    from .runs import resolve_run, run_state

    try:
        m, status, why = run_state(resolve_run(out, run_ref))
    except SummarizeError as exc:
        _fail(exc)
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

    from .runs import diff_runs, resolve_run

    try:
        d = diff_runs(resolve_run(out, run_a), resolve_run(out, run_b))
    except SummarizeError as exc:
        _fail(exc)
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
    from .runs import prune

    try:
        deleted = prune(out, keep)
    except SummarizeError as exc:
        _fail(exc)
        return
    typer.echo(f"deleted {len(deleted)} run(s)" + "".join(f"\n  {r}" for r in deleted))


@app.command("export")
def export_cmd(
    run_ref: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder, or an output folder (its latest run).")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="hugo, i18next or xliff.")],
    to: Annotated[Path, typer.Option(help="Destination folder.")],
) -> None:
    """Export a finished run for a Hugo site, an i18next front end or XLIFF review."""
    from .export import export_run

    try:
        report = export_run(run_ref, format, to)
    except SummarizeError as exc:
        _fail(exc)
        return
    _report_export(report)


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
    from .export.review import import_review

    try:
        report = import_review(xliff, out, dry_run=dry_run)
    except Exception as exc:  # never a traceback; _fail picks the exit code
        _fail(exc)
        return
    typer.echo("\n".join(report.lines()))
    raise typer.Exit(EXIT_PARTIAL if report.refused_count else EXIT_OK)


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

    from .config import load_config
    from .eval import (
        evaluate,
        failed_count,
        flores200,
        read_references,
        summary_rows,
        translation_rows,
    )
    from .progress import make_progress
    from .store import atomic_write, dump_json

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
        _fail(exc)
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
            _fail(ConfigError(f"cannot write the report {json_path}: {exc.strerror or exc}"))
    raise typer.Exit(EXIT_PARTIAL if failed else EXIT_OK)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
