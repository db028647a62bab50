"""LocalContrastiveLoss: NumPy (np.add.at) parity, finite differences, self-loops, duplicate
edges, integer edge dtypes and bad inputs. Reference:
:func:`reference_losses.local_contrastive_reference`."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from graph_cases import isolated_node, make_graph
from helpers import assert_close, each_dtype
from reference import finite_difference_grad
from reference_losses import REDUCTIONS, local_contrastive_reference

ATOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def random_labels(seed: int, e: int) -> np.ndarray:
    return np.random.default_rng(seed).random(e) < 0.5


@each_dtype
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("labelled", [False, True], ids=["similar", "labels"])
@pytest.mark.parametrize(
    ("n", "e", "d", "margin"),
    [(2, 1, 1, 1.0), (10, 30, 4, 3.0), (200, 1500, 16, 5.0), (50, 80, 33, 0.0)],
)
def test_parity_with_reference(n, e, d, margin, labelled, reduction, dtype):
    z, edges = make_graph(n + e, n, e, d, dtype)
    labels = random_labels(e, e) if labelled else None
    loss = rt.LocalContrastiveLoss(margin=margin, reduction=reduction)
    value, grads = loss(z, edges, labels)
    want, want_grads = local_contrastive_reference(
        z, edges, labels, margin=margin, reduction=reduction
    )
    dt = np.dtype(dtype)
    scale = float(np.max(np.abs(z))) ** 2 * (e if reduction == "sum" else 1)
    assert_close(value, want, rtol=RTOL[dt], atol=ATOL[dt] * scale)
    assert grads[1] is None and grads[2] is None
    assert grads[0].dtype == dt and grads[0].shape == z.shape
    assert_close(grads[0], want_grads[0], rtol=RTOL[dt], atol=ATOL[dt] * scale)
    if n > 2:
        assert not grads[0][isolated_node(n)].any()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("labelled", [False, True], ids=["similar", "labels"])
def test_gradients_match_finite_differences(labelled, reduction):
    z, edges = make_graph(7, 6, 12, 3)
    labels = random_labels(1, 12) if labelled else None
    loss = rt.LocalContrastiveLoss(margin=2.5, reduction=reduction)
    _, (grad, _, _) = loss(z, edges, labels)
    numeric = finite_difference_grad(lambda x: float(np.sum(loss(x, edges, labels)[0])), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_self_loops_and_duplicates():
    """A dissimilar self-loop costs margin^2 with a zero (not NaN) gradient; a duplicated edge
    counts twice; coincident endpoints of a dissimilar edge get a zero gradient."""
    z = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])
    loss = rt.LocalContrastiveLoss(margin=2.0, reduction="none")
    items, (grad, _, _) = loss(z, np.array([[0, 0], [1, 2]]), np.array([False, False]))
    np.testing.assert_array_equal(items, [4.0, 4.0])
    np.testing.assert_array_equal(grad, 0.0)
    once, (g1, _, _) = rt.LocalContrastiveLoss(reduction="sum")(z, np.array([[0, 1]]))
    twice, (g2, _, _) = rt.LocalContrastiveLoss(reduction="sum")(z, np.array([[0, 1], [1, 0]]))
    assert (once, twice) == (25.0, 50.0)
    np.testing.assert_array_equal(g2, 2 * g1)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
)
def test_any_integer_edge_dtype(dtype):
    z, edges = make_graph(3, 20, 40, 4)
    expected = rt.LocalContrastiveLoss()(z, edges)
    got = rt.LocalContrastiveLoss()(z, edges.astype(dtype))
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1][0], expected[1][0])
    transposed = np.ascontiguousarray(edges.T).T  # non-contiguous view of the same pairs
    assert rt.LocalContrastiveLoss()(z, transposed)[0] == expected[0]


def test_attributes_are_readable_and_writable():
    loss = rt.LocalContrastiveLoss(margin=0.5, reduction="sum")
    assert (loss.margin, loss.reduction) == (0.5, "sum")
    loss.margin, loss.reduction = 2.0, "none"
    assert repr(loss) == "LocalContrastiveLoss(margin=2.0, reduction='none')"
    for attr, value in (("margin", -1.0), ("margin", float("inf")), ("reduction", "max")):
        with pytest.raises(ValueError, match=rf"^{attr}\b"):
            setattr(loss, attr, value)
        with pytest.raises(ValueError, match=rf"^{attr}\b"):
            rt.LocalContrastiveLoss(**{attr: value})


def test_bad_inputs():
    z, edges = make_graph(1, 5, 6, 2)
    labels = np.ones(6, bool)
    loss = rt.LocalContrastiveLoss()
    value_errors = [
        ("edges", (z, np.array([[0, 5]]))),
        ("edges", (z, np.array([[-1, 2]]))),
        ("edges", (z, edges[:, :1])),
        ("edges", (z, edges.ravel())),
        ("edges", (z, edges[:0])),
        ("labels", (z, edges, labels[:5])),
        ("labels", (z, edges, labels[:, None])),
        ("embeddings", (z[:0], edges[:0])),
        ("embeddings", (z[0], edges)),
        ("embeddings", (np.where(np.arange(10).reshape(5, 2) == 3, np.nan, z), edges)),
    ]
    for name, args in value_errors:
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            loss(*args)
    type_errors = [
        ("edges", (z, edges.astype(np.float64))),
        ("edges", (z, edges.tolist())),
        ("labels", (z, edges, labels.astype(np.int64))),
        ("embeddings", (z.astype(np.int64), edges)),
        ("embeddings", (z.tolist(), edges)),
    ]
    for name, args in type_errors:
        with pytest.raises(TypeError, match=rf"^{name}\b"):
            loss(*args)
    # Empty edge lists are fine for "sum" / "none".
    assert rt.LocalContrastiveLoss(reduction="sum")(z, edges[:0])[0] == 0.0
    assert rt.LocalContrastiveLoss(reduction="none")(z, edges[:0])[0].shape == (0,)


def test_no_edges_sum_to_a_positive_zero():
    z = np.random.default_rng(0).standard_normal((4, 3))
    loss, (grad, _, _) = rt.LocalContrastiveLoss(reduction="sum")(z, np.zeros((0, 2), np.int64))
    assert loss == 0.0 and np.copysign(1.0, loss) == 1.0
    assert np.array_equal(grad, np.zeros_like(z))
