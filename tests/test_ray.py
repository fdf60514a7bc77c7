"""The ray engine on a local Ray (2 CPUs, started once for this module) with the tiny models:
same articles as the local engine, a killed actor retried with nothing lost or stored twice, a
killed driver resumed, and the failures that must stop a run with one message (exit 4).

The loaders below are module-level functions, so Ray pickles them by reference and its workers
(which have the repository root on sys.path) import this module to run them."""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

# Ray 2.59+ protects a local cluster with a token; a CLI subprocess joining the module's Ray
# needs the same one. Ray reads these when it is imported, so they are set before.
RAY_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "summarize-tests-" + "0" * 32}
os.environ.update(RAY_ENV)

import ray  # noqa: E402
import yaml  # noqa: E402

from summarize.backends import load_backend  # noqa: E402
from summarize.config import load_config  # noqa: E402
from summarize.errors import EngineError, GenerationError  # noqa: E402
from summarize.pipeline.runner import Runner, RunOptions  # noqa: E402
from tests import test_e2e  # noqa: E402
from tests.test_e2e import ENV, ROOT, _run_dirs, _wait, docs, small_input  # noqa: E402
from tests.test_matrix import swapped  # noqa: E402

CLI_ENV = {**ENV, **RAY_ENV}
cli = functools.partial(test_e2e.cli, env=CLI_ENV)
start = functools.partial(test_e2e.start, env=CLI_ENV)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

LONG = " ".join(f"The committee met for the {i}th time to discuss the harbour, the rail line and "
                f"the new school budget of {i * 3} million dollars." for i in range(1, 30))


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module; its address lets CLI subprocesses join it."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def inputs(tmp_path: Path, n: int = 3) -> Path:
    inp = small_input(tmp_path, n)
    (inp / "long.txt").write_text(f"A long council story\n\n{LONG}\n\n{LONG}\n")
    return inp


def config(tiny: Path, tmp_path: Path, name: str = "config.yaml", **changes: Any) -> Path:
    data = yaml.safe_load((tiny / name).read_text())
    data.update(changes)
    path = tmp_path / f"{name}.{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(inp: Path, cfg_path: Path, out: Path, loader: Any = load_backend, **overrides: Any):
    cfg = load_config(cfg_path, overrides)
    return Runner(RunOptions(input=inp, out=out, config=cfg, check_models=cfg.model_check),
                  loader=loader).execute()


def stored_rows(out: Path) -> list[tuple[str, str, str]]:
    """Every stored (task, language, source); none while the run is still creating the file."""
    con = sqlite3.connect(out / "memory.sqlite", timeout=5)
    try:
        return con.execute("SELECT task, lang, source FROM units").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


# ---------------------------------------------------------------------- loaders for the workers

DRIVER_LOADS: list[bool] = []  # in this process only: what the driver asked to load


def spy_loader(spec, *, device="auto", dtype="auto", weights=True):
    DRIVER_LOADS.append(weights)
    return load_backend(spec, device=device, dtype=dtype, weights=weights)


class _Wrapped:
    """A loaded backend with its generate calls intercepted."""

    def __init__(self, inner, before):
        self._inner = inner
        self._before = before

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def generate_batch(self, texts, target_lang, settings):
        self._before(texts)
        return self._inner.generate_batch(texts, target_lang, settings)

    def generate_multi(self, texts, target_langs, settings):
        self._before(texts)
        return self._inner.generate_multi(texts, target_langs, settings)


WARM_UP_FIRST = "The city council approved"


def crash_once_loader(spec, *, device="auto", dtype="auto", weights=True, marker=""):
    """The first actor to get a real batch (not its warm-up) dies mid-batch, once."""
    backend = load_backend(spec, device=device, dtype=dtype, weights=weights)
    if not weights:
        return backend

    def before(texts):
        if not texts[0].startswith(WARM_UP_FIRST) and not os.path.exists(marker):
            Path(marker).write_text(str(os.getpid()))
            os._exit(1)

    return _Wrapped(backend, before)


def raising_loader(spec, *, device="auto", dtype="auto", weights=True, trigger="", error=""):
    """A model whose generate raises RuntimeError(error) on batches holding ``trigger`` (one
    bad input), or on every real batch when ``trigger`` is empty (a broken device)."""
    backend = load_backend(spec, device=device, dtype=dtype, weights=weights)
    if not weights:
        return backend

    def before(texts):
        hit = any(trigger in t for t in texts) if trigger else not texts[0].startswith(WARM_UP_FIRST)
        if hit:
            raise RuntimeError(error)

    return _Wrapped(backend, before)


