"""The ray engine on a real two-node Ray cluster started by this module (a token-protected head
and a second raylet on this machine, one CPU each, joined by address): the articles of a local
run, the pool started once for the whole run, a worker node killed mid-run, an input that kills
its worker process, SIGTERM on the driver, a shape no node can hold, and token auth.

The loaders below are module-level functions, so Ray pickles them by reference and the workers
(started with the repository root on PYTHONPATH) import this module to run them."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# This process is a driver of the cluster too, and Ray reads these early: set before Ray is
# imported, and the same as tests/test_ray.py sets (one process, one token).
TOKEN = "summarize-tests-" + "0" * 32
RAY_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}
os.environ.update(RAY_ENV)

import ray  # noqa: E402

from summarize.backends import load_backend  # noqa: E402
from tests import test_e2e  # noqa: E402
from tests.test_e2e import ENV, ROOT, _run_dirs, _wait, docs  # noqa: E402
from tests.test_ray import RAY_ENV as SHARED_ENV  # noqa: E402
from tests.test_ray import (  # noqa: E402
    WARM_UP_FIRST,
    _Wrapped,
    config,
    inputs,
    raising_loader,
    run,
    stored_rows,
)

assert SHARED_ENV == RAY_ENV, "tests/test_ray.py and this module must use one token"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

RAY_BIN = str(Path(sys.executable).parent / "ray")
NODE_ENV = {**ENV, **RAY_ENV, "PYTHONPATH": os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
# The CLI as a user runs it: the token alone (summarize sets RAY_AUTH_MODE=token itself).
USER_ENV = {k: v for k, v in NODE_ENV.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A head and one worker node, each `ray start --block` in its own process group, so
    each can be killed (node loss) and the whole stopped without `ray stop`, which would stop
    every Ray on the machine."""

    def __init__(self, root: Path, head_cpus: int = 1, worker: bool = True):
        self.root = root
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.head = self._node("head", "--head", f"--port={self.port}", "--include-dashboard=false",
                               "--disable-usage-stats", cpus=head_cpus)
        self._until_reachable()
        self.worker: subprocess.Popen[bytes] | None = self.add_worker() if worker else None

    def _node(self, name: str, *args: str, cpus: int = 1) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        return subprocess.Popen([RAY_BIN, "start", "--block", f"--num-cpus={cpus}", *args],
                                env=NODE_ENV, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _until_reachable(self) -> None:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the test's Ray head did not come up: {self.root}")

    def add_worker(self) -> subprocess.Popen[bytes]:
        return self._node("worker", f"--address={self.address}")

    def alive_nodes(self) -> int:
        return sum(1 for n in ray.nodes() if n.get("Alive"))

    def wait_nodes(self, n: int) -> None:
        for _ in range(240):
            if self.alive_nodes() >= n:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the test's Ray cluster has {self.alive_nodes()} nodes, not {n}")

    def kill_worker(self) -> None:
        """The worker node lost: its `ray start`, raylet and agents (one process group) and
        its actors, which the raylet started in groups of their own, all at once."""
        assert self.worker is not None
        procs = _processes()
        doomed = {pid for pid, (_, group, _) in procs.items() if group == self.worker.pid}
        while True:  # and every descendant
            more = {pid for pid, (parent, _, _) in procs.items()
                    if parent in doomed and pid not in doomed}
            if not more:
                break
            doomed |= more
        os.killpg(self.worker.pid, signal.SIGKILL)
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.worker.wait(timeout=30)

    def stop(self) -> None:
        nodes = [p for p in (self.worker, self.head) if p is not None]
        for proc in nodes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in nodes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in nodes:  # raylets and GCS: the rest of each group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("ray-cluster"))
    try:
        ray.init(address=c.address, log_to_driver=False)
        c.wait_nodes(2)
        yield c
    finally:
        ray.shutdown()
        c.stop()


@pytest.fixture
def two_nodes(cluster):
    """The cluster with its worker node up (a test before may have killed it)."""
    if cluster.worker is None or cluster.worker.poll() is not None:
        cluster.worker = cluster.add_worker()
    cluster.wait_nodes(2)
    for _ in range(120):  # the actors of the test before are gone
        if ray.available_resources().get("CPU", 0) >= 2:
            break
        time.sleep(0.5)
    return cluster


def cli(*args: str, env: dict[str, str] = USER_ENV, timeout: float = 300):
    return test_e2e.cli(*args, env=env, timeout=timeout)


# ---------------------------------------------------------------------- loaders for the workers


def exit_loader(spec, *, device="auto", dtype="auto", weights=True, trigger="POISON"):
    """A model whose worker process exits on a Korean batch holding ``trigger``: an input that
    kills whatever runs it."""
    backend = load_backend(spec, device=device, dtype=dtype, weights=weights)
    if not weights:
        return backend
    inner_generate = backend.generate_batch

    class _Exits(_Wrapped):
        def generate_batch(self, texts, target_lang, settings):
            if target_lang == "ko" and any(trigger in t for t in texts):
                os._exit(1)
            return inner_generate(texts, target_lang, settings)

    return _Exits(backend, lambda texts: None)


def korean_raising_loader(spec, *, device="auto", dtype="auto", weights=True):
    """The local twin of exit_loader: the same input fails, by an exception."""
    backend = raising_loader(spec, device=device, dtype=dtype, weights=weights, trigger="POISON",
                             error="cannot decode this input")
    if not weights:
        return backend
    plain = load_backend(spec, device=device, dtype=dtype, weights=weights)

    class _KoOnly(_Wrapped):
        def generate_batch(self, texts, target_lang, settings):
            if target_lang == "ko":
                return backend.generate_batch(texts, target_lang, settings)
            return plain.generate_batch(texts, target_lang, settings)

    return _KoOnly(plain, lambda texts: None)


def both_actors_loader(spec, *, device="auto", dtype="auto", weights=True, markers=""):
    """The plain model, except that an actor's first Korean batch waits (at most 120 s) until
    the other actor has one too: a small run cannot end on the actor that started first."""
    backend = load_backend(spec, device=device, dtype=dtype, weights=weights)
    if not weights:
        return backend
    mine = Path(markers) / str(os.getpid())
    inner_generate = backend.generate_batch

    class _Meets(_Wrapped):
        def generate_batch(self, texts, target_lang, settings):
            if target_lang == "ko" and not texts[0].startswith(WARM_UP_FIRST) and not mine.exists():
                mine.touch()
                deadline = time.monotonic() + 120
                while len(list(Path(markers).iterdir())) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
            return inner_generate(texts, target_lang, settings)

    return _Meets(backend, lambda texts: None)


def dies_loading_loader(spec, *, device="auto", dtype="auto", weights=True):
    """Every worker process exits while loading the model's weights."""
    if weights:
        os._exit(1)
    return load_backend(spec, device=device, dtype=dtype, weights=weights)


def _processes() -> dict[int, tuple[int, int, bytes]]:
    """Every process: pid -> (parent pid, process group, command line)."""
    procs: dict[int, tuple[int, int, bytes]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            procs[int(stat.parent.name)] = (int(fields[1]), int(fields[2]),
                                            (stat.parent / "cmdline").read_bytes())
        except (OSError, IndexError, ValueError):
            continue
    return procs


def _generating_in(pgid: int) -> bool:
    """Whether an actor of a node is running a batch now (Ray titles it
    ``ray::GenerateActor.run`` meanwhile). A node's actors are children of its raylet, which
    is in the process group of the node's `ray start` (the actors have groups of their own)."""
    procs = _processes()
    return any(title.startswith(b"ray::GenerateActor.run") and procs.get(parent, (0, 0))[1] == pgid
               for parent, _, title in procs.values())


# ---------------------------------------------------------------------- tests

SMALL_BATCHES = {"max_batch_tokens": 2048, "max_batch_size": 4, "window_articles": 2}


def _same_articles(a: Path, b: Path, skip: tuple[str, ...] = ()) -> None:
    keys = docs(a).keys()
    assert keys == docs(b).keys()
    for key in keys:
        if key not in skip:
            assert (a / "articles" / f"{key}.json").read_bytes() == \
                (b / "articles" / f"{key}.json").read_bytes(), key


def test_two_nodes_write_the_local_articles_with_one_pool_for_the_run(tiny_models, tmp_path,
                                                                      two_nodes):
    """Two windows x (summaries with map-reduce levels, ko, zh-Hans): one pool, one start per
    actor, each model loaded at most once per actor, work on both nodes, local's bytes."""
    inp = inputs(tmp_path)
    cfg = config(tiny_models, tmp_path, batch=SMALL_BATCHES)
    local = run(inp, cfg, tmp_path / "local")
    markers = tmp_path / "first-batches"
    markers.mkdir()
    remote = run(inp, cfg, tmp_path / "ray", engine="ray", **{"ray.actors": 2},
                 loader=functools.partial(both_actors_loader, markers=str(markers)))
    _same_articles(local.run.path, remote.run.path)
    assert sorted(stored_rows(tmp_path / "ray")) == sorted(stored_rows(tmp_path / "local"))
    engine = remote.manifest["engine"]
    assert len(engine["nodes"]) == 2
    assert engine["pool_starts"] == 1 and engine["actor_starts"] == 2
    assert 3 <= engine["model_loads"] <= 3 * 2  # summariser + two translators, per actor
    assert engine["actor_deaths"] == 0
    busy = {a["node_id"] for a in engine["actors"] if a["batches"]}
    assert len(busy) == 2, engine["actors"]


def test_worker_node_killed_mid_run_completes_with_every_row_once(tiny_models, tmp_path,
                                                                  two_nodes):
    inp = inputs(tmp_path, n=16)
    cfg = config(tiny_models, tmp_path, batch=SMALL_BATCHES, ray={"actors": 2})
    local = run(inp, cfg, tmp_path / "local")
    out = tmp_path / "out"
    proc = test_e2e.start("run", str(inp), "--config", str(cfg), "--out", str(out), "--quiet",
                          "--ray-address", two_nodes.address, env=USER_ENV)
    # killed while its actor generates a batch, with rows already stored
    reached = _wait(lambda: (out / "memory.sqlite").exists() and len(stored_rows(out)) >= 2
                    and _generating_in(two_nodes.worker.pid), proc)
    two_nodes.kill_worker()
    _, stderr = proc.communicate(timeout=600)
    assert reached, stderr[-2000:]
    assert proc.returncode == 0, stderr[-3000:]
    [run_dir] = _run_dirs(out)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["engine"]["actor_deaths"] >= 1, "the node was killed after the run"
    rows = stored_rows(out)
    assert len(rows) == len(set(rows)) == manifest["counts"]["segments_computed"]
    assert sorted(rows) == sorted(stored_rows(tmp_path / "local"))
    _same_articles(local.run.path, run_dir)


def test_input_that_kills_its_worker_fails_only_its_article(tiny_models, tmp_path, two_nodes):
    """Bisected down to the one input, which fails its article (exit 3 on the CLI); the other
    articles are local's. Bounded: the run ends by itself. No retries and batches of two keep
    the worker deaths (each a new actor loading its models) few; test_ray_units covers the
    retries."""
    inp = inputs(tmp_path)
    (inp / "a1.txt").write_text("A POISON story\n\nThe POISON sentence is here. Another one.\n")
    cfg = config(tiny_models, tmp_path, batch={**SMALL_BATCHES, "max_batch_size": 2})
    local = run(inp, cfg, tmp_path / "local", loader=korean_raising_loader)
    remote = run(inp, cfg, tmp_path / "ray", loader=exit_loader, engine="ray",
                 **{"ray.actors": 2, "ray.max_batch_retries": 0})
    assert local.articles_failed == remote.articles_failed == 1
    assert remote.manifest["status"] == "complete"
    errors = (remote.run.path / "errors.jsonl").read_text()
    assert "a1" in errors and "died" in errors
    engine = remote.manifest["engine"]
    # the two Korean texts holding POISON (the title and a sentence), each failed on its own
    assert engine["inputs_failed"] == 2 and engine["bisections"] >= 1
    assert engine["batch_retries"] == 0 and engine["actor_deaths"] >= 3
    _same_articles(local.run.path, remote.run.path, skip=("a1",))


def test_actors_dying_at_start_up_stop_the_run_with_one_message(tiny_models, tmp_path,
                                                                two_nodes):
    from summarize.errors import EngineError

    with pytest.raises(EngineError, match="keep dying while starting or loading"):
        run(inputs(tmp_path, n=1), config(tiny_models, tmp_path), tmp_path / "ray",
            loader=dies_loading_loader, engine="ray", **{"ray.max_start_failures": 2})


def test_sigterm_on_the_driver_is_interrupted_and_resumes(tiny_models, tmp_path, two_nodes):
    inp = inputs(tmp_path, n=6)
    cfg = config(tiny_models, tmp_path, batch=SMALL_BATCHES, ray={"actors": 2})
    out = tmp_path / "out"
    args = ("run", str(inp), "--config", str(cfg), "--out", str(out), "--quiet",
            "--ray-address", two_nodes.address)
    proc = test_e2e.start(*args, env=USER_ENV)
    reached = _wait(lambda: (out / "memory.sqlite").exists() and len(stored_rows(out)) >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert reached, stderr[-2000:]
    assert proc.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr and "SIGTERM received" not in stderr
    [stopped] = _run_dirs(out)
    assert json.loads((stopped / "manifest.json").read_text())["status"] == "interrupted"
    for _ in range(120):  # its actors are released: the cluster's CPUs are free again
        if ray.available_resources().get("CPU", 0) >= 2:
            break
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) >= 2
    before = len(stored_rows(out))

    done = cli(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((stopped / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] is True
    rows = stored_rows(out)
    assert len(rows) == len(set(rows)) == before + manifest["counts"]["segments_computed"]


def test_actor_no_node_can_hold_is_refused_naming_shape_and_nodes(tiny_models, tmp_path,
                                                                 two_nodes):
    """Two CPUs per actor on two one-CPU nodes: three CPUs in all, but no node holds one actor.
    Also: token auth with the token file and address auto (Ray found through RAY_ADDRESS)."""
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(TOKEN)
    env = {k: v for k, v in USER_ENV.items() if k != "RAY_AUTH_TOKEN"}
    env.update(HOME=str(home), RAY_ADDRESS=two_nodes.address)
    cfg = config(tiny_models, tmp_path, ray={"cpus_per_actor": 2})
    result = cli("run", str(inputs(tmp_path, n=1)), "--config", str(cfg), "--out",
                 str(tmp_path / "out"), "--ray-address", "auto", env=env, timeout=120)
    assert result.returncode == 4, result.stderr
    assert "cannot hold 1 actors of 2 CPU each" in result.stderr
    assert result.stderr.count("(1 CPU, 0 GPU)") == 2, result.stderr  # both nodes named
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("token", [None, "wrong-" + "2" * 40])
def test_missing_or_wrong_token_says_so(tiny_models, tmp_path, two_nodes, token):
    env = {k: v for k, v in USER_ENV.items() if k != "RAY_AUTH_TOKEN"}
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token there
    if token:
        env["RAY_AUTH_TOKEN"] = token
    result = cli("run", str(inputs(tmp_path, n=1)), "--config", str(config(tiny_models, tmp_path)),
                 "--out", str(tmp_path / "out"), "--ray-address", two_nodes.address, env=env,
                 timeout=180)
    assert result.returncode == 4, result.stderr
    assert f"cannot join the Ray cluster at {two_nodes.address}" in result.stderr
    assert ("auth token is missing" if token is None else "auth token is not the one in "
            "RAY_AUTH_TOKEN") in result.stderr
    assert not (tmp_path / ".ray" / "auth_token").exists()


def test_ray_client_address_is_refused_at_config_load(tiny_models, tmp_path):
    result = cli("run", str(inputs(tmp_path, n=1)), "--config", str(config(tiny_models, tmp_path)),
                 "--out", str(tmp_path / "out"), "--ray-address", "ray://127.0.0.1:10001",
                 timeout=60)
    assert result.returncode != 0 and "Ray Client" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
