"""Environment helpers shared by the benchmark scripts in this folder."""

from __future__ import annotations

import os


def thread_count() -> int:
    """The thread count rayon uses: RAYON_NUM_THREADS, else the CPUs we may run on."""
    env = os.environ.get("RAYON_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
