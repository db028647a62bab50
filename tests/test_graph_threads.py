"""The graph losses give bit-identical results on any thread count (each gradient row is written
by one task, in edge order): checked against a subprocess pinned to one rayon thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import ruvector_training as rt
from graph_cases import make_graph

SCRIPT = """
import sys
import numpy as np
import ruvector_training as rt
sys.path.insert(0, {tests!r})
from graph_cases import make_graph
z, edges = make_graph(11, 3000, 40000, 24, np.float32)
labels = np.arange(len(edges)) % 4 != 0
local = rt.LocalContrastiveLoss(margin=4.0)(z, edges, labels)
spectral = rt.SpectralRegularization()(z, edges)
np.savez({out!r}, local_loss=local[0], local_grad=local[1][0],
         spectral_loss=spectral[0], spectral_grad=spectral[1][0])
"""


def test_results_do_not_depend_on_the_thread_count(tmp_path: Path):
    out = tmp_path / "single.npz"
    tests = str(Path(__file__).parent)
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, "-c", SCRIPT.format(tests=tests, out=str(out))], env=env, check=True
    )
    single = np.load(out)
    z, edges = make_graph(11, 3000, 40000, 24, np.float32)
    labels = np.arange(len(edges)) % 4 != 0
    local = rt.LocalContrastiveLoss(margin=4.0)(z, edges, labels)
    spectral = rt.SpectralRegularization()(z, edges)
    assert local[0] == single["local_loss"] and spectral[0] == single["spectral_loss"]
    np.testing.assert_array_equal(local[1][0], single["local_grad"])
    np.testing.assert_array_equal(spectral[1][0], single["spectral_grad"])