poison_loader = functools.partial(raising_loader, trigger="POISON", error="cannot decode this input")
device_error_loader = functools.partial(
    raising_loader, error="CUDA error: an illegal memory access was encountered")


class _Relabelled(_Wrapped):
    def info(self):
        return {**self._inner.info(), "dtype": "bfloat16"}


def other_precision_loader(spec, *, device="auto", dtype="auto", weights=True):
    """Workers that run the model in another precision than the driver fingerprinted."""
    backend = load_backend(spec, device=device, dtype=dtype, weights=weights)
    return backend if not weights else _Relabelled(backend, lambda texts: None)


# ---------------------------------------------------------------------- tests


@pytest.mark.parametrize(("threads", "cpus", "want"), [(None, 2, 2), (1, 2, 1)])
def test_actors_compute_with_their_cpus_or_the_configured_threads(
        tiny_models, tmp_path, local_ray, threads, cpus, want):
    """An actor's models use ray.cpus_per_actor threads (not every core of the node), or the
    config's threads; its backend: auto is resolved on the actor (the manifest says what ran)."""
    inp = small_input(tmp_path, 1)
    data = yaml.safe_load((tiny_models / "config.yaml").read_text())
    for spec in [data["summarizer"], *data["translators"].values()]:
        spec["backend"] = "auto"
    cfg = config(tiny_models, tmp_path, summarizer=data["summarizer"],
                 translators=data["translators"], threads=threads)
    remote = run(inp, cfg, tmp_path / "ray", engine="ray",
                 **{"ray.actors": 1, "ray.cpus_per_actor": cpus})
    models = remote.manifest["models"]
    assert {m["threads"] for m in models} == {want}
    assert {(m["backend_setting"], m["backend"]) for m in models} == {("auto", "ctranslate2")}


@pytest.mark.parametrize(("name", "backend"), [("config.yaml", "transformers"),
                                               ("config-chat.yaml", "transformers"),
                                               ("shipped:gpu.yaml", "transformers"),
                                               ("shipped:cpu-fast.yaml", "ctranslate2")])
def test_ray_writes_the_articles_local_writes(tiny_models, tmp_path, local_ray, name, backend):
    """Byte-identical articles on both engines: one model per language (tiny NLLB + Marian,
    greedy), a chat model for all three tasks (its flagged replies travel back from the actors
    with their flags), one multilingual model for both languages (gpu.yaml: one generate for
    both) and CTranslate2 (cpu-fast.yaml); map-reduce summaries on Ray too; the same batches;
    the driver never loads weights. ``shipped:`` cases are configs/ profiles with their own settings
    (beam 4 everywhere, lengths, penalties; M2M100 for both languages in gpu.yaml), each model
    swapped for the tiny model of its family, as the settings matrix does."""
    inp = inputs(tmp_path)
    if name.startswith("shipped:"):
        data = swapped(ROOT / "configs" / name.removeprefix("shipped:"), tiny_models, backend)
        data["model_check"] = False
        cfg = tmp_path / "shipped.yaml"
        cfg.write_text(yaml.safe_dump(data))
    else:
        data = yaml.safe_load((tiny_models / name).read_text())
        for spec in data["translators"].values():
            spec["backend"] = backend
        cfg = config(tiny_models, tmp_path, name, translators=data["translators"])
    local = run(inp, cfg, tmp_path / "local")
    DRIVER_LOADS.clear()
    remote = run(inp, cfg, tmp_path / "ray", loader=spy_loader, engine="ray",
                 **{"ray.actors": 2})
    assert DRIVER_LOADS and not any(DRIVER_LOADS), "the driver loaded weights"

    a, b = docs(local.run.path), docs(remote.run.path)
    assert len(a) == 4 and a.keys() == b.keys()
    for key in a:
        assert (local.run.path / "articles" / f"{key}.json").read_bytes() == \
            (remote.run.path / "articles" / f"{key}.json").read_bytes(), key
    assert b["long"]["summary_levels"] >= 2, "the long article must take map-reduce levels"
    m_local, m_ray = local.manifest, remote.manifest
    assert m_ray["engine"]["engine"] == "ray" and m_local["engine"] == {"engine": "local"}
    assert m_ray["counts"] == m_local["counts"]
    for stage, stats in m_local["generation"].items():  # the same batches, packed the same way
        for field in ("unique", "batches", "source_tokens", "padded_tokens"):
            assert m_ray["generation"][stage][field] == stats[field], (stage, field)
    engine = m_ray["engine"]
    assert engine["nodes"] and engine["nodes"][0]["cpus"] == 2
    assert sum(a["batches"] for a in engine["actors"]) == sum(
        s["batches"] for s in m_local["generation"].values())
    assert all(a["pid"] != os.getpid() for a in engine["actors"])
    # an actor that got no batch loaded no model and has no device to report
    assert all(a["device"] == "cpu" for a in engine["actors"] if a["batches"])
    assert engine["pool_starts"] == 1 and engine["actor_starts"] == 2
    # the models entry says how the workers run each model, not the driver's view
    assert all(e["device"] == "cpu" for e in m_ray["models"])
    assert sorted(stored_rows(tmp_path / "ray")) == sorted(stored_rows(tmp_path / "local"))


