"""Kernels work in forked children after the parent used them (issue 13, "deadlock after fork").

rayon's global pool has no threads in a forked child, so a kernel running on it there waits
forever. The library runs kernels on pools of its own, forgotten in the child by a
``pthread_atfork`` handler and rebuilt on first use. Each scenario runs ``fork_worker.py`` in
a subprocess with a timeout (a regression fails instead of hanging the suite); the worker
checks that every child's results equal the parent's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("fork_worker.py")
TIMEOUT = 120.0

needs_fork = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")


def _run(scenario: str) -> None:
    try:
        done = subprocess.run(
            [sys.executable, str(WORKER), scenario],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"{scenario}: did not finish in {TIMEOUT:.0f} s (deadlock?): {hung.stderr}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ok", done.stdout


@needs_fork
def test_os_fork_child_and_grandchild_after_parent_call() -> None:
    _run("os_fork")


@needs_fork
def test_multiprocessing_fork_pool() -> None:
    _run("fork_pool")


def test_multiprocessing_spawn_pool() -> None:
    _run("spawn_pool")


@needs_fork
def test_fork_while_another_thread_runs_kernels() -> None:
    _run("fork_while_kernels_run")


@needs_fork
def test_torch_data_loader_fork_workers_mine_in_collate() -> None:
    pytest.importorskip("torch", reason="torch is not installed")
    _run("data_loader")
