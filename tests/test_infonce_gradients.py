"""InfoNCELoss gradients: finite differences of its own loss, and the spec's worked values.

Finite differences: central, float64, h=1e-6. Their error is about eps*|L|/h + h^2*|L'''|/6,
at most 2e-9 for these small, moderate-temperature batches, so ``atol=1e-7, rtol=1e-5`` checks
every element with margin while still catching any missing or misplaced gradient term.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ruvector_training as rt
from helpers import (
    Batch,
    assert_grads_close,
    assert_loss_close,
    batch_scales,
    each_dtype,
    each_layout,
    make_batch,
    run_loss,
    run_reference,
)
from reference import finite_difference_grad

FD_ATOL = 1e-7
FD_RTOL = 1e-5


def summed_loss(loss: rt.InfoNCELoss, batch: Batch, layout: str) -> float:
    """The library's loss on ``batch`` as one float (per-row losses summed for ``"none"``)."""
    value, _ = run_loss(loss, batch, layout)
    return float(np.sum(value))


@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@each_layout
@pytest.mark.parametrize(
    ("b", "d", "k", "temperature"),
    [(6, 5, 3, 0.2), (3, 2, 1, 1.0), (1, 4, 2, 0.1)],
    ids=["B6-D5-K3-tau0.2", "B3-D2-K1-tau1", "B1-D4-K2-tau0.1"],
)
def test_gradients_match_finite_differences(
    b, d, k, temperature, layout, symmetric, similarity, reduction
):
    """Every element of every returned gradient equals the finite difference of the loss."""
    batch = make_batch(seed=100 * b + d, b=b, d=d, k=0 if layout == "in_batch" else k)
    loss = rt.InfoNCELoss(
        temperature=temperature, similarity=similarity, symmetric=symmetric, reduction=reduction
    )
    _, grads = run_loss(loss, batch, layout)
    for name, x, grad in zip(Batch._fields, batch, grads):
        if x is None:
            assert grad is None
            continue

        def loss_of(value, name=name):
            return summed_loss(loss, batch._replace(**{name: value}), layout)

        numeric = finite_difference_grad(loss_of, x, h=1e-6)
        np.testing.assert_allclose(grad, numeric, rtol=FD_RTOL, atol=FD_ATOL, err_msg=name)


# anchors / positives of the spec's worked example (section 2): tau 0.2, in-batch, mean.
WORKED_ANCHORS = [[1.0, 0.0], [0.0, 1.0]]
WORKED_POSITIVES = [[0.95, 0.05], [0.10, 0.90]]


@each_dtype
def test_spec_worked_value(dtype):
    """The spec's worked example gives 0.0104 and equals the reference (value and gradients)."""
    batch = Batch(np.array(WORKED_ANCHORS, dtype), np.array(WORKED_POSITIVES, dtype), None)
    value, grads = rt.InfoNCELoss(temperature=0.2)(batch.anchors, batch.positives)
    assert abs(value - 0.0104) < 1e-4
    expected_value, expected_grads = run_reference(batch, "in_batch", temperature=0.2)
    scales = batch_scales(
        batch, temperature=0.2, similarity="cosine", reduction="mean", batch_size=2
    )
    assert_loss_close(value, expected_value, dtype, scales)
    assert_grads_close(grads, expected_grads, dtype, scales)


def extreme_logit_batch(layout: str, dtype) -> Batch:
    """Dot similarity at tau=1 where every row's logits are [1000 (correct), 986].

    per-row / shared (B=1): anchor 1, positive 1000, negative 986. in-batch (B=2): anchors 1 and
    -1, positives 1000 and 986, so row 0 has [1000 (correct), 986] and row 1 has
    [-1000, -986 (correct)]: both losses are log(1 + e^-14).
    """
    if layout == "in_batch":
        return Batch(np.array([[1.0], [-1.0]], dtype), np.array([[1000.0], [986.0]], dtype), None)
    return Batch(
        np.array([[1.0]], dtype), np.array([[1000.0]], dtype), np.array([[[986.0]]], dtype)
    )


