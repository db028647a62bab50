"""Pytest configuration: a report header naming the library build under test.

Shared NumPy helpers live in ``helpers.py`` (batches, tolerances) and ``reference.py`` (the
reference implementation); this directory is on ``sys.path`` under pytest's default import mode.
"""

from __future__ import annotations

import signal

import ruvector_training as rt

# A shell starts background jobs with SIGINT ignored, and Python then never installs its
# KeyboardInterrupt handler: restore it, so the Ctrl-C tests mean the same in any shell.
signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config) -> str:
    """Names the extension under test, so a run's log says which build it checked."""
    return f"ruvector_training {rt.__version__} from {rt.__file__}"
