"""Joining or starting Ray for a run, and checking that the cluster can hold the pool.

Connecting: an explicit address is probed with a TCP connect first (ray.init waits minutes for
a GCS that is not there); a token found in RAY_AUTH_TOKEN(_PATH) or ~/.ray/auth_token turns
Ray's token mode on for an explicit address (Ray sends no token otherwise); a local Ray gets a
token that lives in this run's environment only, and starts without the autoscaler monitor
and the log monitor, which it never uses (``start_local``). Ray's start-up replaces the SIGTERM handler;
the run's own is put back, so SIGTERM stays an interrupt (exit 130, resumable).

Placement counts per node: an actor's CPUs and GPUs must be on one node. A joined cluster with
no node offering a kind of resource at all may be an autoscaler that has not started workers
yet: it is waited for up to ``ray.wait_for_workers_s``, with a progress line, then refused."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from summarize.backends.devices import first_line
from summarize.config import RaySettings
from summarize.errors import EngineError

CONNECT_TIMEOUT_S = 5.0
TICK_S = 1.0  # the longest the driver blocks in one Ray call
WAIT_LOG_EVERY_S = 10.0


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineError("engine ray needs Ray: pip install 'summarize[ray]'") from None
    return ray


def reachable(address: str) -> tuple[str, int] | None:
    """(host, port) of a Ray address that names one, else None ("auto", "local")."""
    parsed = urlparse(address if "://" in address else f"gcs://{address}")
    if parsed.hostname is None or parsed.port is None:
        return None
    return parsed.hostname, parsed.port


def token_source() -> str | None:
    """Where a Ray auth token would come from for this process, if anywhere."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path and Path(path).expanduser().is_file():
        return path
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def set_auth_mode_token() -> None:
    """RAY_AUTH_MODE=token for this process and the Ray processes it starts. Ray caches its
    config, so it is re-read (what Ray itself does when it turns token mode on)."""
    os.environ["RAY_AUTH_MODE"] = "token"
    from ray._raylet import Config as RayConfig  # type: ignore[attr-defined]

    RayConfig.initialize("")


def resolve_auto() -> tuple[str, str]:
    """The address ``auto`` stands for, and where it came from: RAY_ADDRESS; else the cluster
    the last `ray start` on this machine recorded (Ray's own first choice; Ray would instead
    take the one Ray process running here if there is exactly one, even another user's); else
    a Ray running here. It is then probed like an explicit address: at a recorded address whose
    cluster is gone, Ray itself would wait minutes."""
    from ray._common.utils import get_ray_address_file
    from ray._private import services

    env = os.environ.get("RAY_ADDRESS")
    if env and env != "auto":
        return env, " (RAY_ADDRESS)"
    recorded = services.find_bootstrap_address(None)
    if recorded:
        return recorded, (f" (found by auto in {get_ray_address_file(None)}, written by the "
                          f"last `ray start` here; `ray stop` clears it)")
    try:
        found = services.get_ray_address_from_environment("auto", None)
    except ConnectionError as exc:
        raise EngineError(f"ray address auto: {first_line(exc)}") from None
    return found, " (found by auto: a Ray running on this machine)"


class LocalRay:
    """The single-node Ray this run started; ``stop`` ends it (``ray.shutdown`` alone when Ray
    started it, else also the node's processes)."""

    def __init__(self, ray: Any, node: Any = None) -> None:
        self.ray = ray
        self.node = node

    def stop(self) -> None:
        self.ray.shutdown()
        if self.node is not None:
            self.node.destroy_external_storage()
            self.node.kill_all_processes(check_alive=False, allow_graceful=True, wait=True)
            self.node = None


def lean_node_params(settings: RaySettings) -> Any:
    """RayParams for a head without the two processes a run's own Ray never uses: the
    autoscaler monitor (one node, nothing to scale; it ignores SIGTERM, so ``ray.shutdown``
    waited a second for it) and the log monitor (workers' logs are not sent to the driver:
    log_to_driver=False). None where this Ray has no such private API (then ``ray.init``
    starts a standard one: the same run, a second or two slower)."""
    try:
        from ray._private.parameter import RayParams
        return RayParams(num_cpus=settings.num_cpus,
                         object_store_memory=settings.object_store_memory,
                         include_dashboard=False, no_monitor=True,
                         # typed str | None in Ray, read as a flag; None would mean "start it"
                         include_log_monitor=False)  # type: ignore[arg-type]
    except (ImportError, AttributeError, TypeError):
        return None


