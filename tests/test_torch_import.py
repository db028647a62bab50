"""Importing ``ruvector_training.torch`` without PyTorch says how to install it (simulated in
a subprocess by ``sys.modules['torch'] = None``, so it runs whether or not torch is installed)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["torch"] = None
try:
    import ruvector_training.torch
except ImportError as error:
    print(error)
else:
    print("imported")
import ruvector_training
print(ruvector_training.InfoNCELoss.__name__)
"""


def test_import_without_torch_names_the_extra():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == 'ruvector_training.torch needs PyTorch: pip install "ruvector-training[torch]"'
    assert out[1] == "InfoNCELoss"  # the NumPy-level package is unaffected
