"""The ray engine: generation on actors of a Ray cluster, held for the whole run.

The driver (this process) reads, segments, looks up the translation memory and writes articles
as with the local engine, holding only tokenizer-only views of the models. A pool of
``ray.actors`` actors (Ray Core) starts on first use and serves every later call: each actor
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
import secrets
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

from summarize.backends.base import Backend, Flagged, flag_of
from summarize.backends.devices import first_line
from summarize.backends.scheduler import (
    DEFAULT_MAX_HYPOTHESES,
    BatchStats,
    drain,
    iter_generate_all,
    iter_generate_all_multi,
    pack,
    texts_per_call,
)
from summarize.config import Config, GenerationSettings, ModelSpec
from summarize.engines.local import BatchResult, Lang, per_language, shared_texts
from summarize.errors import EngineError, GenerationError, SummarizeError
from summarize.models.check import Verdict, check_model, warm_up
from summarize.models.load import identity

CONNECT_TIMEOUT_S = 5.0
TICK_S = 1.0  # the longest the driver blocks in one Ray call
GET_TIMEOUT_S = 60.0  # fetching a finished result (it is ready; this only bounds the transfer)
WAIT_LOG_EVERY_S = 10.0


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


def _token_source() -> str | None:
    """Where a Ray auth token would come from for this process, if anywhere."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path and Path(path).expanduser().is_file():
        return path
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def _set_auth_mode_token() -> None:
    """RAY_AUTH_MODE=token for this process and the Ray processes it starts. Ray caches its
    config, so it is re-read (what Ray itself does when it turns token mode on)."""
    os.environ["RAY_AUTH_MODE"] = "token"
    from ray._raylet import Config as RayConfig  # type: ignore[attr-defined]

    RayConfig.initialize("")


def _died(exc: BaseException) -> bool:
    """Whether a Ray error means the worker process (or its node) is gone."""
    from ray import exceptions as rx

    return isinstance(exc, (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError,
                            rx.OutOfMemoryError, rx.ObjectLostError))


@dataclass
class _Slot:
    """One place in the pool: the actor now holding it and what it has loaded."""

    index: int
    actor: Any
    created: float
    ready: bool = False
    about: dict[str, Any] = field(default_factory=dict)
    models: set[tuple[Any, ...]] = field(default_factory=set)  # loaded or being loaded
    loading: int = 0  # load calls not answered yet
    running: int = 0  # jobs submitted, not answered yet


@dataclass
class _Job:
    """A batch to generate: the texts, and how often a worker died on it."""

    langs: list[Lang]
    texts: list[str]
    deaths: int = 0
    last_death: str = ""


@dataclass
class _Call:
    """An outstanding actor call."""

    slot: _Slot
    kind: str  # ready | load | job | ask
    seq: int
    job: _Job | None = None


