"""Command-line interface: `summarize run | models | runs | export | import | eval`.

app.py holds the Typer app and maps SummarizeError to a message and an exit code; each command
module parses options and calls the layer below. Nothing heavy is imported before a command
runs, so `summarize --help` starts at once."""

from summarize.cli import evaluate, exchange, models, run, runs  # noqa: F401 (registers the commands)
from summarize.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
