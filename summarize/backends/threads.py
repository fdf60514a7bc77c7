"""CPU threads of the model computations: one number per process.

torch's intra-op thread pool (the transformers backends) is process-wide:
``torch.set_num_threads`` applies to every model of the process, whichever asked. So the
thread count is process state, set by whoever owns the process (the run's ``Models`` from the
config's ``threads``; a Ray actor from the config or its ``num_cpus``) before it loads models:

1. ``threads`` in the config, if set;
2. else ``OMP_NUM_THREADS``, if set to a positive integer;
3. else one per core this process may run on (its CPU affinity).

Every backend loaded after that uses it: transformers and chat via ``torch.set_num_threads``
(two models in one process therefore always share one count: the last configured),
CTranslate2 as ``intra_threads`` of each Translator/Generator (``ct2.intra_threads`` still
overrides it per model), vLLM on a CPU as the cores its worker binds (only when 1. or 2.
gives a number; otherwise vLLM's own binding). Threads never change outputs (checked on the
tiny models at 1 and 2 threads), so they are not part of the output identity.
"""

from __future__ import annotations

import os

_configured: int | None = None


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def from_env() -> int | None:
    """``OMP_NUM_THREADS`` when it is one positive integer (OpenMP also allows lists: ignored)."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def configure(threads: int | None) -> None:
    """Set the process's thread count (None: OMP_NUM_THREADS, else one per core)."""
    global _configured
    _configured = threads


def explicit() -> int | None:
    """The configured count, else OMP_NUM_THREADS; None when neither says."""
    return _configured or from_env()


def resolved() -> int:
    """Threads a model computes with in this process."""
    return explicit() or cores()


def apply_torch() -> int:
    """Set torch's intra-op pool to ``resolved()`` (process-wide); returns it."""
    import torch

    n = resolved()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def cpu_list(n: int) -> str:
    """The first ``n`` cores this process may run on, as ``0,1,2`` (vLLM's CPU binding)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:
        allowed = list(range(os.cpu_count() or 1))
    return ",".join(str(c) for c in allowed[:max(1, n)])