@contextlib.contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """SIGTERM and SIGINT recorded, not acted on, inside the block (main thread only); the
    list says which arrived."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in handlers:
        signal.signal(sig, lambda signum, _frame: got.append(signum))
    try:
        yield got
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def start_local(ray: Any, settings: RaySettings) -> LocalRay:
    """Start a Ray for this run on this machine and join it as its driver."""
    params = lean_node_params(settings)
    if params is None:
        ray.init(address="local", num_cpus=settings.num_cpus,
                 object_store_memory=settings.object_store_memory,
                 include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        return LocalRay(ray)
    from ray._private.node import Node

    # As ray.init starts one: a reaper process stops the node if this process dies. A signal
    # while the node starts waits for it to be up: interrupted half-way, its raylet was killed
    # with this process and left the raylet's agent processes running.
    with deferred_signals() as got:
        node = Node(params, head=True, shutdown_at_exit=False, spawn_reaper=True,
                    ray_init_cluster=True)
    if got:
        node.kill_all_processes(check_alive=False, allow_graceful=True, wait=True)
        signal.raise_signal(got[0])  # now the run's own handler acts (an interrupt)
    try:
        ray.init(address=node.address, log_to_driver=False, logging_level="WARNING")
    except BaseException:
        node.kill_all_processes(check_alive=False, allow_graceful=True, wait=True)
        raise
    return LocalRay(ray, node)


def connect(ray: Any, address: str | None, settings: RaySettings) -> LocalRay | None:
    """Join the cluster at ``address``, or start a local Ray for this run when None; returns
    the Ray started here (to be stopped by the run), None for a joined cluster."""
    found_by = ""
    if address == "auto":
        address, found_by = resolve_auto()
    if address:
        target = reachable(address)
        if target is not None:
            try:
                socket.create_connection(target, timeout=CONNECT_TIMEOUT_S).close()
            except OSError as exc:
                raise EngineError(
                    f"cannot reach the Ray cluster at {address}{found_by}: "
                    f"{exc.strerror or exc} (is `ray start --head` running there, and the port "
                    f"open?)") from None
    token = token_source()
    if os.environ.get("RAY_AUTH_MODE") is None:
        if not address and not token:
            # A local Ray is token-protected; without this Ray would write a new token to
            # ~/.ray/auth_token. This run's token lives in its environment only.
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
            token = "RAY_AUTH_TOKEN"
        if token:
            # Ray sends a token to an explicit address only in token mode, and a local Ray
            # started here runs in it (as ray.init makes a new local Ray).
            set_auth_mode_token()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="WARNING")
            return None
        # a new Ray, even where `ray start` left an address to find
        return start_local(ray, settings)
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
        restore_handlers(handlers)


def restore_handlers(handlers: Mapping[Any, Any]) -> None:
    """Ray's start-up installs its own SIGTERM handler; the run's handler (an interrupt:
    exit 130, status interrupted, resumable) must stay the one that acts."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in handlers.items():
        if callable(handler) and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


# ---------------------------------------------------------------------- placement


def alive_nodes() -> list[dict[str, Any]]:
    out = []
    for node in import_ray().nodes():
        if node.get("Alive"):
            res = node.get("Resources", {})
            out.append({"node_id": node.get("NodeID"), "address": node.get("NodeManagerAddress"),
                        "cpus": res.get("CPU", 0), "gpus": res.get("GPU", 0)})
    return out


def actor_shape(settings: RaySettings) -> dict[str, float]:
    shape = {"CPU": settings.cpus_per_actor}
    if settings.gpus_per_actor > 0:
        shape["GPU"] = settings.gpus_per_actor
    return shape


def shape_text(settings: RaySettings) -> str:
    return " + ".join(f"{v:g} {k}" for k, v in actor_shape(settings).items())


def nodes_text(nodes: list[dict[str, Any]]) -> str:
    return ", ".join(f"{n['address']} ({n['cpus']:g} CPU, {n['gpus']:g} GPU)"
                     for n in nodes) or "none"


def fits(settings: RaySettings, nodes: list[dict[str, Any]]) -> int:
    """How many actors the nodes hold, each actor on one node."""
    total = 0
    for node in nodes:
        have = {"CPU": node["cpus"], "GPU": node["gpus"]}
        total += int(min(have[k] // v for k, v in actor_shape(settings).items()))
    return total


def check_placement(settings: RaySettings, started_here: bool) -> None:
    """Refuse, in seconds, a pool the cluster cannot hold; wait (bounded) for workers of a kind
    no node has yet, unless the Ray was started here (nothing will join it)."""
    waited_from = time.monotonic()
    last_log = 0.0
    shape = shape_text(settings)
    while True:
        nodes = alive_nodes()
        kinds = {"CPU": "cpus", "GPU": "gpus"}
        missing = [k for k in actor_shape(settings) if not any(n[kinds[k]] > 0 for n in nodes)]
        if not missing or started_here:
            break
        waited = time.monotonic() - waited_from
        if waited >= settings.wait_for_workers_s:
            raise EngineError(
                f"the Ray cluster has no node that can hold an actor of {shape} "
                f"(none has {' or '.join(missing)}s) after waiting {waited:.0f}s "
                f"(ray.wait_for_workers_s) for one to join; nodes: {nodes_text(nodes)}")
        if waited - last_log >= WAIT_LOG_EVERY_S or last_log == 0.0:
            last_log = max(waited, 1e-9)
            print(f"waiting for a Ray node with {' and '.join(missing)}s for actors of "
                  f"{shape} ({waited:.0f}s of {settings.wait_for_workers_s:g}s, "
                  f"ray.wait_for_workers_s)", flush=True, file=sys.stderr)
        time.sleep(min(TICK_S * 2, settings.wait_for_workers_s))
    held = fits(settings, nodes)
    if held < settings.actors:
        raise EngineError(
            f"the Ray cluster cannot hold {settings.actors} actors of {shape} each (an actor's "
            f"resources must be on one node): its nodes hold {held}: {nodes_text(nodes)}; "
            f"lower ray.actors or the per-actor resources")
