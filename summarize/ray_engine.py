"""The ray engine: generation on a Ray cluster through Ray Data.

The driver (this process) reads, segments, looks up the translation memory and writes articles
as with the local engine, holding only tokenizer-only views of the models. The texts still to
generate are packed into batches by the same token budget, and each batch becomes one row of a
Ray Dataset mapped by a pool of actors, each holding one copy of the model (one GPU each with
``gpus_per_actor: 1``). An actor runs the local scheduler on its batch, so out-of-memory
halving, bisection down to a bad input and the canary probe work as on one machine. Results
stream back as batches finish and the driver stores each one at once (SQLite, one writer).

Ray restarts an actor that dies and retries its batch. A systemic failure (an actor that cannot
load or warm up its model, a device or library error, a worker whose model precision differs
from the one the driver fingerprinted) stops the run with one message and exit code 4.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import urlparse

from .backends.base import Backend, Flagged, flag_of
from .backends.devices import first_line
from .config import Config, GenerationSettings, ModelSpec
from .engine import BatchResult, Lang, per_language, shared_texts
from .errors import EngineError, GenerationError, SummarizeError
from .modelcheck import Verdict, check_model, warm_up
from .models import identity
from .scheduler import (
    DEFAULT_MAX_HYPOTHESES,
    BatchStats,
    drain,
    iter_generate_all,
    iter_generate_all_multi,
    pack,
    texts_per_call,
)

CONNECT_TIMEOUT_S = 5.0


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineError("engine ray needs Ray: pip install 'summarize[ray]'") from None
    return ray


def _reachable(address: str) -> tuple[str, int] | None:
    """(host, port) of a Ray address that names one, else None ("auto", "local")."""
    parsed = urlparse(address if "://" in address else f"gcs://{address}")
    if parsed.hostname is None or parsed.port is None:
        return None
    return parsed.hostname, parsed.port


def _quiet_ray_data() -> None:
    """Progress is the run's own: no Ray Data progress bars or per-dataset log lines."""
    import logging

    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


