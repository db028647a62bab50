"""TripletLoss: NumPy parity, finite differences, the spec's worked values, bad inputs and
properties. Reference: :func:`reference_losses.triplet_reference`."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import DTYPES, assert_close, dtype_id, each_dtype, random_rows
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference import finite_difference_grad
from reference_losses import REDUCTIONS, triplet_reference

#: Parity tolerance: rtol 1e-4 / 1e-10 (the suite's contract) plus an absolute floor for entries
#: that cancel to ~0 (a few ulps of the O(1) distances and gradient terms).
ATOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-13}
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
DISTANCES = ("euclidean", "cosine")


def make_triplets(seed: int, b: int, d: int, k: int | None, dtype=np.float64):
    """Anchors, positives and negatives (``(B, D)`` when ``k`` is None, else ``(B, K, D)``),
    float32-representable so both dtypes share one float64 reference."""
    rng = np.random.default_rng(seed)
    anchors = random_rows(rng, (b,), d)
    positives = anchors + 0.6 * random_rows(rng, (b,), d)
    negatives = random_rows(rng, (b,) if k is None else (b, k), d)
    return tuple(x.astype(np.float32).astype(dtype) for x in (anchors, positives, negatives))


def check_against_reference(loss, arrays, dtype, **options):
    value, grads = loss(*arrays)
    want_value, want_grads = triplet_reference(*arrays, **options)
    dt = np.dtype(dtype)
    n = 1 if options["reduction"] != "sum" else np.asarray(arrays[2]).shape[0]
    assert_close(value, want_value, rtol=RTOL[dt], atol=ATOL[dt] * n, err_msg="loss")
    if options["reduction"] == "none":
        assert value.dtype == dt and value.shape == arrays[2].shape[:-1]
    else:
        assert isinstance(value, float)
    for name, got, want, x in zip(("anchors", "positives", "negatives"), grads, want_grads, arrays):
        assert got.dtype == dt and got.shape == x.shape, name
        assert_close(got, want, rtol=RTOL[dt], atol=ATOL[dt], err_msg=name)


@each_dtype
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize(
    ("b", "d", "k", "margin"),
    [(1, 1, None, 1.0), (7, 5, None, 0.5), (16, 33, 4, 0.3), (64, 130, 3, 1.0), (5, 8, 1, 0.0)],
    ids=["B1-D1", "B7-D5-2d", "B16-D33-K4", "B64-D130-K3", "B5-D8-K1-m0"],
)
def test_parity_with_reference(b, d, k, margin, distance, reduction, dtype):
    """Loss, per-triplet losses and gradients match the NumPy reference."""
    options = dict(margin=margin, distance=distance, reduction=reduction)
    arrays = make_triplets(10 * b + d, b, d, k, dtype)
    check_against_reference(rt.TripletLoss(**options), arrays, dtype, **options)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("k", [None, 3], ids=["2d", "K3"])
def test_gradients_match_finite_differences(k, distance, reduction):
    """Every gradient element equals the central difference of the library's own loss."""
    arrays = make_triplets(3, 4, 5, k)
    loss = rt.TripletLoss(margin=0.8, distance=distance, reduction=reduction)
    _, grads = loss(*arrays)
    for position, (x, grad) in enumerate(zip(arrays, grads)):

        def loss_of(value, position=position):
            args = list(arrays)
            args[position] = value
            return float(np.sum(loss(*args)[0]))

        numeric = finite_difference_grad(loss_of, x, h=1e-6)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7, err_msg=str(position))


@each_dtype
def test_spec_worked_values(dtype):
    """d(a,p)=0.3, d(a,n)=0.7: 0 at margin 0.1 and 0.1 at margin 0.5 (spec section 2)."""
    a = np.array([[0.0, 0.0]], dtype)
    p = np.array([[0.3, 0.0]], dtype)
    n = np.array([[0.0, 0.7]], dtype)
    loss = rt.TripletLoss(margin=0.1)
    value, grads = loss(a, p, n)
    assert value == 0.0 and all(not g.any() for g in grads)
    loss.margin = 0.5
    value, grads = loss(a, p, n)
    assert value == pytest.approx(0.1, rel=1e-6)
    np.testing.assert_allclose(grads[0], [[-1.0, 1.0]], rtol=1e-6)


@pytest.mark.parametrize("distance", DISTANCES)
def test_identical_anchor_and_positive_give_finite_gradients(distance):
    """d(a, p) = 0 (and a zero row for cosine): gradients are finite, never NaN."""
    a = np.array([[1.0, 2.0], [0.0, 0.0]])
    n = np.array([[1.0, 2.5], [0.3, 0.1]])
    value, grads = rt.TripletLoss(distance=distance)(a, a.copy(), n)
    assert np.isfinite(value)
    assert all(np.isfinite(g).all() for g in grads)
    if distance == "euclidean":
        assert value == pytest.approx(0.5 * (0.5 + (1.0 - np.hypot(0.3, 0.1))))
        np.testing.assert_array_equal(grads[1], 0.0)