@each_dtype
@pytest.mark.parametrize("layout", ["per_row", "shared", "in_batch"])
def test_logits_1000_vs_986(layout, dtype):
    """Logits [1000, 986] give log1p(e^-14) = 8.3e-7 to 1e-3 relative, with finite gradients.

    The gradients also equal the reference to the tolerance model: tight for float64 (and for the
    per-row kernel, which works in float64 internally); for float32 in the dense kernels the
    model allows for ulp(1000) = 6e-5 in every logit, so there it mainly checks finiteness.
    """
    batch = extreme_logit_batch(layout, dtype)
    loss = rt.InfoNCELoss(temperature=1.0, similarity="dot", reduction="none")
    value, grads = run_loss(loss, batch, layout)
    expected = math.log1p(math.exp(-14.0))
    assert expected == pytest.approx(8.3e-7, rel=2e-3)
    np.testing.assert_allclose(value, expected, rtol=1e-3)
    for grad in grads:
        assert grad is None or np.isfinite(grad).all()
    expected_value, expected_grads = run_reference(
        batch, layout, temperature=1.0, similarity="dot", reduction="none"
    )
    # logsumexp - s_pos cancels at 1000: the reference itself is right to ~ulp(1000) = 1.1e-13.
    np.testing.assert_allclose(expected_value, expected, rtol=0, atol=1e-12)
    scales = batch_scales(
        batch, temperature=1.0, similarity="dot", reduction="none", batch_size=len(batch.anchors)
    )
    assert_grads_close(grads, expected_grads, dtype, scales)


def near_identical_batch(seed: int, b: int, d: int, k: int, spread: float) -> Batch:
    """Unit-norm float32 rows all within ``spread`` of one direction; positives within 1e-4.

    At tau=0.01 every logit is then close to 100: the hardest case for float32 softmax.
    """
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(d)

    def unit_rows(shape, jitter):
        x = base + jitter * rng.standard_normal(shape + (d,))
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    anchors = unit_rows((b,), spread)
    positives = anchors + 1e-4 * rng.standard_normal((b, d))
    positives /= np.linalg.norm(positives, axis=1, keepdims=True)
    return Batch(anchors, positives, unit_rows((b, k), spread)).astype(np.float32)


@pytest.mark.parametrize("spread", [1e-3, 1.0], ids=["all-rows-alike", "only-pairs-alike"])
@each_layout
def test_tau_001_unit_vectors_float32(layout, symmetric, spread):
    """tau=0.01, unit vectors, near-identical rows: finite, and the reference to f32 tolerance."""
    batch = near_identical_batch(seed=21, b=8, d=32, k=3, spread=spread)
    options = {"temperature": 0.01, "similarity": "cosine", "symmetric": symmetric}
    loss = rt.InfoNCELoss(reduction="mean", **options)
    value, grads = run_loss(loss, batch, layout)
    assert np.isfinite(value)
    for grad in grads:
        assert grad is None or np.isfinite(grad).all()
    expected_value, expected_grads = run_reference(batch, layout, reduction="mean", **options)
    scales = batch_scales(
        batch, temperature=0.01, similarity="cosine", reduction="mean", batch_size=8
    )
    assert_loss_close(value, expected_value, np.float32, scales)
    assert_grads_close(grads, expected_grads, np.float32, scales)


@each_dtype
@each_layout
def test_huge_dot_logits_stay_finite(layout, symmetric, dtype):
    """Dot logits up to ~1e5 (norms ~30 at tau=0.01): finite and equal to the reference."""
    batch = make_batch(seed=77, b=16, d=8, k=2, dtype=np.float64)
    batch = batch._replace(**{name: 20.0 * x for name, x in zip(Batch._fields, batch)})
    batch = batch.astype(dtype)
    options = {"temperature": 0.01, "similarity": "dot", "symmetric": symmetric}
    value, grads = run_loss(rt.InfoNCELoss(reduction="none", **options), batch, layout)
    assert np.isfinite(value).all()
    expected_value, expected_grads = run_reference(batch, layout, reduction="none", **options)
    scales = batch_scales(
        batch, temperature=0.01, similarity="dot", reduction="none", batch_size=16
    )
    assert_loss_close(value, expected_value, dtype, scales)
    assert_grads_close(grads, expected_grads, dtype, scales)