class RayEngine:
    """Generation on Ray actors (see the module docstring). ``loader`` is what the actors load
    models with (``summarize.backends.load_backend``, or a test's)."""

    def __init__(self, config: Config, loader: Callable[..., Backend]):
        self.config = config
        self.settings = config.ray
        self.loader = loader
        self._started_here = False
        self.address: str | None = None
        self.actors: dict[str, dict[str, Any]] = {}
        self._infos: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.datasets = 0
        self.seconds = 0.0

    # ------------------------------------------------------------------ cluster

    def start(self) -> None:
        """Join the cluster named by ``ray.address`` or RAY_ADDRESS, or start a local Ray for
        this run; a Ray already running in this process (a notebook, the tests) is used as is."""
        ray = _ray()
        if ray.is_initialized():
            self.address = "this process's Ray"
        else:
            self.address = self.settings.address or os.environ.get("RAY_ADDRESS") or None
            self._connect(ray)
        _quiet_ray_data()
        self._check_resources(ray)

    def _connect(self, ray: Any) -> None:
        address = self.address
        if address:
            target = _reachable(address)
            if target is not None:
                # ray.init waits minutes for a GCS that is not there; a TCP connect says it
                # in seconds.
                try:
                    socket.create_connection(target, timeout=CONNECT_TIMEOUT_S).close()
                except OSError as exc:
                    raise EngineError(
                        f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
                        f"(is `ray start --head` running there, and the port open?)") from None
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="WARNING")
            else:
                ray.init(num_cpus=self.settings.num_cpus,
                         object_store_memory=self.settings.object_store_memory,
                         include_dashboard=False, log_to_driver=False, logging_level="WARNING")
                self._started_here = True
        except Exception as exc:  # Ray raises several types; each is this one user message
            where = f"join the Ray cluster at {address}" if address else "start a local Ray"
            raise EngineError(f"cannot {where}: {first_line(exc)}") from None

    def _check_resources(self, ray: Any) -> None:
        """An actor pool the cluster cannot hold would wait forever: say so instead."""
        total = ray.cluster_resources()
        need = {"CPU": self.settings.actors * self.settings.cpus_per_actor,
                "GPU": self.settings.actors * self.settings.gpus_per_actor}
        short = [f"{need[k]:g} {k}s (the cluster has {total.get(k, 0):g})"
                 for k in need if need[k] > total.get(k, 0)]
        if short:
            raise EngineError(
                f"the Ray cluster cannot hold {self.settings.actors} actors per model: they need "
                f"{' and '.join(short)}; lower ray.actors or the per-actor resources")

    def close(self) -> None:
        if self._started_here:
            _ray().shutdown()
            self._started_here = False

    def report(self) -> dict[str, Any]:
        ray = _ray()
        nodes = []
        if ray.is_initialized():
            for node in ray.nodes():
                if node.get("Alive"):
                    res = node.get("Resources", {})
                    nodes.append({"node_id": node.get("NodeID"), "address": node.get("NodeManagerAddress"),
                                  "cpus": res.get("CPU", 0), "gpus": res.get("GPU", 0)})
        return {"engine": "ray", "address": self.address or "local Ray for this run",
                "ray_version": ray.__version__, "nodes": nodes,
                "gpus": sum(n["gpus"] for n in nodes), "actors_per_model": self.settings.actors,
                "cpus_per_actor": self.settings.cpus_per_actor,
                "gpus_per_actor": self.settings.gpus_per_actor, "datasets": self.datasets,
                "seconds": round(self.seconds, 3), "actors": list(self.actors.values())}

    # ------------------------------------------------------------------ models on workers

    def worker_device(self) -> str:
        if self.settings.gpus_per_actor > 0 and self.config.device in ("auto", "cpu"):
            return "cuda"
        return self.config.device

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_cpus": self.settings.cpus_per_actor}
        if self.settings.gpus_per_actor > 0:
            opts["num_gpus"] = self.settings.gpus_per_actor
        return opts

    def _remote(self, fn: Callable[..., Any], *args: Any) -> Any:
        ray = _ray()
        try:
            return ray.get(ray.remote(fn).options(max_retries=1, **self._options()).remote(*args))
        except Exception as exc:
            raise _worker_error(exc) from None

    def info_of(self, spec: ModelSpec) -> dict[str, Any]:
        """The model's ``info()`` as a worker will run it (precision depends on its device),
        from a tokenizer-only view built on a worker: no weights are read for it."""
        if spec.key() not in self._infos:
            self._infos[spec.key()] = dict(self._remote(
                _view_info, self.loader, spec, self.worker_device(), self.config.dtype))
        return self._infos[spec.key()]

    def check(self, spec: ModelSpec, langs: list[str] | None, fp: str) -> list[Verdict]:
        """The model check, run on a worker that loads the weights."""
        return list(self._remote(_check_on_worker, self.loader, spec, langs, self.config, fp,
                                 self.worker_device()))

    # ------------------------------------------------------------------ generation

    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: Mapping[str, int]
                 ) -> Generator[BatchResult, None, None]:
        """Pack ``todo`` into batches on the driver (``backend`` is a tokenizer-only view),
        generate them on an actor pool, and yield each finished batch as it arrives."""
        spec: ModelSpec = backend.spec  # type: ignore[attr-defined]
        jobs = plan_jobs(backend, todo, settings, batching)
        if not jobs:
            return
        _ray()
        import ray.data

        start = time.perf_counter()
        self.datasets += 1
        langs = sorted({lang for job in jobs for lang in job["langs"]}, key=str)
        ds = ray.data.from_items([{"job": json.dumps(j, ensure_ascii=False)} for j in jobs],
                                 override_num_blocks=len(jobs))
        kwargs = {"loader": self.loader, "spec": spec, "settings": settings, "langs": langs,
                  "device": self.worker_device(), "dtype": self.config.dtype,
                  "expected": identity(self.info_of(spec)), "batching": dict(batching)}
        mapped = ds.map_batches(
            GenerateWorker, fn_constructor_kwargs=kwargs, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.settings.actors), **self._options())
        try:
            for row in mapped.iter_rows():
                yield self._result(json.loads(row["result"]))
        except SummarizeError:
            raise
        except Exception as exc:
            raise _worker_error(exc) from None
        finally:
            self.seconds += time.perf_counter() - start

    def _result(self, res: dict[str, Any]) -> BatchResult:
        if "fatal" in res:
            raise (GenerationError if res.get("kind") == "generation" else EngineError)(res["fatal"])
        actor = self.actors.setdefault(res["actor"]["actor_id"], {**res["actor"], "batches": 0,
                                                                  "seconds": 0.0})
        actor["batches"] += 1
        actor["seconds"] = round(actor["seconds"] + res["seconds"], 3)
        if res.get("device_stats"):
            actor["device_stats"] = res["device_stats"]
        langs: tuple[Lang, ...] = tuple(res["langs"])
        done = [(t, _decode(o)) for t, o in zip(res["texts"], res["outputs"], strict=True)
                if o is not None]
        return BatchResult(langs, [t for t, _ in done], per_language(langs, [o for _, o in done]),
                           dict(res["failures"]), BatchStats(**res["stats"]))