def test_killed_actor_is_restarted_and_nothing_is_lost_or_doubled(tiny_models, tmp_path, local_ray):
    inp = inputs(tmp_path)
    cfg = config(tiny_models, tmp_path)
    local = run(inp, cfg, tmp_path / "local")
    marker = tmp_path / "crashed"
    remote = run(inp, cfg, tmp_path / "ray", engine="ray",
                 loader=functools.partial(crash_once_loader, marker=str(marker)))
    assert marker.exists(), "no actor was killed: the test proves nothing"
    assert int(marker.read_text()) != os.getpid()
    assert remote.manifest["status"] == "complete"
    for key in docs(local.run.path):
        assert (local.run.path / "articles" / f"{key}.json").read_bytes() == \
            (remote.run.path / "articles" / f"{key}.json").read_bytes(), key
    rows = stored_rows(tmp_path / "ray")
    assert len(rows) == len(set(rows)) == remote.manifest["counts"]["segments_computed"]
    assert sorted(rows) == sorted(stored_rows(tmp_path / "local"))


def test_bad_input_is_bisected_out_on_ray_as_locally(tiny_models, tmp_path, local_ray):
    inp = inputs(tmp_path)
    (inp / "a1.txt").write_text("A POISON story\n\nThe POISON sentence is here. Another one.\n")
    cfg = config(tiny_models, tmp_path)
    local = run(inp, cfg, tmp_path / "local", loader=poison_loader)
    remote = run(inp, cfg, tmp_path / "ray", loader=poison_loader, engine="ray")
    assert local.articles_failed == remote.articles_failed == 1
    assert remote.manifest["counts"] == local.manifest["counts"]
    errors = (remote.run.path / "errors.jsonl").read_text()
    assert "a1" in errors and "cannot decode this input" in errors
    for key in docs(local.run.path):
        assert (local.run.path / "articles" / f"{key}.json").read_bytes() == \
            (remote.run.path / "articles" / f"{key}.json").read_bytes(), key


def test_systemic_error_on_a_worker_stops_the_run(tiny_models, tmp_path, local_ray):
    with pytest.raises(GenerationError, match="illegal memory access"):
        run(inputs(tmp_path), config(tiny_models, tmp_path), tmp_path / "ray",
            loader=device_error_loader, engine="ray")


def test_worker_running_another_precision_stops_the_run(tiny_models, tmp_path, local_ray):
    with pytest.raises(EngineError, match="not the model the run fingerprinted"):
        run(inputs(tmp_path), config(tiny_models, tmp_path), tmp_path / "ray",
            loader=other_precision_loader, engine="ray")


def test_actor_pool_larger_than_the_cluster_is_refused(tiny_models, tmp_path, local_ray):
    with pytest.raises(EngineError, match="cannot hold 3 actors"):
        run(inputs(tmp_path), config(tiny_models, tmp_path), tmp_path / "ray", engine="ray",
            **{"ray.actors": 3})


