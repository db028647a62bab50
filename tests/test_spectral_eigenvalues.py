"""SpectralRegularization.eigenvalues: the k smallest eigenvalues of the same Laplacian the loss
uses, against ``numpy.linalg.eigvalsh`` of the dense Laplacian (random graphs with isolated
nodes, disconnected parts, duplicates and self-loops; Cora), against exact spectra (torus,
path), sparse vs dense on a 20,000-node graph, and bad inputs.

Reference: :func:`reference_losses.laplacian`. The contract is 1e-6 absolute; the solver checks
every value's residual to 1e-10 * ||L||, so the tests hold it to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from graph_cases import make_graph
from reference_losses import laplacian

ATOL = 1e-8
METHODS = ("auto", "dense", "sparse")


def reference(num_nodes, edges, k, weights=None, *, normalized=True) -> np.ndarray:
    lap = laplacian(num_nodes, edges, weights, normalized=normalized)
    return np.linalg.eigvalsh(lap)[:k]


def two_part_graph(seed: int, n: int, e: int) -> tuple[int, np.ndarray]:
    """Two random graphs side by side (each from :func:`make_graph`: an isolated node, a
    duplicate edge, a self-loop) plus a spanning path over the first part, so the first part is
    one large component and the second splits into many."""
    _, first = make_graph(seed, n, e, 1)
    _, second = make_graph(seed + 1, n, e // 4, 1)
    backbone = np.stack([np.arange(n - 2), np.arange(1, n - 1)], axis=1)
    edges = np.concatenate([first, backbone, second + n])
    return 2 * n, edges


def torus(a: int, b: int) -> np.ndarray:
    """Edges of the ``a x b`` torus (product of two cycles), 4-regular."""
    idx = np.arange(a * b).reshape(a, b)
    down = np.stack([idx.ravel(), np.roll(idx, -1, axis=0).ravel()], axis=1)
    right = np.stack([idx.ravel(), np.roll(idx, -1, axis=1).ravel()], axis=1)
    return np.concatenate([down, right])


def torus_spectrum(a: int, b: int) -> np.ndarray:
    """``D - W`` of the torus: ``4 - 2 cos(2 pi i / a) - 2 cos(2 pi j / b)``, sorted."""
    ci = np.cos(2 * np.pi * np.arange(a) / a)[:, None]
    cj = np.cos(2 * np.pi * np.arange(b) / b)[None, :]
    return np.sort((4 - 2 * ci - 2 * cj).ravel())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weights"])
@pytest.mark.parametrize(("n", "e"), [(12, 30), (300, 700), (1200, 2400)])
def test_random_graphs_match_eigvalsh(n, e, weighted, normalized, method):
    num_nodes, edges = two_part_graph(n + e, n, e)
    rng = np.random.default_rng(n)
    weights = rng.uniform(0.0, 2.0, size=len(edges)) if weighted else None
    want = np.linalg.eigvalsh(laplacian(num_nodes, edges, weights, normalized=normalized))
    spectral = rt.SpectralRegularization(normalized=normalized)
    zeros = int(np.sum(want < 1e-9))
    for k in sorted({1, zeros + 1, zeros + 10, min(num_nodes, zeros + 40)}):
        got = spectral.eigenvalues(num_nodes, edges, k, weights, method=method)
        assert got.dtype == np.float64 and got.shape == (k,)
        assert np.all(np.diff(got) >= 0)
        np.testing.assert_allclose(got, want[:k], rtol=0, atol=ATOL)


@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
def test_every_eigenvalue_of_small_graphs(normalized):
    for seed, n, e in [(0, 2, 1), (1, 3, 0), (2, 7, 9), (3, 40, 70)]:
        _, edges = make_graph(seed, n, e, 1)
        weights = np.random.default_rng(seed).uniform(0.0, 3.0, size=e).astype(np.float32)
        got = rt.SpectralRegularization(normalized=normalized).eigenvalues(n, edges, n, weights)
        np.testing.assert_allclose(
            got, reference(n, edges, n, weights, normalized=normalized), rtol=0, atol=ATOL
        )


def test_matches_the_loss_laplacian():
    """The eigenvalues are those of the L whose quadratic form the loss computes: for the
    eigenvector basis U of the reference L, loss(U) / lam equals the eigenvalue sum."""
    n, e = 60, 150
    _, edges = make_graph(4, n, e, 1)
    weights = np.random.default_rng(4).uniform(0.1, 2.0, size=e)
    for normalized in (True, False):
        lap = laplacian(n, edges, weights, normalized=normalized)
        _, vectors = np.linalg.eigh(lap)
        spectral = rt.SpectralRegularization(lam=1.0, normalized=normalized)
        loss, _ = spectral(vectors[:, :8], edges, weights)
        values = spectral.eigenvalues(n, edges, 8, weights)
        assert loss == pytest.approx(values.sum(), abs=1e-10)


def test_duplicates_add_weights_and_self_loops_are_ignored():
    _, edges = make_graph(5, 50, 120, 1)
    weights = np.random.default_rng(5).uniform(0.0, 2.0, size=120)
    doubled = np.concatenate([edges, edges])
    halves = np.concatenate([weights, weights]) / 2
    loops = np.concatenate([edges, [[0, 0], [7, 7]]])
    loop_weights = np.concatenate([weights, [5.0, 1.0]])
    for normalized in (True, False):
        spectral = rt.SpectralRegularization(normalized=normalized)
        a = spectral.eigenvalues(50, edges, 20, weights)
        np.testing.assert_allclose(spectral.eigenvalues(50, doubled, 20, halves), a, atol=1e-12)
        np.testing.assert_array_equal(spectral.eigenvalues(50, loops, 20, loop_weights), a)


@pytest.mark.parametrize("scale", [1e-200, 1e-20, 1e20, 1e200])
def test_weight_magnitude_does_not_matter(scale):
    """Eigenvalues scale with the weights (D - W) or not at all (L_sym); tiny or huge weights
    must neither underflow nor overflow inside the solvers (relative 1e-10 here)."""
    rng = np.random.default_rng(7)
    num_nodes = 1100
    path = np.stack([np.arange(num_nodes - 1), np.arange(1, num_nodes)], axis=1)
    edges = np.concatenate([path, rng.integers(0, num_nodes, size=(1500, 2))])
    weights = rng.uniform(0.5, 1.5, size=len(edges))
    for normalized in (True, False):
        for method in ("dense", "sparse"):
            spectral = rt.SpectralRegularization(normalized=normalized)
            unit = spectral.eigenvalues(num_nodes, edges, 12, weights, method=method)
            scaled = spectral.eigenvalues(num_nodes, edges, 12, weights * scale, method=method)
            assert unit[1] > 1e-4
            factor = 1.0 if normalized else scale
            np.testing.assert_allclose(scaled, unit * factor, rtol=1e-10, atol=1e-12 * factor)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint64])
def test_edge_dtypes(dtype):
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0]], dtype=dtype)
    got = rt.SpectralRegularization(normalized=False).eigenvalues(5, edges, 5)
    # C_4 plus an isolated node: 0, 0, 2, 2, 4.
    np.testing.assert_allclose(got, [0, 0, 2, 2, 4], atol=1e-12)


@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
def test_cora_matches_eigvalsh(normalized):
    cora = rt.datasets.load_cora()
    n, edges = cora.num_nodes, cora.edges  # the citations as undirected pairs, each once
    want = np.linalg.eigvalsh(laplacian(n, edges, normalized=normalized))
    spectral = rt.SpectralRegularization(normalized=normalized)
    # 78 components: k <= 78 is all zeros; beyond, the 2,485-node component goes sparse.
    for k, method in [(10, "auto"), (100, "auto"), (100, "sparse"), (300, "dense")]:
        got = spectral.eigenvalues(n, edges, k, method=method)
        np.testing.assert_allclose(got, want[:k], rtol=0, atol=ATOL)
    assert np.count_nonzero(want < 1e-9) == 78


@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
def test_sparse_on_20000_node_torus_matches_exact_spectrum(normalized):
    """100 x 200 torus: connected, 20,000 nodes, tiny clustered eigenvalues with exact
    multiplicities 2 and 4; 4-regular, so L_sym = (D - W) / 4."""
    a, b = 100, 200
    want = torus_spectrum(a, b)[:10] / (4 if normalized else 1)
    got = rt.SpectralRegularization(normalized=normalized).eigenvalues(a * b, torus(a, b), 10)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_sparse_matches_dense_on_20000_nodes():
    """A 20,000-node weighted graph with 9 components (k = 10 needs fewer components than k for
    a non-trivial answer), each a random graph on a spanning path: sparse (every component
    through shift-invert Lanczos) vs dense (every component through the dense EVD)."""
    rng = np.random.default_rng(20_000)
    sizes = [2223] * 8 + [20_000 - 8 * 2223]
    parts, start = [], 0
    for size in sizes:
        path = np.stack([np.arange(size - 1), np.arange(1, size)], axis=1)
        chords = rng.integers(0, size, size=(2 * size, 2))
        parts.append(np.concatenate([path, chords]) + start)
        start += size
    edges = np.concatenate(parts)
    weights = rng.uniform(0.05, 2.0, size=len(edges))
    for normalized in (True, False):
        spectral = rt.SpectralRegularization(normalized=normalized)
        sparse = spectral.eigenvalues(20_000, edges, 10, weights, method="sparse")
        dense = spectral.eigenvalues(20_000, edges, 10, weights, method="dense")
        np.testing.assert_allclose(sparse, dense, rtol=0, atol=ATOL)
        np.testing.assert_array_equal(sparse[:9], 0.0)
        assert sparse[9] > 1e-4


def test_multiplicity_beyond_the_block_size():
    """A spider: 50 identical legs of length 24 on one hub. Its smallest non-zero eigenvalue
    has multiplicity 49, above the sparse solver's block cap (32): all copies must be found."""
    legs, length = 50, 24
    edges, node = [], 1
    for _ in range(legs):
        previous = 0
        for _ in range(length):
            edges.append([previous, node])
            previous, node = node, node + 1
    edges = np.array(edges)
    for normalized in (True, False):
        spectral = rt.SpectralRegularization(normalized=normalized)
        want = reference(node, edges, 60, normalized=normalized)
        got = spectral.eigenvalues(node, edges, 60, method="sparse")
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)
        assert np.ptp(want[1:50]) < 1e-9  # the repeated value


