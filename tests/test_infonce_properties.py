"""Property tests for InfoNCELoss (hypothesis, derandomized so every run checks the same cases).

Batches are small (B <= 6, D <= 5, K <= 3) with entries drawn by hypothesis, so zero rows, equal
rows and extreme ratios all show up.
"""

from __future__ import annotations

import numpy as np
import ruvector_training as rt
from helpers import DTYPES, LAYOUT_CASES, Batch, run_loss
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=50, deadline=None, database=None)

#: Any entry, zero included.
ANY_ENTRY = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
#: Entries bounded away from zero, so no row is (nearly) zero. Gradient comparisons use these:
#: a zero row's cosine gradient is g / 1e-12 (spec), and when g is 0 in exact arithmetic (e.g.
#: a zero anchor sees uniform softmax weights) the computed g is rounding noise of ~1e-17,
#: amplified to ~1e-5 with an arbitrary sign that any change of summation order flips.
NONZERO_ENTRY = st.floats(0.1, 10.0) | st.floats(-10.0, -0.1)
TEMPERATURES = st.floats(0.05, 5.0)
SIMILARITIES = st.sampled_from(["cosine", "dot"])
DTYPE_CHOICE = st.sampled_from(DTYPES)


@st.composite
def cases(draw, elements=ANY_ENTRY):
    """``(layout, symmetric, batch)``: any accepted layout and a float64 batch fitting it."""
    layout, symmetric = draw(st.sampled_from(LAYOUT_CASES))
    b, d = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    k = 0 if layout == "in_batch" else draw(st.integers(1, 3))

    def array(*shape):
        return draw(hnp.arrays(np.float64, shape, elements=elements))

    return layout, symmetric, Batch(array(b, d), array(b, d), array(b, k, d) if k else None)


def per_row(case, *, temperature: float, similarity: str, dtype=np.float64):
    """Per-row losses and gradients (of their sum) of ``case`` at ``dtype``."""
    layout, symmetric, batch = case
    loss = rt.InfoNCELoss(
        temperature=temperature, similarity=similarity, symmetric=symmetric, reduction="none"
    )
    return run_loss(loss, batch.astype(dtype), layout)


@PROPERTY_SETTINGS
@given(case=cases(), similarity=SIMILARITIES, temperature=TEMPERATURES, dtype=DTYPE_CHOICE)
def test_row_losses_are_non_negative_and_finite(case, similarity, temperature, dtype):
    """``logsumexp_j s_ij >= s_i,pos``, so every row loss is >= 0, and nothing overflows."""
    losses, grads = per_row(case, temperature=temperature, similarity=similarity, dtype=dtype)
    assert np.isfinite(losses).all(), losses
    assert (losses >= 0).all(), losses
    for grad in grads:
        assert grad is None or np.isfinite(grad).all()


@PROPERTY_SETTINGS
@given(case=cases(elements=NONZERO_ENTRY), temperature=TEMPERATURES, data=st.data())
def test_cosine_is_invariant_to_scaling_a_row(case, temperature, data):
    """Scaling one row of any input by s > 0 keeps the cosine loss; that row's gradient is / s."""
    layout, symmetric, batch = case
    name = data.draw(st.sampled_from([n for n, x in zip(Batch._fields, batch) if x is not None]))
    original = getattr(batch, name)
    rows = original.reshape(-1, original.shape[-1]).copy()  # negatives: one row per (i, k)
    row = data.draw(st.integers(0, len(rows) - 1))
    factor = data.draw(st.floats(0.1, 10.0))
    rows[row] *= factor
    scaled = (layout, symmetric, batch._replace(**{name: rows.reshape(original.shape)}))

    losses, grads = per_row(case, temperature=temperature, similarity="cosine")
    scaled_losses, scaled_grads = per_row(scaled, temperature=temperature, similarity="cosine")
    np.testing.assert_allclose(scaled_losses, losses, rtol=1e-9, atol=1e-12)
    for grad_name, grad, scaled_grad in zip(Batch._fields, grads, scaled_grads):
        if grad is None:
            continue
        expected = grad.reshape(-1, grad.shape[-1]).copy()
        if grad_name == name:
            expected[row] /= factor
        atol = 1e-9 * max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(
            scaled_grad.reshape(expected.shape), expected, rtol=1e-7, atol=atol, err_msg=grad_name
        )


@PROPERTY_SETTINGS
@given(case=cases(NONZERO_ENTRY), similarity=SIMILARITIES, temperature=TEMPERATURES, data=st.data())
def test_permuting_the_batch_permutes_row_losses(case, similarity, temperature, data):
    """Reordering rows of anchors, positives and negatives together reorders losses and grads."""
    layout, symmetric, batch = case
    order = np.array(data.draw(st.permutations(range(len(batch.anchors)))), dtype=int)
    permuted = (layout, symmetric, Batch(*(None if x is None else x[order] for x in batch)))

    losses, grads = per_row(case, temperature=temperature, similarity=similarity)
    permuted_losses, permuted_grads = per_row(
        permuted, temperature=temperature, similarity=similarity
    )
    np.testing.assert_allclose(permuted_losses, losses[order], rtol=1e-10, atol=1e-12)
    for grad, permuted_grad in zip(grads, permuted_grads):
        if grad is not None:
            atol = 1e-10 * max(1.0, float(np.abs(grad).max()))
            np.testing.assert_allclose(permuted_grad, grad[order], rtol=1e-9, atol=atol)


@PROPERTY_SETTINGS
@given(case=cases(NONZERO_ENTRY), similarity=SIMILARITIES, temperature=TEMPERATURES)
def test_reductions_agree(case, similarity, temperature):
    """``mean = sum / B = mean(none)``; mean's gradients are sum's (= none's) divided by B."""
    layout, symmetric, batch = case
    b = len(batch.anchors)
    outputs = {}
    for reduction in ("mean", "sum", "none"):
        loss = rt.InfoNCELoss(
            temperature=temperature, similarity=similarity, symmetric=symmetric, reduction=reduction
        )
        outputs[reduction] = run_loss(loss, batch, layout)
    (mean, mean_grads), (total, sum_grads), (rows, none_grads) = outputs.values()
    np.testing.assert_allclose([mean * b, total], [np.sum(rows)] * 2, rtol=1e-12, atol=1e-12)
    for g_mean, g_sum, g_none in zip(mean_grads, sum_grads, none_grads):
        if g_sum is not None:
            atol = 1e-12 * max(1.0, float(np.abs(g_sum).max()))
            np.testing.assert_allclose(g_none, g_sum, rtol=1e-12, atol=atol)
            np.testing.assert_allclose(g_mean * b, g_sum, rtol=1e-12, atol=atol)