class RayEngine:
    """Generation on Ray actors held for the run (see the module docstring). ``loader`` is what
    the actors load models with (``summarize.backends.load_backend``, or a test's)."""

    def __init__(self, config: Config, loader: Callable[..., Backend]):
        self.config = config
        self.settings = config.ray
        self.loader = loader
        self._started_here = False
        self.address: str | None = None
        self._infos: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._slots: list[_Slot] = []
        self._calls: dict[Any, _Call] = {}
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
        ray = _ray()
        if ray.is_initialized():
            self.address = "this process's Ray"
        else:
            self.address = self.settings.address or os.environ.get("RAY_ADDRESS") or None
            if self.address and self.address.startswith("ray://"):
                raise EngineError(f"RAY_ADDRESS={self.address}: ray:// (Ray Client) is not "
                                  "supported; use the head's GCS address (HEAD_IP:6379) or auto")
            self._connect(ray)

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
        token = _token_source()
        if os.environ.get("RAY_AUTH_MODE") is None:
            if address and token:
                # Ray sends a token to an explicit address only in token mode.
                _set_auth_mode_token()
            elif not address and not token:
                # A local Ray is token-protected; without this Ray would write a new token to
                # ~/.ray/auth_token. This run's token lives in its environment only.
                os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="WARNING")
            else:
                # "local": a new Ray even where `ray start` left an address to find
                ray.init(address="local", num_cpus=self.settings.num_cpus,
                         object_store_memory=self.settings.object_store_memory,
                         include_dashboard=False, log_to_driver=False, logging_level="WARNING")
                self._started_here = True
        except Exception as exc:  # Ray raises several types; each is this one user message
            if not address:
                raise EngineError(f"cannot start a local Ray: {first_line(exc)}") from None
            hint = ""
            if type(exc).__name__ in ("ConnectionError", "AuthenticationError"):
                hint = (f"; the cluster did not accept this client: its auth token is "
                        f"{'not the one in ' + token if token else 'missing'} (set "
                        f"RAY_AUTH_TOKEN to the output of `ray get-auth-token` on the head)"
                        if os.environ.get("RAY_AUTH_MODE", "token") == "token" or token else "")
            raise EngineError(f"cannot join the Ray cluster at {address}: {first_line(exc)}"
                              f"{hint}") from None
        finally:
            self._restore_handlers(handlers)

    @staticmethod
    def _restore_handlers(handlers: Mapping[Any, Any]) -> None:
        """Ray's start-up installs its own SIGTERM handler; the run's handler (an interrupt:
        exit 130, status interrupted, resumable) must stay the one that acts."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in handlers.items():
            if callable(handler) and signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)

    def close(self) -> None:
        """Release the actors (a joined cluster keeps running), stop a Ray started here."""
        ray = _ray()
        if ray.is_initialized():
            for slot in self._slots:
                with contextlib.suppress(Exception):  # an actor already gone needs no release
                    ray.kill(slot.actor, no_restart=True)
        self._slots = []
        self._calls = {}
        if self._started_here:
            ray.shutdown()
            self._started_here = False

    def report(self) -> dict[str, Any]:
        ray = _ray()
        try:
            nodes = self._nodes() if ray.is_initialized() else []
        except Exception as exc:  # the report of a run whose cluster failed: say so, keep the rest
            nodes = [{"error": first_line(exc), "cpus": 0, "gpus": 0}]
        return {"engine": "ray", "address": self.address or "local Ray for this run",
                "ray_version": ray.__version__, "nodes": nodes,
                "gpus": sum(n["gpus"] for n in nodes), "actors_per_model": self.settings.actors,
                "cpus_per_actor": self.settings.cpus_per_actor,
                "gpus_per_actor": self.settings.gpus_per_actor, **self.counts,
                "model_load_seconds": round(self.load_seconds, 3),
                "seconds": round(self.seconds, 3), "actors": list(self.actors.values())}

    def _nodes(self) -> list[dict[str, Any]]:
        out = []
        for node in _ray().nodes():
            if node.get("Alive"):
                res = node.get("Resources", {})
                out.append({"node_id": node.get("NodeID"), "address": node.get("NodeManagerAddress"),
                            "cpus": res.get("CPU", 0), "gpus": res.get("GPU", 0)})
        return out

    # ------------------------------------------------------------------ placement

    def _shape(self) -> dict[str, float]:
        shape = {"CPU": self.settings.cpus_per_actor}
        if self.settings.gpus_per_actor > 0:
            shape["GPU"] = self.settings.gpus_per_actor
        return shape

    def _shape_text(self) -> str:
        return " + ".join(f"{v:g} {k}" for k, v in self._shape().items())

    @staticmethod
    def _nodes_text(nodes: list[dict[str, Any]]) -> str:
        return ", ".join(f"{n['address']} ({n['cpus']:g} CPU, {n['gpus']:g} GPU)"
                         for n in nodes) or "none"

    def _fits(self, nodes: list[dict[str, Any]]) -> int:
        """How many actors the nodes hold, each actor on one node."""
        total = 0
        for node in nodes:
            have = {"CPU": node["cpus"], "GPU": node["gpus"]}
            total += int(min(have[k] // v for k, v in self._shape().items()))
        return total

    def _check_placement(self) -> None:
        """Refuse, in seconds, a pool the cluster cannot hold, counting per node (an actor's
        CPUs and GPUs must be on one node). A joined cluster with no node offering the kind of
        resource at all may be an autoscaler that has not started workers: wait for one."""
        waited_from = time.monotonic()
        last_log = 0.0
        while True:
            nodes = self._nodes()
            kinds = {"CPU": "cpus", "GPU": "gpus"}
            missing = [k for k in self._shape() if not any(n[kinds[k]] > 0 for n in nodes)]
            if not missing or self._started_here:
                break
            waited = time.monotonic() - waited_from
            if waited >= self.settings.wait_for_workers_s:
                raise EngineError(
                    f"the Ray cluster has no node that can hold an actor of {self._shape_text()} "
                    f"(none has {' or '.join(missing)}s) after waiting {waited:.0f}s "
                    f"(ray.wait_for_workers_s) for one to join; nodes: {self._nodes_text(nodes)}")
            if waited - last_log >= WAIT_LOG_EVERY_S or last_log == 0.0:
                last_log = max(waited, 1e-9)
                print(f"waiting for a Ray node with {' and '.join(missing)}s for actors of "
                      f"{self._shape_text()} ({waited:.0f}s of "
                      f"{self.settings.wait_for_workers_s:g}s, ray.wait_for_workers_s)", flush=True,
                      file=sys.stderr)
            time.sleep(min(TICK_S * 2, self.settings.wait_for_workers_s))
        fits = self._fits(nodes)
        if fits < self.settings.actors:
            raise EngineError(
                f"the Ray cluster cannot hold {self.settings.actors} actors of "
                f"{self._shape_text()} each (an actor's resources must be on one node): its "
                f"nodes hold {fits}: {self._nodes_text(nodes)}; lower ray.actors or the "
                f"per-actor resources")

    # ------------------------------------------------------------------ the pool

    def worker_device(self) -> str:
        if self.settings.gpus_per_actor > 0 and self.config.device in ("auto", "cpu"):
            return "cuda"
        return self.config.device

    def _pool(self) -> list[_Slot]:
        """The run's actors, started on first use."""
        if not self._slots:
            self._check_placement()
            self.counts["pool_starts"] += 1
            self._slots = [self._new_slot(i) for i in range(self.settings.actors)]
        return self._slots

    def _new_slot(self, index: int) -> _Slot:
        ray = _ray()
        opts: dict[str, Any] = {"num_cpus": self.settings.cpus_per_actor, "max_restarts": 0,
                                "max_task_retries": 0}
        if self.settings.gpus_per_actor > 0:
            opts["num_gpus"] = self.settings.gpus_per_actor
        # CPU threads: the config's, else the actor's own CPUs (never every core of the node)
        threads = self.config.threads or max(1, int(self.settings.cpus_per_actor))
        actor = ray.remote(GenerateActor).options(**opts).remote(
            self.loader, self.worker_device(), self.config.dtype, threads)
        self.counts["actor_starts"] += 1
        slot = _Slot(index, actor, time.monotonic())
        self._submit(slot, "ready", actor.ready.remote())
        return slot

    def _submit(self, slot: _Slot, kind: str, ref: Any, job: _Job | None = None) -> None:
        self._seq += 1
        self._calls[ref] = _Call(slot, kind, self._seq, job)
        if kind == "load":
            slot.loading += 1
        elif kind in ("job", "ask"):
            slot.running += 1

    def _ensure_model(self, slot: _Slot, spec: ModelSpec, expected: dict[str, Any],
                      langs: Sequence[Lang], settings: GenerationSettings) -> None:
        if spec.key() in slot.models:
            return
        slot.models.add(spec.key())
        self._submit(slot, "load", slot.actor.load.remote(spec, expected, list(langs), settings))

    def _next(self) -> tuple[_Call | None, Any]:
        """The next answered job or question: (call, value); or (None, calls lost with an
        actor that died, in the order they were sent; none when an actor became ready).
        Actor start-ups and model loads are handled here. Blocks at most TICK_S at a time, so interrupts are seen."""
        ray = _ray()
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
                if _died(exc):
                    return None, self._lose(call, exc)
                raise _worker_error(exc) from None
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
                f"no Ray actor of {self._shape_text()} started within "
                f"{self.settings.start_timeout_s:g}s (ray.start_timeout_s): the cluster cannot "
                f"place them now; nodes: {self._nodes_text(self._nodes())}")

    def _lose(self, call: _Call, exc: BaseException) -> list[_Call]:
        """An actor died: replace it, and hand back its unanswered jobs and questions. The
        first of them was running when it died and is blamed for it, unless the actor was
        still starting or loading a model (then nothing is blamed and the start-up failure is
        counted)."""
        slot = call.slot
        lost = sorted([call] + [c for r, c in list(self._calls.items()) if c.slot is slot
                                and self._calls.pop(r)], key=lambda c: c.seq)
        self.counts["actor_deaths"] += 1
        reason = f"{type(exc).__name__}: {_last_line(exc)}"
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
                 settings: GenerationSettings, batching: Mapping[str, int]
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
        queue = deque(_Job(j["langs"], j["texts"]) for j in planned)
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
                                                    dict(batching))
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

    def _after_death(self, job: _Job, queue: deque[_Job]) -> Generator[BatchResult, None, None]:
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
            queue.appendleft(_Job(job.langs, job.texts[half:], tries, job.last_death))
            queue.appendleft(_Job(job.langs, job.texts[:half], tries, job.last_death))
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
        done = [(t, _decode(o)) for t, o in zip(res["texts"], res["outputs"], strict=True)
                if o is not None]
        return BatchResult(langs, [t for t, _ in done], per_language(langs, [o for _, o in done]),
                           dict(res["failures"]), BatchStats(**res["stats"]))


