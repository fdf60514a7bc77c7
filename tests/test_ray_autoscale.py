"""An autoscaling cluster before its first worker: a head that offers no CPU (as a KubeRay head
with ``num-cpus: 0``) and no worker node, started by this module on this machine. The driver
waits up to ``ray.wait_for_workers_s`` saying so, then stops with exit 4 naming the actor's shape
and the nodes; a worker node that joins during the wait lets the run go on.

Its own module, so its cluster runs alone (test_ray_cluster's is stopped with its module)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_e2e import ROOT, _run_dirs
from tests.test_ray import config, inputs
from tests.test_ray_cluster import USER_ENV, Cluster

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

WAITING = "waiting for a Ray node with CPUs for actors of 1 CPU"


@pytest.fixture(scope="module")
def empty_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("ray-autoscale"), head_cpus=0, worker=False)
    try:
        yield c
    finally:
        c.stop()


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    """The CLI with its stderr in a file, to be read while it runs."""
    log = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "summarize", *args], env=USER_ENV,
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, text=True)
    return proc, log


def test_no_node_to_hold_an_actor_waits_then_exits_4_naming_shape_and_nodes(
        tiny_models, tmp_path, empty_cluster):
    cfg = config(tiny_models, tmp_path, ray={"wait_for_workers_s": 4})
    t0 = time.monotonic()
    proc, log = start(tmp_path, "run", str(inputs(tmp_path, n=1)), "--config", str(cfg),
                      "--out", str(tmp_path / "out"), "--ray-address", empty_cluster.address)
    rc = proc.wait(timeout=180)
    stderr = log.read_text()
    assert rc == 4, stderr
    assert f"{WAITING} (0s of 4s, ray.wait_for_workers_s)" in stderr
    assert "no node that can hold an actor of 1 CPU (none has CPUs)" in stderr
    assert "after waiting 4s (ray.wait_for_workers_s)" in stderr
    assert stderr.count("(0 CPU, 0 GPU)") == 1, stderr  # the one node, named
    assert "Traceback" not in stderr
    # the wait is bounded by the setting, not by Ray (start-up of the CLI and Ray aside)
    assert time.monotonic() - t0 < 120


def test_a_node_joining_during_the_wait_lets_the_run_go_on(tiny_models, tmp_path,
                                                           empty_cluster):
    cfg = config(tiny_models, tmp_path, ray={"wait_for_workers_s": 240})
    out = tmp_path / "out"
    proc, log = start(tmp_path, "run", str(inputs(tmp_path, n=1)), "--config", str(cfg),
                      "--out", str(out), "--ray-address", empty_cluster.address)
    try:
        deadline = time.monotonic() + 180
        while WAITING not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        empty_cluster.worker = empty_cluster.add_worker()
        rc = proc.wait(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = log.read_text()
    assert rc == 0, stderr[-3000:]
    [run_dir] = _run_dirs(out)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["engine"]["pool_starts"] == 1 and manifest["engine"]["actor_deaths"] == 0
    assert len(manifest["engine"]["nodes"]) == 2
