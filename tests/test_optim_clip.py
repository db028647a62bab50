"""``clip_grad_norm`` against the NumPy reference: norm, in-place scaling, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype
from reference_optim import clip_grad_norm as clip_reference


def random_grads(seed: int, dtype, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = ((70_001,), (3, 4), (), (2, 2, 2))
    return [np.array(scale * rng.standard_normal(s), dtype=dtype) for s in shapes]


@each_dtype
@pytest.mark.parametrize("max_norm", [1.0, 100.0, 1e6])
def test_clip_matches_reference(dtype, max_norm):
    ours, expected = random_grads(0, dtype), random_grads(0, dtype)
    norm = rt.clip_grad_norm(ours, max_norm)
    want = clip_reference(expected, max_norm)
    # float32 squares are summed four at a time in float32 before the float64 accumulation.
    assert norm == pytest.approx(want, rel=1e-12 if dtype == np.float64 else 1e-9)
    for got, ref in zip(ours, expected):
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-12)
    clipped_norm = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in ours)))
    assert clipped_norm <= max_norm * (1 + 1e-6)


def test_below_the_threshold_nothing_is_written():
    grads = random_grads(1, np.float64)
    kept = [g.copy() for g in grads]
    norm = rt.clip_grad_norm(grads, 1e9)
    assert all(np.array_equal(g, k) for g, k in zip(grads, kept))
    assert norm == pytest.approx(float(np.sqrt(sum(np.sum(k**2) for k in kept))), rel=1e-12)


def test_mixed_dtypes_share_one_norm():
    grads = [np.array([3.0], np.float32), np.array([4.0])]
    assert rt.clip_grad_norm(grads, 1.0) == 5.0
    assert grads[0].dtype == np.float32
    np.testing.assert_allclose([grads[0][0], grads[1][0]], [0.6, 0.8], rtol=1e-6)


def test_huge_finite_float64_gradients_do_not_overflow():
    grads = [np.array([1e200, -1e200])]
    norm = rt.clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(np.sqrt(2) * 1e200, rel=1e-14)
    np.testing.assert_allclose(grads[0], [np.sqrt(0.5), -np.sqrt(0.5)], rtol=1e-12)


@pytest.mark.parametrize(
    ("make_args", "error", "match"),
    [
        (lambda g: (g, 0.0), ValueError, "max_norm: must be a finite number > 0"),
        (lambda g: (g, float("inf")), ValueError, "max_norm"),
        (lambda g: ([], 1.0), ValueError, "grads: expected at least one array"),
        (lambda g: ([g[0], g[0]], 1.0), ValueError, r"grads\[1\]: is the same array"),
        (lambda g: ([g[0][::2]], 1.0), ValueError, r"grads\[0\]: must be C-contiguous"),
        (lambda g: ([g[0].astype(np.int32)], 1.0), TypeError, r"grads\[0\]: expected dtype"),
        (lambda g: (g[0], 1.0), TypeError, "single numpy.ndarray"),
    ],
)
def test_bad_input(make_args, error, match):
    grads = random_grads(2, np.float32)
    with pytest.raises(error, match=match):
        rt.clip_grad_norm(*make_args(grads))


def test_non_finite_gradient_is_rejected_and_nothing_is_scaled():
    grads = random_grads(3, np.float32, scale=10.0)
    grads[3][1, 0, 1] = np.nan
    kept = [g.copy() for g in grads]
    with pytest.raises(ValueError, match=r"grads\[3\]: contains a non-finite value \(NaN\)"):
        rt.clip_grad_norm(grads, 1.0)
    assert all(np.array_equal(g, k, equal_nan=True) for g, k in zip(grads, kept))