def plan_jobs(backend: Backend, todo: Mapping[Lang, Sequence[str]], settings: GenerationSettings,
              batching: Mapping[str, int]) -> list[dict[str, Any]]:
    """The batches a local run would make, in its order: texts missing in every language of a
    multilingual model in one pass for all of them, the rest per language; each pass packed by
    the scheduler's own rule (token budget, size and hypotheses caps, one new-token budget)."""
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
        for b in pack(lengths, batching["max_batch_tokens"], size, settings.budget):
            jobs.append({"id": len(jobs), "langs": langs, "texts": [unique[i] for i in b]})
    return jobs


# ---------------------------------------------------------------------- on the workers


def _encode(output: Any) -> Any:
    """A generated output as plain data: a flagged text as [text, flag], {lang: ...} per
    language."""
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


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return next((ln for ln in reversed(lines) if ":" in ln and not ln.startswith("File ")),
                lines[-1] if lines else type(exc).__name__)


def _worker_error(exc: BaseException) -> SummarizeError:
    """One line for a failure Ray reports from a worker: the original exception's last line."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    if isinstance(cause, SummarizeError):
        return cause
    return EngineError(f"a Ray worker failed ({type(exc).__name__}): {_last_line(exc)}")


class GenerateActor:
    """One actor of the run's pool. It loads each model the first time it is asked to
    (checking it is the model the driver fingerprinted, then warming it up) and keeps it for
    the run; each batch runs the local scheduler. Failures to load are answered, not raised,
    so the driver stops with the message instead of Ray retrying."""

    def __init__(self, loader: Callable[..., Backend], device: str, dtype: str,
                 threads: int | None = None) -> None:
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
        self.fatal: dict[tuple[Any, ...], str] = {}

    def ready(self) -> dict[str, Any]:
        return self.about

    def _backend(self, spec: ModelSpec) -> Backend:
        if spec.backend == "auto":  # one load whether asked with the config's spec or resolved
            from summarize.backends.auto import resolve

            spec = spec.model_copy(update={"backend": resolve(spec, self.device)})
        if spec.key() not in self.backends:
            self.backends[spec.key()] = self.loader(spec, device=self.device, dtype=self.dtype)
        return self.backends[spec.key()]

    def view_info(self, spec: ModelSpec) -> dict[str, Any]:
        return self.loader(spec, device=self.device, dtype=self.dtype, weights=False).info()

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
            settings: GenerationSettings, batching: dict[str, int]) -> dict[str, Any]:
        if spec.key() in self.fatal:
            return {"fatal": self.fatal[spec.key()], "kind": "engine"}
        backend = self._backend(spec)
        start = time.perf_counter()
        try:
            if len(langs) > 1:
                schedule = iter_generate_all_multi(backend, texts, cast(list[str], langs), settings,
                                                   **batching)
            else:
                schedule = iter_generate_all(backend, texts, langs[0], settings, **batching)
            gen = drain(schedule, None)
        except SummarizeError as exc:
            return {"fatal": str(exc), "kind": "generation"}
        stats = getattr(backend, "device_stats", None)
        return {"langs": langs, "texts": texts, "outputs": [_encode(o) for o in gen.outputs],
                "failures": gen.failures, "stats": asdict(gen.stats),
                "actor": {**self.about, "model": spec.model},
                "seconds": time.perf_counter() - start,
                "device_stats": stats(reset=False) if stats is not None else None}
