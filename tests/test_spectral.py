"""SpectralRegularization: equals ``lam * trace(Z^T L Z)`` with L built densely in NumPy (both
Laplacians, weights, duplicates, self-loops, isolated nodes), finite differences, bad inputs.
Reference: :func:`reference_losses.spectral_reference`."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from graph_cases import isolated_node, make_graph
from helpers import assert_close, each_dtype
from reference import finite_difference_grad
from reference_losses import spectral_reference

ATOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def random_weights(seed: int, e: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 2.0, size=e)


@each_dtype
@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weights"])
@pytest.mark.parametrize(("n", "e", "d"), [(2, 1, 1), (12, 30, 5), (150, 900, 20)])
def test_matches_dense_trace(n, e, d, weighted, normalized, dtype):
    z, edges = make_graph(n * e, n, e, d, dtype)
    weights = random_weights(e, e) if weighted else None
    loss = rt.SpectralRegularization(lam=0.3, normalized=normalized)
    value, grads = loss(z, edges, weights)
    want, want_grads = spectral_reference(z, edges, weights, lam=0.3, normalized=normalized)
    dt = np.dtype(dtype)
    assert isinstance(value, float)
    assert grads[1] is None and grads[2] is None
    assert grads[0].dtype == dt and grads[0].shape == z.shape
    assert_close(value, want, rtol=RTOL[dt], atol=ATOL[dt] * e)
    assert_close(grads[0], want_grads[0], rtol=RTOL[dt], atol=ATOL[dt])
    if n > 2:
        assert not grads[0][isolated_node(n)].any()


@pytest.mark.parametrize("normalized", [True, False], ids=["sym", "unnorm"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weights"])
def test_gradients_match_finite_differences(weighted, normalized):
    z, edges = make_graph(5, 7, 14, 3)
    weights = random_weights(2, 14) if weighted else None
    loss = rt.SpectralRegularization(lam=0.7, normalized=normalized)
    _, (grad, _, _) = loss(z, edges, weights)
    numeric = finite_difference_grad(lambda x: loss(x, edges, weights)[0], z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_duplicates_add_weights_and_self_loops_are_ignored():
    z, edges = make_graph(9, 8, 10, 3)
    weights = random_weights(3, 10)
    doubled = np.concatenate([edges, edges])
    halves = np.concatenate([weights, weights]) / 2
    for normalized in (True, False):
        loss = rt.SpectralRegularization(lam=1.0, normalized=normalized)
        a, (ga, _, _) = loss(z, edges, weights)
        b, (gb, _, _) = loss(z, doubled, halves)
        assert b == pytest.approx(a, rel=1e-12)
        np.testing.assert_allclose(gb, ga, rtol=1e-12, atol=1e-15)
        loops = np.concatenate([edges, [[0, 0], [4, 4]]])
        c, (gc, _, _) = loss(z, loops, np.concatenate([weights, [5.0, 1.0]]))
        assert c == a
        np.testing.assert_array_equal(gc, ga)


def test_attributes_and_bad_inputs():
    loss = rt.SpectralRegularization()
    assert (loss.lam, loss.normalized) == (0.01, True)
    loss.lam, loss.normalized = 0.5, False
    assert repr(loss) == "SpectralRegularization(lam=0.5, normalized=False)"
    for value in (-0.1, float("nan")):
        with pytest.raises(ValueError, match=r"^lam\b"):
            loss.lam = value
        with pytest.raises(ValueError, match=r"^lam\b"):
            rt.SpectralRegularization(lam=value)
    z, edges = make_graph(1, 5, 6, 2)
    w = np.ones(6)
    value_errors = [
        ("edges", (z, np.array([[0, 5]]))),
        ("edges", (z, np.array([[3, -2]]))),
        ("weights", (z, edges, w[:5])),
        ("weights", (z, edges, -w)),
        ("weights", (z, edges, np.where(np.arange(6) == 2, np.inf, w))),
        ("embeddings", (np.full_like(z, np.nan), edges)),
    ]
    for name, args in value_errors:
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            loss(*args)
    type_errors = [
        ("edges", (z, edges.astype(np.float32))),
        ("weights", (z, edges, w.astype(np.int64))),
        ("weights", (z, edges, list(w))),
        ("embeddings", (z.astype(np.float16), edges)),
    ]
    for name, args in type_errors:
        with pytest.raises(TypeError, match=rf"^{name}\b"):
            loss(*args)
    # float32 weights with float64 embeddings are accepted; no edges gives 0.
    assert loss(z, edges, w.astype(np.float32))[0] == loss(z, edges, w)[0]
    assert loss(z, edges[:0])[0] == 0.0


@pytest.mark.parametrize("normalized", [True, False])
def test_no_edges_give_a_positive_zero_loss_and_gradient(normalized):
    """A graph without edges has an all-zero Laplacian: the loss is +0.0 (not -0.0) and the
    gradient is zero."""
    z = np.random.default_rng(0).standard_normal((4, 3))
    loss, (grad, _, _) = rt.SpectralRegularization(normalized=normalized)(
        z, np.zeros((0, 2), np.int64)
    )
    assert loss == 0.0 and np.copysign(1.0, loss) == 1.0
    assert np.array_equal(grad, np.zeros_like(z))
