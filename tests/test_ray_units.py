"""The ray engine's decisions that need no cluster: what happens to a batch whose worker died,
which pools fit on which nodes, the ray:// refusal, and progress totals over windows."""

from __future__ import annotations

import io
import os
import signal
from collections import deque
from typing import Any

import pytest

from summarize.config import Config, RaySettings
from summarize.engines.ray_cluster import RayEngine
from summarize.engines.ray_connect import deferred_signals, fits
from summarize.engines.ray_jobs import Job as _Job
from summarize.errors import ConfigError
from summarize.progress import LogProgress


def _engine(**ray: Any) -> RayEngine:
    cfg = Config.model_validate({
        "summarizer": {"model": "s"}, "translators": {"ko": {"model": "k"}, "zh-Hans": {"model": "z"}},
        "languages": ["ko", "zh-Hans"], "engine": "ray", "ray": ray})
    return RayEngine(cfg, loader=lambda *a, **k: None)  # type: ignore[arg-type,return-value]


def _deaths(engine: RayEngine, job: _Job) -> tuple[list[_Job], list[Any]]:
    queue: deque[_Job] = deque()
    results = list(engine._after_death(job, queue))
    return list(queue), results


def test_a_job_lost_with_an_innocent_actor_is_sent_again_as_is():
    queue, results = _deaths(_engine(), _Job(["ko"], ["a", "b"], deaths=0))
    assert [j.texts for j in queue] == [["a", "b"]] and results == []


def test_a_killing_batch_is_retried_then_bisected_then_its_one_input_fails():
    engine = _engine(max_batch_retries=1)
    queue, results = _deaths(engine, _Job(["ko"], ["a", "b", "c"], deaths=1, last_death="x"))
    assert [j.texts for j in queue] == [["a", "b", "c"]] and engine.counts["batch_retries"] == 1

    queue, results = _deaths(engine, _Job(["ko"], ["a", "b", "c"], deaths=2, last_death="x"))
    assert [j.texts for j in queue] == [["a"], ["b", "c"]]
    assert all(j.deaths == 1 for j in queue), "each half gets one try before it is split again"
    assert results[0].stats.error_splits == 1 and engine.counts["bisections"] == 1

    queue, results = _deaths(engine, _Job(["ko"], ["b"], deaths=2, last_death="ActorDiedError: y"))
    assert queue == []
    [failed] = results
    assert failed.langs == ("ko",) and list(failed.failures) == ["b"]
    assert "died 2 time(s)" in failed.failures["b"] and "ActorDiedError: y" in failed.failures["b"]
    assert engine.counts["inputs_failed"] == 1


def test_no_retries_bisects_at_the_first_death():
    queue, _ = _deaths(_engine(max_batch_retries=0), _Job([None], ["a", "b"], deaths=1))
    assert [j.texts for j in queue] == [["a"], ["b"]]


def _node(cpus: float, gpus: float = 0) -> dict[str, Any]:
    return {"address": "10.0.0.1", "cpus": cpus, "gpus": gpus}


@pytest.mark.parametrize(("ray", "nodes", "held"), [
    ({"cpus_per_actor": 2}, [_node(1), _node(1)], 0),         # 2 CPUs in all, none on one node
    ({"cpus_per_actor": 1}, [_node(1), _node(3)], 4),
    ({"cpus_per_actor": 1, "gpus_per_actor": 0.5}, [_node(8, 1), _node(8, 0)], 2),
    ({"cpus_per_actor": 4, "gpus_per_actor": 1}, [_node(6, 2)], 1),
])
def test_actors_are_counted_per_node(ray, nodes, held):
    assert fits(_engine(**ray).settings, nodes) == held


def test_ray_client_addresses_are_refused_at_config_load():
    with pytest.raises(ValueError, match="Ray Client"):
        RaySettings(address="ray://head:10001")
    assert RaySettings(address="head:6379").address == "head:6379"


def test_ray_client_address_in_a_config_file_is_a_config_error(tmp_path):
    from summarize.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text("summarizer: {model: s}\ntranslators: {ko: {model: k}, zh-Hans: {model: z}}\n"
                    "ray: {address: 'ray://head:10001'}\n")
    with pytest.raises(ConfigError, match="Ray Client"):
        load_config(path, {})


def test_plain_progress_totals_add_up_over_windows():
    buf = io.StringIO()
    p = LogProgress(stream=buf, every=0.0)
    p.start("segments", 10)  # window 1
    p.advance("segments", 10)
    p.start("segments", 4)  # window 2
    p.advance("segments", 3)
    assert buf.getvalue().splitlines()[-1].endswith("segments 13/14")


def test_signals_while_the_local_ray_node_starts_wait_for_it():
    """A SIGTERM or SIGINT while the run's Ray node starts is recorded, not acted on, and the
    run's own handlers are back after (the start then stops the node and raises the signal)."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        with deferred_signals() as got:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
        assert got == [signal.SIGTERM, signal.SIGINT]
        assert signal.getsignal(signal.SIGTERM) is interrupt
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
