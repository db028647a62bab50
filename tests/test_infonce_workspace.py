"""The scratch workspace an InfoNCELoss keeps between calls: reused, releasable, never stale."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype, each_layout, make_batch, run_loss


@each_dtype
@each_layout
def test_shrinking_then_growing_calls_match_fresh_objects(dtype, layout, symmetric):
    """A large call followed by smaller and larger ones gives exactly what a fresh object gives:
    scratch left over from an earlier call never leaks into a later result."""
    kept = rt.InfoNCELoss(symmetric=symmetric, reduction="none")
    for seed, (b, d, k) in enumerate([(40, 16, 3), (7, 5, 2), (23, 9, 4), (60, 16, 3)]):
        batch = make_batch(seed, b, d, k if layout != "in_batch" else 0, dtype)
        fresh = rt.InfoNCELoss(symmetric=symmetric, reduction="none")
        got_loss, got_grads = run_loss(kept, batch, layout)
        want_loss, want_grads = run_loss(fresh, batch, layout)
        np.testing.assert_array_equal(got_loss, want_loss)
        for got, want in zip(got_grads, want_grads):
            if want is None:
                assert got is None
            else:
                np.testing.assert_array_equal(got, want)


def test_workspace_is_held_and_released():
    """Cosine scratch (two normalised copies plus the logits) is kept; release frees it."""
    loss = rt.InfoNCELoss()
    assert loss.workspace_bytes == 0
    batch = make_batch(0, 32, 8, 0, np.float32)
    first = loss(batch.anchors, batch.positives)
    expected_bytes = 4 * (32 * 8 + 32 * 8 + 32 * 32)
    assert loss.workspace_bytes == expected_bytes
    loss.release_workspace()
    assert loss.workspace_bytes == 0
    second = loss(batch.anchors, batch.positives)
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1][0], second[1][0])


def test_logits_budget_is_validated_and_zero_streams_row_by_row():
    """A negative budget is a ValueError naming it; 0 is valid (one row per panel) and gives
    the same result as the default budget."""

    with pytest.raises(ValueError, match="^logits_budget_bytes: must be a number of bytes >= 0"):
        rt.InfoNCELoss(logits_budget_bytes=-1)
    loss = rt.InfoNCELoss()
    with pytest.raises(ValueError, match="^logits_budget_bytes"):
        loss.logits_budget_bytes = -5
    batch = make_batch(3, 9, 4, 0, np.float64)
    expected = loss(batch.anchors, batch.positives)
    loss.logits_budget_bytes = 0
    got = loss(batch.anchors, batch.positives)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1][0], expected[1][0], rtol=1e-10, atol=1e-15)
