"""Progress reporting: a rich bar on a terminal, plain log lines otherwise, nothing when quiet."""

from __future__ import annotations

import sys
import time
from typing import IO, Any


class LogProgress:
    """Plain lines on stderr, at most one progress line every ``every`` seconds."""

    def __init__(self, stream: IO[str] | None = None, every: float = 10.0, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.every = every
        self.quiet = quiet
        self.totals: dict[str, int | None] = {}
        self.done: dict[str, int] = {}
        self._last = 0.0
        self._t0 = time.perf_counter()

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def start(self, phase: str, total: int | None = None) -> None:
        """Begin (or, started again, extend) a phase: totals add up over the run, so a phase
        started once per window counts the whole run's work, as its ``done`` does."""
        before = self.totals.get(phase)
        self.totals[phase] = before + total if before is not None and total is not None else total
        self.done.setdefault(phase, 0)

    def advance(self, phase: str, n: int = 1) -> None:
        self.done[phase] = self.done.get(phase, 0) + n
        now = time.perf_counter()
        if not self.quiet and now - self._last >= self.every:
            self._last = now
            parts = [f"{p} {d}" + (f"/{self.totals[p]}" if self.totals.get(p) else "")
                     for p, d in self.done.items()]
            self._print(f"[{now - self._t0:7.1f}s] " + ", ".join(parts))

    def log(self, message: str) -> None:
        if not self.quiet:
            self._print(message)

    def bad_record(self, message: str) -> None:
        self._print(f"error: {message}")

    def close(self) -> None:
        pass


class RichProgress(LogProgress):
    """A live bar for articles and segments with rate and ETA."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.bar.start()

    def start(self, phase: str, total: int | None = None) -> None:
        super().start(phase, total)
        if phase not in self.tasks:
            self.tasks[phase] = self.bar.add_task(phase, total=total, rate="")
        else:
            task = self.bar.tasks[self.tasks[phase]]
            new_total = (task.total or 0) + (total or 0) if total else task.total
            self.bar.update(self.tasks[phase], total=new_total)

    def advance(self, phase: str, n: int = 1) -> None:
        self.done[phase] = self.done.get(phase, 0) + n
        if phase not in self.tasks:
            self.start(phase)
        task_id = self.tasks[phase]
        self.bar.advance(task_id, n)
        speed = self.bar.tasks[task_id].speed
        self.bar.update(task_id, rate=f"{speed:.1f}/s" if speed else "")

    def log(self, message: str) -> None:
        self.bar.console.print(message, markup=False, highlight=False)

    def bad_record(self, message: str) -> None:
        self.bar.console.print(f"error: {message}", style="red", markup=False, highlight=False)

    def close(self) -> None:
        self.bar.stop()


def make_progress(quiet: bool) -> LogProgress:
    if quiet:
        return LogProgress(quiet=True)
    if sys.stderr.isatty():
        return RichProgress()
    return LogProgress()