def test_bad_inputs():
    spectral = rt.SpectralRegularization()
    edges = np.array([[0, 1], [1, 2]])
    cases = [
        (dict(num_nodes=0), "num_nodes"),
        (dict(num_nodes=-3), "num_nodes"),
        (dict(k=0), "k"),
        (dict(k=-1), "k"),
        (dict(k=4), "k"),
        (dict(edges=np.array([[0, 3]])), "edges"),
        (dict(edges=np.array([[0, -1]])), "edges"),
        (dict(edges=np.array([0, 1, 2])), "edges"),
        (dict(weights=np.array([1.0])), "weights"),
        (dict(weights=np.array([1.0, -0.5])), "weights"),
        (dict(weights=np.array([1.0, np.nan])), "weights"),
        (dict(weights=np.array([1.0, np.inf])), "weights"),
        (dict(method="lanczos"), "method"),
    ]
    for change, name in cases:
        args = dict(num_nodes=3, edges=edges, k=2, weights=None, method="auto") | change
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            spectral.eigenvalues(
                args["num_nodes"], args["edges"], args["k"], args["weights"], method=args["method"]
            )
    with pytest.raises(TypeError, match=r"^edges\b"):
        spectral.eigenvalues(3, edges.astype(np.float64), 2)
    with pytest.raises(TypeError, match=r"^weights\b"):
        spectral.eigenvalues(3, edges, 2, np.array([1, 2]))
