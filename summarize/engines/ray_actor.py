"""The Ray actor: one process that loads each model it is asked for once, checks it is the
model the driver fingerprinted, warms it up, and runs the local scheduler on each batch. Load
failures are answered, not raised, so the driver stops with the message instead of Ray retrying.
Outputs travel as plain values (a Flagged output as text and flag)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, cast

from summarize.backends.base import Backend, Flagged, flag_of
from summarize.backends.devices import first_line
from summarize.backends.scheduler import (
    drain,
    iter_generate_all,
    iter_generate_all_multi,
)
from summarize.config import BatchSettings, Config, GenerationSettings, ModelSpec
from summarize.engines.local import Lang
from summarize.errors import EngineError, SummarizeError
from summarize.models.check import Verdict, check_model, warm_up
from summarize.models.load import identity


def encode_output(output: Any) -> Any:
    """A generated output as plain data: a flagged text as [text, flag], {lang: ...} per
    language."""
    if isinstance(output, dict):
        return {lang: encode_output(o) for lang, o in output.items()}
    flag = flag_of(output)
    return [str(output), flag] if flag else output


def decode_output(output: Any) -> Any:
    if isinstance(output, dict):
        return {lang: decode_output(o) for lang, o in output.items()}
    if isinstance(output, list):
        return Flagged(output[0], output[1])
    return output


def last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return next((ln for ln in reversed(lines) if ":" in ln and not ln.startswith("File ")),
                lines[-1] if lines else type(exc).__name__)


def worker_error(exc: BaseException) -> SummarizeError:
    """One line for a failure Ray reports from a worker: the original exception's last line."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    if isinstance(cause, SummarizeError):
        return cause
    return EngineError(f"a Ray worker failed ({type(exc).__name__}): {last_line(exc)}")


class GenerateActor:
    """One actor of the run's pool. It loads each model the first time it is asked to
    (checking it is the model the driver fingerprinted, then warming it up) and keeps it for
    the run; each batch runs the local scheduler. Failures to load are answered, not raised,
    so the driver stops with the message instead of Ray retrying."""

    def __init__(self, loader: Callable[..., Backend], device: str, dtype: str,
                 threads: int | None = None, preload: Sequence[ModelSpec] = ()) -> None:
        import ray

        from summarize.backends.threads import configure

        configure(threads)  # process-wide, before any model loads

        ctx = ray.get_runtime_context()
        self.loader = loader
        self.device = device
        self.dtype = dtype
        self.about: dict[str, Any] = {"actor_id": ctx.get_actor_id(), "node_id": ctx.get_node_id(),
                                      "pid": os.getpid()}
        self.backends: dict[tuple[Any, ...], Backend] = {}
        self.views: dict[tuple[Any, ...], Backend] = {}  # tokenizer-only, for view_info
        self.fatal: dict[tuple[Any, ...], str] = {}
        # The run's views built now: this imports the models' code and reads their configs and
        # tokenizers (most of a worker's start-up) while the driver is still preparing. A
        # failure here is not an answer: view_info meets it again and reports it.
        for spec in preload:
            with contextlib.suppress(Exception):
                self._view(spec)

    def ready(self) -> dict[str, Any]:
        return self.about

    def _backend(self, spec: ModelSpec) -> Backend:
        if spec.backend == "auto":  # one load whether asked with the config's spec or resolved
            from summarize.backends.auto import resolve

            spec = spec.model_copy(update={"backend": resolve(spec, self.device)})
        if spec.key() not in self.backends:
            self.backends[spec.key()] = self.loader(spec, device=self.device, dtype=self.dtype)
        return self.backends[spec.key()]

    def _view(self, spec: ModelSpec) -> Backend:
        if spec.key() not in self.views:
            self.views[spec.key()] = self.loader(spec, device=self.device, dtype=self.dtype,
                                                 weights=False)
        return self.views[spec.key()]

    def view_info(self, spec: ModelSpec) -> dict[str, Any]:
        return self._view(spec).info()

    def check(self, spec: ModelSpec, langs: list[str] | None, config: Config, fp: str
              ) -> list[Verdict]:
        return check_model(self._backend(spec), spec, langs, config, fp)

    def load(self, spec: ModelSpec, expected: dict[str, Any], langs: list[Lang],
             settings: GenerationSettings) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            backend = self._backend(spec)
            info = backend.info()
            self.about["device"] = info.get("device")
            got = identity(info)
            if got != expected:
                diff = {k: (expected.get(k), got.get(k)) for k in got if got.get(k) != expected.get(k)}
                self.fatal[spec.key()] = (
                    f"{spec.model} on a worker ({info.get('device')}) is not the model the run "
                    f"fingerprinted: {diff} (planned, found); a cluster of mixed accelerators "
                    f"needs dtype set explicitly in the config")
            else:
                warm_up(backend, langs, settings)
        except SummarizeError as exc:
            self.fatal[spec.key()] = str(exc)
        except Exception as exc:
            self.fatal[spec.key()] = f"{spec.model}: cannot load on a Ray worker: {first_line(exc)}"
        if spec.key() in self.fatal:
            return {"fatal": self.fatal[spec.key()]}
        return {"model": spec.model, "device": self.about.get("device"),
                "seconds": time.perf_counter() - start}

    def run(self, spec: ModelSpec, langs: list[Lang], texts: list[str],
            settings: GenerationSettings, batching: BatchSettings) -> dict[str, Any]:
        if spec.key() in self.fatal:
            return {"fatal": self.fatal[spec.key()], "kind": "engine"}
        backend = self._backend(spec)
        start = time.perf_counter()
        try:
            if len(langs) > 1:
                schedule = iter_generate_all_multi(backend, texts, cast(list[str], langs), settings,
                                                   **batching.packing())
            else:
                schedule = iter_generate_all(backend, texts, langs[0], settings, **batching.packing())
            gen = drain(schedule, None)
        except SummarizeError as exc:
            return {"fatal": str(exc), "kind": "generation"}
        stats = getattr(backend, "device_stats", None)
        return {"langs": langs, "texts": texts, "outputs": [encode_output(o) for o in gen.outputs],
                "failures": gen.failures, "stats": asdict(gen.stats),
                "actor": {**self.about, "model": spec.model},
                "seconds": time.perf_counter() - start,
                "device_stats": stats(reset=False) if stats is not None else None}
