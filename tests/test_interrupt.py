"""Ctrl-C stops a long kernel within about a second and leaves its objects usable.

Each case runs ``interrupt_worker.py`` in a subprocess (a call that takes well over 5 s on
the project's machine), sends SIGINT one second after the call starts, and expects the child
to raise ``KeyboardInterrupt`` within :data:`DEADLINE` seconds of the signal and then to get
the same result as before from the object it used. A kernel that ignores the signal fails
the test at the deadline (the child is killed), it never hangs the suite.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("interrupt_worker.py")
#: Seconds between SIGINT and the child's "interrupted" line.
DEADLINE = 2.0
#: Seconds the child may take to build its inputs.
SETUP_TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGINT delivery")


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line.strip())
    sink.put(None)


def _next_line(lines: queue.Queue, timeout: float) -> str | None:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


@pytest.mark.parametrize(
    "case",
    [
        "infonce_streamed",
        "infonce_symmetric_streamed",
        "topk",
        "weighted_miner",
        "graph_miner",
        "eigenvalues_sparse",
        "eigenvalues_expander",
        "adamw_steps",
        "concurrent_topk",
    ],
)
def test_sigint_interrupts_the_call_and_leaves_objects_unchanged(case: str) -> None:
    child = subprocess.Popen(
        [sys.executable, str(WORKER), case],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(child.stdout, lines), daemon=True).start()
    try:
        assert _next_line(lines, SETUP_TIMEOUT) == "ready", child.stderr
        time.sleep(1.0)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        marker = _next_line(lines, DEADLINE)
        waited = time.monotonic() - sent
        assert marker == "interrupted", (
            f"{case}: no KeyboardInterrupt {waited:.1f} s after SIGINT (got {marker!r})"
        )
        assert _next_line(lines, 60.0) == "intact", child.stderr.read()
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
