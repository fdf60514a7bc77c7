"""The ray engine: generation on actors of a Ray cluster, held for the whole run.

The driver (this process) reads, segments, looks up the translation memory and writes articles
as with the local engine, holding only tokenizer-only views of the models. A pool of
``ray.actors`` actors (Ray Core) starts with the engine and serves every later call: each actor
loads a model the first time it gets a batch for it and keeps it, so a run pays process start
once per actor and each model load once per actor, whatever the windows, stages and map-reduce
levels. The texts still to generate are packed into batches by the same token budget as a local
run and fed to the actors through a bounded in-flight queue (``inflight_per_actor`` each);
results are yielded as they finish and the driver stores each one at once (SQLite, one writer).
An actor runs the local scheduler on its batch, so out-of-memory halving, bisection of a bad
input and the canary probe work as on one machine.

Failures are bounded. An actor that dies is replaced; the batch it was running is retried
``max_batch_retries`` times, then bisected until the input that kills the worker fails on its
own (its article fails, exit 3); workers dying on batch after batch with none finishing
between is a systemic failure instead. Actors that die starting or loading their model
``max_start_failures`` times in a row, an actor that cannot be placed, a model that cannot load,
a systemic failure or a worker whose model precision differs from the one the driver
fingerprinted stop the run with one message (exit 4). The driver never blocks on Ray without a
timeout, so an interrupt is seen within a second.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from summarize.backends.base import Backend
from summarize.backends.devices import first_line
from summarize.backends.scheduler import (
    BatchStats,
)
from summarize.config import BatchSettings, Config, GenerationSettings, ModelSpec
from summarize.engines.local import BatchResult, Lang, per_language
from summarize.engines.ray_actor import GenerateActor, decode_output, last_line, worker_error
from summarize.engines.ray_connect import (
    TICK_S,
    LocalRay,
    alive_nodes,
    check_placement,
    connect,
    import_ray,
    nodes_text,
    shape_text,
)
from summarize.engines.ray_jobs import Call, Job, Slot, plan_jobs, worker_died
from summarize.errors import EngineError, GenerationError
from summarize.models.check import Verdict
from summarize.models.load import identity

GET_TIMEOUT_S = 60.0  # fetching a finished result (it is ready; this only bounds the transfer)


class RayEngine:
    """Generation on Ray actors held for the run (see the module docstring). ``loader`` is what
    the actors load models with (``summarize.backends.load_backend``, or a test's)."""

    def __init__(self, config: Config, loader: Callable[..., Backend]):
        self.config = config
        self.settings = config.ray
        self.loader = loader
        self._local: LocalRay | None = None  # the Ray this run started
        self.address: str | None = None
        self._infos: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._slots: list[Slot] = []
        self._calls: dict[Any, Call] = {}
        self._seq = 0
        self._start_failures = 0  # in a row
        self._deaths_in_a_row = 0  # batches that killed their worker with none finishing between
        self._systemic_deaths = 0
        self.actors: dict[str, dict[str, Any]] = {}
        self.counts = {"pool_starts": 0, "actor_starts": 0, "model_loads": 0, "actor_deaths": 0,
                       "batch_retries": 0, "bisections": 0, "inputs_failed": 0}
        self.load_seconds = 0.0
        self.seconds = 0.0

    # ------------------------------------------------------------------ cluster

    def start(self) -> None:
        """Join the cluster named by ``ray.address`` or RAY_ADDRESS, or start a local Ray for
        this run; a Ray already running in this process (a notebook, the tests) is used as is."""
        ray = import_ray()
        if ray.is_initialized():
            self.address = "this process's Ray"
        else:
            self.address = self.settings.address or os.environ.get("RAY_ADDRESS") or None
            if self.address and self.address.startswith("ray://"):
                raise EngineError(f"RAY_ADDRESS={self.address}: ray:// (Ray Client) is not "
                                  "supported; use the head's GCS address (HEAD_IP:6379) or auto")
            self._local = connect(ray, self.address, self.settings)
        # The pool starts now, not on first use: its actors start and import the models' code
        # while the driver loads its own views, instead of after (a run with nothing to
        # generate releases them unused at close).
        self._pool()

    def close(self) -> None:
        """Release the actors (a joined cluster keeps running), stop a Ray started here."""
        ray = import_ray()
        if ray.is_initialized():
            for slot in self._slots:
                with contextlib.suppress(Exception):  # an actor already gone needs no release
                    ray.kill(slot.actor, no_restart=True)
        self._slots = []
        self._calls = {}
        if self._local is not None:
            self._local.stop()
            self._local = None

    def report(self) -> dict[str, Any]:
        ray = import_ray()
        try:
            nodes = alive_nodes() if ray.is_initialized() else []
        except Exception as exc:  # the report of a run whose cluster failed: say so, keep the rest
            nodes = [{"error": first_line(exc), "cpus": 0, "gpus": 0}]
        return {"engine": "ray", "address": self.address or "local Ray for this run",
                "ray_version": ray.__version__, "nodes": nodes,
                "gpus": sum(n["gpus"] for n in nodes), "actors_per_model": self.settings.actors,
                "cpus_per_actor": self.settings.cpus_per_actor,
                "gpus_per_actor": self.settings.gpus_per_actor, **self.counts,
                "model_load_seconds": round(self.load_seconds, 3),
                "seconds": round(self.seconds, 3), "actors": list(self.actors.values())}

    # ------------------------------------------------------------------ the pool

    def worker_device(self) -> str:
        if self.settings.gpus_per_actor > 0 and self.config.device in ("auto", "cpu"):
            return "cuda"
        return self.config.device

    def _pool(self) -> list[Slot]:
        """The run's actors (started by ``start``; again after ``close``)."""
        if not self._slots:
            check_placement(self.settings, self._local is not None)
            self.counts["pool_starts"] += 1
            self._slots = [self._new_slot(i) for i in range(self.settings.actors)]
        return self._slots

    def _new_slot(self, index: int) -> Slot:
        ray = import_ray()
        opts: dict[str, Any] = {"num_cpus": self.settings.cpus_per_actor, "max_restarts": 0,
                                "max_task_retries": 0}
        if self.settings.gpus_per_actor > 0:
            opts["num_gpus"] = self.settings.gpus_per_actor
        # CPU threads: the config's, else the actor's own CPUs (never every core of the node)
        threads = self.config.threads or max(1, int(self.settings.cpus_per_actor))
        actor = ray.remote(GenerateActor).options(**opts).remote(
            self.loader, self.worker_device(), self.config.dtype, threads, self._run_models())
        self.counts["actor_starts"] += 1
        slot = Slot(index, actor, time.monotonic())
        self._submit(slot, "ready", actor.ready.remote())
        return slot

    def _run_models(self) -> list[ModelSpec]:
        """The summariser and each distinct translator of the run."""
        cfg = self.config
        specs = [cfg.summarizer, *(cfg.translators[lang] for lang in cfg.languages)]
        return list({spec.key(): spec for spec in specs}.values())

    def _submit(self, slot: Slot, kind: str, ref: Any, job: Job | None = None) -> None:
        self._seq += 1
        self._calls[ref] = Call(slot, kind, self._seq, job)
        if kind == "load":
            slot.loading += 1
        elif kind in ("job", "ask"):
            slot.running += 1

    def _ensure_model(self, slot: Slot, spec: ModelSpec, expected: dict[str, Any],
                      langs: Sequence[Lang], settings: GenerationSettings) -> None:
        if spec.key() in slot.models:
            return
        slot.models.add(spec.key())
        self._submit(slot, "load", slot.actor.load.remote(spec, expected, list(langs), settings))

    def _next(self) -> tuple[Call | None, Any]:
        """The next answered job or question: (call, value); or (None, calls lost with an
        actor that died, in the order they were sent; none when an actor became ready).
        Actor start-ups and model loads are handled here. Blocks at most TICK_S at a time, so interrupts are seen."""
        ray = import_ray()
        while True:
            if not self._calls:
                raise EngineError("internal: waiting on the Ray pool with nothing sent")
            try:
                done, _ = ray.wait(list(self._calls), num_returns=1, timeout=TICK_S)
            except Exception as exc:  # the cluster itself failed (its head gone)
                raise EngineError(f"the Ray cluster failed: {first_line(exc)}") from None
            if not done:
                self._check_stuck()
                continue
            ref = done[0]
            call = self._calls.pop(ref)
            try:
                value = ray.get(ref, timeout=GET_TIMEOUT_S)
            except Exception as exc:
                if worker_died(exc):
                    return None, self._lose(call, exc)
                raise worker_error(exc) from None
            slot = call.slot
            if call.kind == "ready":
                slot.ready = True
                slot.about = value
                self.actors[value["actor_id"]] = {**value, "batches": 0, "seconds": 0.0}
                return None, []  # the caller may have work for it now
            if call.kind == "load":
                slot.loading -= 1
                if "fatal" in value:
                    raise EngineError(value["fatal"])
                self.counts["model_loads"] += 1
                self.load_seconds += value["seconds"]
                entry = self.actors[slot.about["actor_id"]]
                entry["device"] = value["device"]
                entry.setdefault("models", []).append(value["model"])
                self._start_failures = 0
                continue
            slot.running -= 1
            return call, value

    def _check_stuck(self) -> None:
        """No actor of the pool started within start_timeout_s: the cluster cannot place them
        (resources held by others, nodes gone)."""
        if any(s.ready for s in self._slots) or not self._slots:
            return
        oldest = min(s.created for s in self._slots)
        if time.monotonic() - oldest > self.settings.start_timeout_s:
            raise EngineError(
                f"no Ray actor of {shape_text(self.settings)} started within "
                f"{self.settings.start_timeout_s:g}s (ray.start_timeout_s): the cluster cannot "
                f"place them now; nodes: {nodes_text(alive_nodes())}")

    def _lose(self, call: Call, exc: BaseException) -> list[Call]:
        """An actor died: replace it, and hand back its unanswered jobs and questions. The
        first of them was running when it died and is blamed for it, unless the actor was
        still starting or loading a model (then nothing is blamed and the start-up failure is
        counted)."""
        slot = call.slot
        lost = sorted([call] + [c for r, c in list(self._calls.items()) if c.slot is slot
                                and self._calls.pop(r)], key=lambda c: c.seq)
        self.counts["actor_deaths"] += 1
        reason = f"{type(exc).__name__}: {last_line(exc)}"
        if not slot.ready or slot.loading > 0 or call.kind in ("ready", "load"):
            self._start_failures += 1
            if self._start_failures >= self.settings.max_start_failures:
                raise EngineError(
                    f"Ray actors keep dying while starting or loading a model "
                    f"({self._start_failures} in a row; ray.max_start_failures): {reason}")
        else:
            first = next((c for c in lost if c.job is not None), None)
            if first is not None and first.job is not None:
                first.job.deaths += 1
                first.job.last_death = reason
                self._deaths_in_a_row += 1
                if self._deaths_in_a_row > self._systemic_deaths:
                    raise EngineError(
                        f"Ray workers died on {self._deaths_in_a_row} batches in a row with none "
                        f"finishing between: a systemic failure, not a bad input ({reason})")
        self._slots[slot.index] = self._new_slot(slot.index)
        return [c for c in lost if c.kind in ("job", "ask")]

    def _ask(self, method: str, *args: Any) -> Any:
        """One question to an actor of the pool (a ready one if there is), answered; asked
        again elsewhere if the actor dies meanwhile."""
        for _ in range(self.settings.max_start_failures + 1):
            slots = self._pool()
            slot = next((s for s in slots if s.ready), slots[0])
            self._submit(slot, "ask", getattr(slot.actor, method).remote(*args))
            while True:
                call, value = self._next()
                if call is not None:
                    return value
                if any(c.kind == "ask" for c in value):
                    break
        raise EngineError(f"Ray actors keep dying answering {method}")

    def info_of(self, spec: ModelSpec) -> dict[str, Any]:
        """The model's ``info()`` as a worker will run it (precision depends on its device),
        from a tokenizer-only view built on an actor: no weights are read for it."""
        if spec.key() not in self._infos:
            self._infos[spec.key()] = dict(self._ask("view_info", spec))
        return self._infos[spec.key()]

    def check(self, spec: ModelSpec, langs: list[str] | None, fp: str) -> list[Verdict]:
        """The model check, run on an actor (which keeps the model loaded for the run)."""
        return list(self._ask("check", spec, langs, self.config, fp))

    # ------------------------------------------------------------------ generation

    def generate(self, backend: Backend, todo: Mapping[Lang, Sequence[str]],
                 settings: GenerationSettings, batching: BatchSettings
                 ) -> Generator[BatchResult, None, None]:
        """Pack ``todo`` into batches on the driver (``backend`` is a tokenizer-only view),
        feed them to the pool a few per actor at a time, and yield each finished batch as it
        arrives."""
        spec: ModelSpec = backend.spec  # type: ignore[attr-defined]
        planned = plan_jobs(backend, todo, settings, batching)
        if not planned:
            return
        # Bisecting one bad input of the largest batch kills workers at most this often in a
        # row; more deaths with nothing finishing between is a broken worker, not an input.
        largest = max(len(j["texts"]) for j in planned)
        self._systemic_deaths = 2 * (self.settings.max_batch_retries + 1) + largest.bit_length()
        start = time.perf_counter()
        expected = identity(self.info_of(spec))
        queue = deque(Job(j["langs"], j["texts"]) for j in planned)
        warm_langs = sorted({lang for j in planned for lang in j["langs"]}, key=str)
        outstanding = 0
        limit = self.settings.inflight_per_actor
        try:
            while queue or outstanding:
                for slot in self._pool():
                    while queue and slot.ready and slot.running < limit:
                        job = queue.popleft()
                        self._ensure_model(slot, spec, expected, warm_langs, settings)
                        ref = slot.actor.run.remote(spec, job.langs, job.texts, settings,
                                                    batching)
                        self._submit(slot, "job", ref, job)
                        outstanding += 1
                call, value = self._next()
                if call is None:
                    lost = [c.job for c in value if c.job is not None]
                    outstanding -= len(lost)
                    for job in reversed(lost):
                        yield from self._after_death(job, queue)
                    continue
                outstanding -= 1
                self._deaths_in_a_row = 0
                yield self._result(value)
        finally:
            for ref, call in list(self._calls.items()):
                if call.kind == "job":  # a consumer that stopped early: drop what is left
                    del self._calls[ref]
                    call.slot.running -= 1
            self.seconds += time.perf_counter() - start

    def _after_death(self, job: Job, queue: deque[Job]) -> Generator[BatchResult, None, None]:
        """A job lost with its actor: sent again (innocent, or within its retries), bisected,
        or, one input that kept killing its worker, failed."""
        langs = tuple(job.langs)
        if job.deaths == 0:
            queue.appendleft(job)
        elif job.deaths <= self.settings.max_batch_retries:
            self.counts["batch_retries"] += 1
            queue.appendleft(job)
        elif len(job.texts) > 1:
            self.counts["bisections"] += 1
            half = len(job.texts) // 2
            # each half gets one try before it is split again
            tries = self.settings.max_batch_retries
            queue.appendleft(Job(job.langs, job.texts[half:], tries, job.last_death))
            queue.appendleft(Job(job.langs, job.texts[:half], tries, job.last_death))
            yield BatchResult(langs, stats=BatchStats(error_splits=1))
        else:
            self.counts["inputs_failed"] += 1
            yield BatchResult(langs, failures={job.texts[0]: (
                f"the Ray worker generating this input died {job.deaths} time(s) "
                f"({job.last_death})")})

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
        done = [(t, decode_output(o)) for t, o in zip(res["texts"], res["outputs"], strict=True)
                if o is not None]
        return BatchResult(langs, [t for t, _ in done], per_language(langs, [o for _, o in done]),
                           dict(res["failures"]), BatchStats(**res["stats"]))
