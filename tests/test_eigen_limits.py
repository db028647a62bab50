"""SpectralRegularization.eigenvalues under memory limits, iteration caps and tolerances.

Memory: each case runs in a subprocess under ``RLIMIT_AS`` of about 2 GB and must end with a
result or a ``MemoryError`` (the script exits 0), never an abort (134 / -6) or the
out-of-memory killer (-9). Nodes no edge touches are only counted, so huge ``num_nodes`` with
few edges is answered (zeros) in O(E) memory; a solve that genuinely needs more memory than
allowed raises ``MemoryError`` naming ``num_nodes`` before it starts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import ruvector_training as rt
from reference_losses import laplacian

LIMIT = 2 * 1024**3

PRELUDE = f"""
import resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))
import ruvector_training as rt
spectral = rt.SpectralRegularization()
"""


def run_limited(body: str) -> str:
    """Runs ``body`` after :data:`PRELUDE` in a fresh interpreter; returns its stdout, failing
    the test on any non-zero exit status (an abort or a kill)."""
    script = PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
    return done.stdout


EXPECT_MEMORY_ERROR = """
try:
    spectral.eigenvalues({call})
except MemoryError as error:
    print("MemoryError:", error)
else:
    print("no error")
"""


@pytest.mark.parametrize("method", ["auto", "sparse", "dense"])
@pytest.mark.parametrize("num_nodes", [2**28, 2**31])
def test_huge_num_nodes_with_few_edges_costs_only_the_edges(num_nodes, method):
    out = run_limited(
        f"""
        edges = np.array([[0, 1], [1, 2], [{num_nodes - 1}, 5]])
        print(spectral.eigenvalues({num_nodes}, edges, 3, method="{method}").tolist())
        """
    )
    assert out.strip() == "[0.0, 0.0, 0.0]"


@pytest.mark.parametrize(
    ("call", "name"),
    [
        # The dense EVD of a 30,000-node path: ~21 GB.
        (
            "30_000, np.stack([np.arange(29_999), np.arange(1, 30_000)], 1), 5, method='dense'",
            "num_nodes",
        ),
        # A Krylov basis of thousands of columns on 2M nodes: terabytes.
        (
            "2_000_000, np.stack([np.arange(1_999_999), np.arange(1, 2_000_000)], 1), 5000,"
            " method='sparse'",
            "num_nodes",
        ),
        # The (k,) result of 2**35 zeros alone: 256 GB.
        ("2**40, np.array([[0, 1]]), 2**35", "k"),
    ],
    ids=["dense", "sparse-basis", "output"],
)
def test_oversized_solves_raise_memory_error_naming_the_argument(call, name):
    out = run_limited(EXPECT_MEMORY_ERROR.format(call=call))
    assert out.startswith(f"MemoryError: {name}:"), out


def expander(n: int, e: int, seed: int) -> np.ndarray:
    """A random graph on a spanning path plus ``e`` random edges (no small separators: the
    sparse solver skips the Cholesky factor and iterates on ``c I - L``)."""
    rng = np.random.default_rng(seed)
    path = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)
    return np.concatenate([path, rng.integers(0, n, size=(e, 2))])


def test_max_iterations_reached_raises_runtime_error_with_the_residual():
    edges = expander(4000, 20_000, 1)
    spectral = rt.SpectralRegularization()
    with pytest.raises(RuntimeError, match=r"^max_iterations: .*residual .* tol = ") as info:
        spectral.eigenvalues(4000, edges, 8, method="sparse", max_iterations=2)
    assert "did not converge in 2 iterations" in str(info.value)


@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
def test_loose_tol_returns_values_within_tol(normalized):
    n = 1500
    edges = expander(n, 7500, 2)
    spectral = rt.SpectralRegularization(normalized=normalized)
    want = np.linalg.eigvalsh(laplacian(n, edges, None, normalized=normalized))[:12]
    for tol in (1e-3, 1e-6):
        got = spectral.eigenvalues(n, edges, 12, method="sparse", tol=tol)
        assert np.all(np.abs(got - want) <= tol), (tol, got - want)
    # Default: the 1e-10 * ||L|| residual check.
    got = spectral.eigenvalues(n, edges, 12, method="sparse", max_iterations=10_000)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_options_are_validated_by_name():
    spectral = rt.SpectralRegularization()
    edges = np.array([[0, 1], [1, 2]])
    for value in (0, -1, 2**70):
        with pytest.raises(ValueError, match=r"^max_iterations\b"):
            spectral.eigenvalues(3, edges, 2, max_iterations=value)
    for value in (1.5, "3"):
        with pytest.raises(TypeError, match=r"^max_iterations\b"):
            spectral.eigenvalues(3, edges, 2, max_iterations=value)
    for value in (0.0, -1e-3, float("nan"), float("inf"), 10**400):
        with pytest.raises(ValueError, match=r"^tol\b"):
            spectral.eigenvalues(3, edges, 2, tol=value)
    for value in ("1e-3", True, None.__class__):
        with pytest.raises(TypeError, match=r"^tol\b"):
            spectral.eigenvalues(3, edges, 2, tol=value)
    # None means automatic; valid values pass through (the dense path ignores them).
    got = spectral.eigenvalues(3, edges, 3, max_iterations=None, tol=None)
    np.testing.assert_allclose(got, [0.0, 1.0, 2.0], atol=1e-12)
    got = spectral.eigenvalues(3, edges, 3, max_iterations=np.int64(7), tol=np.float32(1e-4))
    np.testing.assert_allclose(got, [0.0, 1.0, 2.0], atol=1e-12)


@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
def test_expanders_with_components_and_isolated_nodes_match_eigvalsh(normalized):
    # Two random expanders (their factors fill in: the filtered subspace iteration runs), a
    # third copy of the first (every eigenvalue repeated), a pair and isolated nodes.
    a, b = expander(1300, 6500, 3), expander(1100, 5000, 4)
    edges = np.concatenate([a, b + 1300, a + 2400, [[3700, 3701]]])
    n = 3710  # nodes 3702..3709 isolated
    spectral = rt.SpectralRegularization(normalized=normalized)
    want = np.linalg.eigvalsh(laplacian(n, edges, None, normalized=normalized))
    for k in (3, 12, 40):
        got = spectral.eigenvalues(n, edges, k, method="sparse")
        np.testing.assert_allclose(got, want[:k], rtol=0, atol=1e-8)
        assert np.all(got[:11] == 0.0)
    # Repeated eigenvalues are both found: the two copies of component a.
    got = spectral.eigenvalues(n, edges, 40, method="sparse")
    assert np.sum(np.abs(got - want[11]) < 1e-8) >= 1


def test_expander_time_grows_about_linearly_with_k():
    # 30,000 nodes, 150,000 edges: the breadth-first test skips the Cholesky ordering.
    n = 30_000
    edges = np.random.default_rng(5).integers(0, n, size=(5 * n, 2))
    spectral = rt.SpectralRegularization()
    times = {}
    for k in (10, 40):
        start = time.process_time()
        values = spectral.eigenvalues(n, edges, k, max_iterations=200)
        times[k] = time.process_time() - start
        assert values.shape == (k,) and np.all(np.diff(values) >= 0)
    # Roughly proportional to k: 4x the values may take at most ~10x the CPU time.
    assert times[40] <= 10 * times[10] + 1.0, times
