"""`summarize run`: one batch into a run folder, with a closing summary."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli.app import DEFAULT_CONFIG, ExportFormat, OutOpt, app, fail, report_export
from summarize.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    ConfigError,
    SummarizeError,
)


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
    from summarize.config import load_config
    from summarize.pipeline.runner import RunOptions, run_batch
    from summarize.progress import make_progress

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
        fail(exc)
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
        fail(exc)
        return
    progress.close()
    _closing_summary(result.manifest, time.perf_counter() - t0, out)
    if export:
        from summarize.export import export_run

        assert to is not None
        try:
            report_export(export_run(result.run.path, export, to))
        except SummarizeError as exc:
            fail(exc)
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
