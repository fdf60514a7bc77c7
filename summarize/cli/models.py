"""`summarize models`: build the tiny offline models, check a profile's models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarize.cli.app import DEFAULT_CONFIG, fail, models_app
from summarize.errors import (
    SummarizeError,
)


@models_app.command("tiny")
def models_tiny(
    directory: Annotated[Path, typer.Argument(help="Where to write the tiny models and config.yaml.")],
) -> None:
    """Build tiny random-weight models offline (meaningless output) and DIR/config.yaml."""
    from summarize.tiny import build_tiny_models

    try:
        build_tiny_models(directory)
    except SummarizeError as exc:
        fail(exc)
    typer.echo(f"tiny models written to {directory}; run them with --config {directory / 'config.yaml'}")


@models_app.command("check")
def models_check(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: configs/default.yaml).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N (overrides the config).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
) -> None:
    """Load every model of a profile and score it on a built-in canary; exit 4 if one is broken."""
    import json

    from summarize.backends import load_backend
    from summarize.config import load_config
    from summarize.models.check import (
        check_summarizer,
        check_translator,
        failure_message,
        translator_groups,
    )
    from summarize.pipeline.runner import Models

    try:
        config_path = config if config is not None else DEFAULT_CONFIG
        cfg = load_config(config_path, {"device": device})
        models = Models(cfg, load_backend)
        verdicts = [check_summarizer(models.get(cfg.summarizer), cfg.summarizer, cfg,
                                     models.fingerprint(cfg.summarizer))]
        for spec, langs in translator_groups(cfg):
            verdicts += check_translator(models.get(spec), spec, langs, cfg, models.fingerprint(spec))
    except SummarizeError as exc:
        fail(exc)
        return
    except Exception as exc:
        fail(exc)
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
