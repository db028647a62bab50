"""CosineSimilarityLoss: NumPy parity, finite differences, edge cases and bad inputs.
Reference: :func:`reference_losses.cosine_similarity_reference`."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import assert_close, dtype_id, each_dtype, random_rows
from reference import finite_difference_grad
from reference_losses import REDUCTIONS, cosine_similarity_reference

ATOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-13}
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def make_pairs(seed: int, b: int, d: int, dtype=np.float64):
    """``u``, ``v`` (correlated rows, norms in [0.5, 1.5]) and scores in [-1, 1]."""
    rng = np.random.default_rng(seed)
    u = random_rows(rng, (b,), d)
    v = u + random_rows(rng, (b,), d)
    scores = rng.uniform(-1.0, 1.0, size=b)
    return tuple(x.astype(np.float32).astype(dtype) for x in (u, v, scores))


@each_dtype
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("b", "d"), [(1, 1), (9, 3), (64, 100), (300, 17)])
def test_parity_with_reference(b, d, reduction, dtype):
    arrays = make_pairs(b + d, b, d, dtype)
    value, grads = rt.CosineSimilarityLoss(reduction=reduction)(*arrays)
    want_value, want_grads = cosine_similarity_reference(*arrays, reduction=reduction)
    dt = np.dtype(dtype)
    n = b if reduction == "sum" else 1
    assert_close(value, want_value, rtol=RTOL[dt], atol=ATOL[dt] * n)
    if reduction == "none":
        assert value.shape == (b,) and value.dtype == dt
    else:
        assert isinstance(value, float)
    assert grads[2] is None
    for got, want, x in zip(grads[:2], want_grads[:2], arrays):
        assert got.dtype == dt and got.shape == x.shape
        assert_close(got, want, rtol=RTOL[dt], atol=ATOL[dt])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradients_match_finite_differences(reduction):
    u, v, scores = make_pairs(4, 5, 4)
    loss = rt.CosineSimilarityLoss(reduction=reduction)
    _, (gu, gv, _) = loss(u, v, scores)

    def summed(a, b):
        return float(np.sum(loss(a, b, scores)[0]))

    np.testing.assert_allclose(
        gu, finite_difference_grad(lambda x: summed(x, v), u), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        gv, finite_difference_grad(lambda x: summed(u, x), v), rtol=1e-5, atol=1e-7
    )


@each_dtype
def test_known_values_and_zero_rows(dtype):
    """Parallel rows against score 1 cost 0; perpendicular rows cost 1; a zero row has cosine 0
    (eps-guarded) and a finite gradient."""
    u = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]], dtype)
    v = np.array([[3.0, 0.0], [0.0, 5.0], [1.0, 1.0]], dtype)
    scores = np.array([1.0, 1.0, 0.0], dtype)
    items, grads = rt.CosineSimilarityLoss(reduction="none")(u, v, scores)
    np.testing.assert_allclose(items, [0.0, 1.0, 0.0], atol=1e-7)
    assert all(np.isfinite(g).all() for g in grads[:2])


def test_attributes_and_bad_inputs():
    loss = rt.CosineSimilarityLoss()
    assert loss.reduction == "mean"
    loss.reduction = "sum"
    assert loss.reduction == "sum" and repr(loss) == "CosineSimilarityLoss(reduction='sum')"
    with pytest.raises(ValueError, match=r"^reduction\b"):
        loss.reduction = "max"
    with pytest.raises(ValueError, match=r"^reduction\b"):
        rt.CosineSimilarityLoss(reduction="avg")
    u, v, s = make_pairs(1, 4, 3)
    for name, args in [
        ("v", (u, v[:3], s)),
        ("v", (u, v[:, :2], s)),
        ("scores", (u, v, s[:3])),
        ("scores", (u, v, s[:, None])),
        ("u", (u[:0], v[:0], s[:0])),
    ]:
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            loss(*args)
    for position, name in enumerate(("u", "v", "scores")):
        args = [u.copy(), v.copy(), s.copy()]
        args[position].flat[1] = np.nan
        with pytest.raises(ValueError, match=rf"^{name}\b"):
            loss(*args)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.float32], ids=dtype_id)
@pytest.mark.parametrize("position", [0, 1, 2])
def test_wrong_types_raise_type_error(position, dtype):
    names = ("u", "v", "scores")
    args = list(make_pairs(2, 3, 2))
    args[position] = args[position].astype(dtype)
    if position == 0 and dtype == np.float32:
        args[position] = args[position].tolist()
    with pytest.raises(TypeError, match=rf"^{names[position]}\b"):
        rt.CosineSimilarityLoss()(*args)