def test_driver_sigkill_then_the_same_command_resumes(tiny_models, tmp_path, local_ray):
    inp = inputs(tmp_path, n=3)
    cfg = config(tiny_models, tmp_path, batch={"max_batch_tokens": 2048, "max_batch_size": 16,
                                                "window_articles": 2})
    out = tmp_path / "out"
    args = ("run", str(inp), "--config", str(cfg), "--out", str(out), "--quiet",
            "--ray-address", local_ray)
    proc = start(*args)
    reached = _wait(lambda: (out / "memory.sqlite").exists() and len(stored_rows(out)) >= 2, proc)
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert reached, stderr[-2000:]
    assert proc.returncode == -signal.SIGKILL
    [killed] = _run_dirs(out)
    assert json.loads((killed / "manifest.json").read_text())["status"] == "running"
    before = len(stored_rows(out))

    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert _run_dirs(out) == [killed]
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] is True
    assert manifest["engine"]["engine"] == "ray"
    assert manifest["counts"]["articles_ok"] == 4
    rows = stored_rows(out)
    assert len(rows) == len(set(rows)) == before + manifest["counts"]["segments_computed"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_cluster_is_exit_4_with_a_message(tiny_models, tmp_path):
    address = f"127.0.0.1:{_closed_port()}"
    result = cli("run", str(inputs(tmp_path)), "--config", str(config(tiny_models, tmp_path)),
                 "--out", str(tmp_path / "out"), "--ray-address", address, timeout=120)
    assert result.returncode == 4, result.stderr
    assert f"cannot reach the Ray cluster at {address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_address_auto_with_a_stale_recorded_cluster_fails_in_seconds(tiny_models, tmp_path):
    """`ray start` records its address in <tmp>/ray/ray_current_cluster; a cluster stopped
    without `ray stop` leaves it behind. auto must not wait minutes at it."""
    ray_tmp = tmp_path / "raytmp"
    (ray_tmp / "ray").mkdir(parents=True)
    address = f"127.0.0.1:{_closed_port()}"
    (ray_tmp / "ray" / "ray_current_cluster").write_text(address)
    env = {k: v for k, v in CLI_ENV.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = str(ray_tmp)
    start = time.monotonic()
    result = cli("run", str(inputs(tmp_path)), "--config", str(config(tiny_models, tmp_path)),
                 "--out", str(tmp_path / "out"), "--ray-address", "auto", env=env, timeout=120)
    assert result.returncode == 4, result.stderr
    assert f"cannot reach the Ray cluster at {address}" in result.stderr
    assert "ray_current_cluster" in result.stderr and "ray stop" in result.stderr
    assert time.monotonic() - start < 60
    assert "Traceback" not in result.stderr


def test_local_ray_that_cannot_start_is_exit_4(tiny_models, tmp_path):
    cfg = config(tiny_models, tmp_path, engine="ray",
                 ray={"object_store_memory": 2**50})  # a petabyte: Ray refuses to start
    env = {k: v for k, v in CLI_ENV.items() if k != "RAY_ADDRESS"}
    result = test_e2e.cli("run", str(inputs(tmp_path)), "--config", str(cfg),
                          "--out", str(tmp_path / "out"), env=env, timeout=120)
    assert result.returncode == 4, result.stderr
    assert "cannot start a local Ray" in result.stderr


LOCAL_RAY_SCRIPT = """
import json, os, sys
import ray
from summarize.config import RaySettings
from summarize.engines import ray_connect

def tree():
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            kids.setdefault(int(fields[1]), []).append((int(entry), cmd))
    out, todo = [], [os.getpid()]
    while todo:
        for pid, cmd in kids.get(todo.pop(), []):
            out.append(cmd)
            todo.append(pid)
    return out

local = ray_connect.connect(ray, None, RaySettings(num_cpus=1))
lean = local.node is not None
during = tree()
answer = ray.get(ray.remote(lambda: 42).remote(), timeout=120)
local.stop()
print(json.dumps({"lean": lean, "during": during, "after": tree(), "answer": answer,
                  "auth_mode": os.environ.get("RAY_AUTH_MODE")}))
"""


def test_a_runs_own_ray_has_no_monitors_and_stops_whole(tmp_path):
    """The Ray a run starts for itself has no autoscaler monitor (one node: nothing to scale;
    it ignores SIGTERM, which made every run's shutdown wait a second for it) and no log monitor
    (worker logs are not sent to the driver); it runs work, and stopping it leaves no Ray
    process behind."""
    env = {k: v for k, v in CLI_ENV.items() if k not in ("RAY_ADDRESS", *RAY_ENV)}
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token: the run's token is its own
    proc = subprocess.run([sys.executable, "-c", LOCAL_RAY_SCRIPT], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["lean"] and got["answer"] == 42
    assert got["auth_mode"] == "token"  # token-protected, as ray.init makes a new local Ray
    during = " ".join(got["during"])
    assert "gcs_server" in during and "raylet" in during
    assert "monitor.py" not in during, got["during"]  # neither monitor.py nor log_monitor.py
    assert not [c for c in got["after"] if "ray" in c], got["after"]
    assert not (tmp_path / ".ray" / "auth_token").exists()