def plan_jobs(backend: Backend, todo: Mapping[Lang, Sequence[str]], settings: GenerationSettings,
              batching: Mapping[str, int]) -> list[dict[str, Any]]:
    """The batches a local run would make, in its order: texts missing in every language of a
    multilingual model in one pass for all of them, the rest per language; each pass packed by
    the scheduler's own rule (token budget, size and hypotheses caps)."""
    shared = shared_texts(backend, todo)
    named: list[Lang] = [lang for lang in todo if lang is not None]
    passes: list[tuple[list[Lang], list[str]]] = [(named, shared)] if shared else []
    taken = set(shared)
    passes += [([lang], [t for t in texts if t not in taken]) for lang, texts in todo.items()]
    jobs: list[dict[str, Any]] = []
    for langs, texts in passes:
        unique = list(dict.fromkeys(texts))
        if not unique:
            continue
        lengths = backend.count_tokens(unique, langs[0])
        size = texts_per_call(batching["max_batch_size"], settings, len(langs),
                              batching.get("max_hypotheses", DEFAULT_MAX_HYPOTHESES))
        for b in pack(lengths, batching["max_batch_tokens"], size):
            jobs.append({"id": len(jobs), "langs": langs, "texts": [unique[i] for i in b]})
    return jobs


# ---------------------------------------------------------------------- on the workers


def _view_info(loader: Callable[..., Backend], spec: ModelSpec, device: str, dtype: str
               ) -> dict[str, Any]:
    return loader(spec, device=device, dtype=dtype, weights=False).info()


def _check_on_worker(loader: Callable[..., Backend], spec: ModelSpec, langs: list[str] | None,
                     config: Config, fp: str, device: str) -> list[Verdict]:
    backend = loader(spec, device=device, dtype=config.dtype)
    return check_model(backend, spec, langs, config, fp)


def _encode(output: Any) -> Any:
    """A generated output for JSON: a flagged text as [text, flag], {lang: ...} per language."""
    if isinstance(output, dict):
        return {lang: _encode(o) for lang, o in output.items()}
    flag = flag_of(output)
    return [str(output), flag] if flag else output


def _decode(output: Any) -> Any:
    if isinstance(output, dict):
        return {lang: _decode(o) for lang, o in output.items()}
    if isinstance(output, list):
        return Flagged(output[0], output[1])
    return output


def _worker_error(exc: BaseException) -> SummarizeError:
    """One line for a failure Ray reports from a worker: the original exception's last line."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    if isinstance(cause, SummarizeError):
        return cause
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if ":" in ln and not ln.startswith("File ")),
                lines[-1] if lines else type(exc).__name__)
    return EngineError(f"a Ray worker failed ({type(exc).__name__}): {last}")


class GenerateWorker:
    """One actor of the pool: loads the model once, checks it is the model the driver
    fingerprinted, warms it up, then runs the scheduler on each batch it is given. A failure
    to load is returned with the first batch rather than raised, so the driver stops with the
    message instead of Ray restarting the actor over and over."""

    def __init__(self, loader: Callable[..., Backend], spec: ModelSpec,
                 settings: GenerationSettings, langs: list[Lang], device: str, dtype: str,
                 expected: dict[str, Any], batching: dict[str, int]) -> None:
        import ray

        ctx = ray.get_runtime_context()
        self.about: dict[str, Any] = {"actor_id": ctx.get_actor_id(), "node_id": ctx.get_node_id(),
                                      "pid": os.getpid(), "model": spec.model}
        self.settings = settings
        self.batching = batching
        self.fatal: str | None = None
        try:
            self.backend = loader(spec, device=device, dtype=dtype)
            info = self.backend.info()
            self.about["device"] = info.get("device")
            got = identity(info)
            if got != expected:
                diff = {k: (expected.get(k), got.get(k)) for k in got if got.get(k) != expected.get(k)}
                self.fatal = (f"{spec.model} on a worker ({info.get('device')}) is not the model "
                              f"the run fingerprinted: {diff} (planned, found); a cluster of mixed "
                              f"accelerators needs dtype set explicitly in the config")
            else:
                warm_up(self.backend, langs, settings)
        except SummarizeError as exc:
            self.fatal = str(exc)
        except Exception as exc:
            self.fatal = f"{spec.model}: cannot load on a Ray worker: {first_line(exc)}"

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        return {"result": np.array([json.dumps(self._run(json.loads(j)), ensure_ascii=False)
                                    for j in batch["job"]], dtype=object)}

    def _run(self, job: dict[str, Any]) -> dict[str, Any]:
        if self.fatal is not None:
            return {"fatal": self.fatal, "kind": "engine"}
        langs = job["langs"]
        start = time.perf_counter()
        try:
            if len(langs) > 1:
                schedule = iter_generate_all_multi(self.backend, job["texts"], langs,
                                                   self.settings, **self.batching)
            else:
                schedule = iter_generate_all(self.backend, job["texts"], langs[0], self.settings,
                                             **self.batching)
            gen = drain(schedule, None)
        except SummarizeError as exc:
            return {"fatal": str(exc), "kind": "generation"}
        stats = getattr(self.backend, "device_stats", None)
        return {"id": job["id"], "langs": langs, "texts": job["texts"],
                "outputs": [_encode(o) for o in gen.outputs],
                "failures": gen.failures, "stats": asdict(gen.stats), "actor": self.about,
                "seconds": time.perf_counter() - start,
                "device_stats": stats(reset=False) if stats is not None else None}