def test_none_shapes_and_reductions_agree():
    """``"none"`` gives (B,) for (B, D) negatives and (B, K) for (B, K, D); sum and mean agree."""
    a, p, n3 = make_triplets(5, 6, 4, 3)
    n2 = n3[:, 0, :]
    for negatives, shape in ((n2, (6,)), (n3, (6, 3))):
        items, grads_none = rt.TripletLoss(reduction="none")(a, p, negatives)
        total, grads_sum = rt.TripletLoss(reduction="sum")(a, p, negatives)
        mean, _ = rt.TripletLoss()(a, p, negatives)
        assert items.shape == shape
        assert total == pytest.approx(items.sum(), rel=1e-12)
        assert mean == pytest.approx(items.mean(), rel=1e-12)
        for g_none, g_sum in zip(grads_none, grads_sum):
            np.testing.assert_array_equal(g_none, g_sum)


def test_non_contiguous_inputs_match_contiguous():
    a, p, n = make_triplets(8, 5, 6, 2)
    wide = np.zeros((5, 12))
    wide[:, ::2] = a
    expected = rt.TripletLoss()(a, p, n)
    got = rt.TripletLoss()(wide[:, ::2], np.asfortranarray(p), n)
    assert got[0] == expected[0]
    for g, e in zip(got[1], expected[1]):
        np.testing.assert_array_equal(g, e)


def test_attributes_are_readable_and_writable():
    loss = rt.TripletLoss(margin=0.2, distance="cosine", reduction="sum")
    assert (loss.margin, loss.distance, loss.reduction) == (0.2, "cosine", "sum")
    loss.margin, loss.distance, loss.reduction = 0.0, "euclidean", "none"
    assert (loss.margin, loss.distance, loss.reduction) == (0.0, "euclidean", "none")
    assert repr(loss) == "TripletLoss(margin=0.0, distance='euclidean', reduction='none')"
    for attr, value in (
        ("margin", -0.1),
        ("margin", float("nan")),
        ("distance", "l1"),
        ("reduction", "max"),
    ):
        with pytest.raises(ValueError, match=rf"^{attr}\b"):
            setattr(loss, attr, value)
        with pytest.raises(ValueError, match=rf"^{attr}\b"):
            rt.TripletLoss(**{attr: value})


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.bool_], ids=dtype_id)
@pytest.mark.parametrize("position", [0, 1, 2])
def test_wrong_types_raise_type_error(position, dtype):
    args = list(make_triplets(1, 3, 4, None))
    names = ("anchors", "positives", "negatives")
    bad = list(args)
    bad[position] = args[position].astype(dtype)
    with pytest.raises(TypeError, match=rf"^{names[position]}\b"):
        rt.TripletLoss()(*bad)
    bad[position] = args[position].tolist()
    with pytest.raises(TypeError, match=rf"^{names[position]}\b"):
        rt.TripletLoss()(*bad)
    if position:
        bad[position] = args[position].astype(np.float32)
        with pytest.raises(TypeError, match=rf"^{names[position]}\b"):
            rt.TripletLoss()(*bad)


def test_bad_shapes_and_values_raise_value_error():
    a, p, n = make_triplets(2, 3, 4, 2)
    loss = rt.TripletLoss()
    cases = [
        ("positives", (a, p[:2], n)),
        ("positives", (a, p[:, :3], n)),
        ("negatives", (a, p, n[:2])),
        ("negatives", (a, p, n[:, :, :3])),
        ("negatives", (a, p, n[:, :0])),
        ("negatives", (a, p, n[0, 0])),
        ("anchors", (a[:0], p[:0], n[:0])),
        ("anchors", (a[:, :0], p[:, :0], n[:, :, :0])),
        ("anchors", (a[0], p, n)),
    ]
    for name, args in cases:
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            loss(*args)
    for position, name in enumerate(("anchors", "positives", "negatives")):
        for bad_value in (np.nan, np.inf):
            args = [a.copy(), p.copy(), n.copy()]
            args[position].flat[3] = bad_value
            with pytest.raises(ValueError, match=rf"^{name}\b"):
                loss(*args)


PROPERTY_SETTINGS = settings(derandomize=True, max_examples=60, deadline=None, database=None)
ENTRY = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def triplet_cases(draw):
    b, d, k = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))

    def array(*shape):
        return draw(hnp.arrays(np.float64, shape, elements=ENTRY))

    return array(b, d), array(b, d), array(b, k, d)


@PROPERTY_SETTINGS
@given(
    triplet_cases(),
    st.floats(0.0, 3.0),
    st.sampled_from(DISTANCES),
    st.sampled_from(DTYPES),
)
def test_properties(case, margin, distance, dtype):
    """Any finite input, zero rows and equal rows included: per-triplet losses are >= 0 and at
    least ``margin`` minus the distance gap, and every gradient is finite."""
    arrays = [x.astype(dtype) for x in case]
    items, grads = rt.TripletLoss(margin=margin, distance=distance, reduction="none")(*arrays)
    assert items.shape == arrays[2].shape[:-1]
    assert (items >= 0).all() and np.isfinite(items).all()
    assert all(np.isfinite(g).all() for g in grads)
    want, _ = triplet_reference(*case, margin=margin, distance=distance, reduction="none")
    np.testing.assert_allclose(items, want, rtol=RTOL[np.dtype(dtype)], atol=1e-4)
