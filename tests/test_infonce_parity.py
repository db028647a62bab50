"""InfoNCELoss against the NumPy reference: the spec grid, the streaming path, memory layouts.

Tolerances (see ``helpers.TOLERANCE``): rtol 1e-4 for float32 and 1e-10 for float64, plus an
absolute part proportional to the rounding of the largest logit (float32 logits at tau=0.01
reach 100 and carry ~1e-5 absolute rounding, so a loss near zero is only right to that level).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import ruvector_training as rt
from helpers import (
    LAYOUT_CASES,
    assert_grads_close,
    assert_loss_close,
    batch_scales,
    each_dtype,
    each_layout,
    layout_id,
    make_batch,
    row_weight,
    run_loss,
    run_reference,
)

GRID_B = (1, 2, 7, 64, 513)
GRID_D = (1, 3, 64, 384)
GRID_K = (0, 1, 5)
TEMPERATURES = (0.01, 0.07, 1.0)
SIMILARITIES = ("cosine", "dot")
REDUCTIONS = ("mean", "sum", "none")


def shape_grid():
    """``(B, D, K, layout, symmetric)`` params: K=0 is in-batch; K>0 is per-row and shared."""
    for b, d, k in itertools.product(GRID_B, GRID_D, GRID_K):
        for layout, symmetric in LAYOUT_CASES:
            if (k == 0) == (layout == "in_batch"):
                name = f"B{b}-D{d}-K{k}-{layout_id(layout, symmetric)}"
                yield pytest.param(b, d, k, layout, symmetric, id=name)


def reduce_reference(row_losses, grads_of_sum, reduction: str):
    """The reference for ``reduction`` from its per-row losses and the gradients of their sum."""
    value = {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](row_losses)
    weight = row_weight(reduction, len(row_losses))
    return value, tuple(None if g is None else g * weight for g in grads_of_sum)


def to_float64(outputs):
    """A library output ``(loss, grads)`` widened to float64, for use as an expected value."""
    value, grads = outputs
    widened = tuple(None if g is None else g.astype(np.float64) for g in grads)
    return np.asarray(value, dtype=np.float64), widened


def assert_matches(outputs, expected, batch, dtype, *, reduction: str, options: dict) -> None:
    """Checks one library output ``(loss, grads)`` against ``expected`` (same structure)."""
    (value, grads), (want_value, want_grads) = outputs, expected
    b = len(batch.anchors)
    scales = batch_scales(
        batch,
        temperature=options["temperature"],
        similarity=options["similarity"],
        reduction=reduction,
        batch_size=b,
    )
    if reduction == "none":
        assert isinstance(value, np.ndarray), type(value)
        assert value.dtype == np.dtype(dtype) and value.shape == (b,), (value.dtype, value.shape)
    else:
        assert isinstance(value, float), type(value)
    rows = b if reduction == "sum" else 1
    assert_loss_close(value, want_value, dtype, scales, rows=rows, err_msg=reduction)
    assert_grads_close(grads, want_grads, dtype, scales, err_msg=reduction)


def grid_batch(b: int, d: int, k: int, dtype):
    """The grid's batch for one shape (same values for both dtypes, see ``make_batch``)."""
    return make_batch(seed=1000 * b + 10 * d + k, b=b, d=d, k=k, dtype=dtype)


@functools.lru_cache(maxsize=1)
def grid_reference(b, d, k, layout, symmetric, temperature, similarity):
    """Per-row reference losses and gradients of their sum for one grid case.

    The dtype varies fastest in the grid (top decorator), so the float64 case reuses the
    float32 case's reference: both hold the same values.
    """
    batch = grid_batch(b, d, k, np.float64)
    options = {"temperature": temperature, "similarity": similarity, "symmetric": symmetric}
    return run_reference(batch, layout, reduction="none", **options)


@each_dtype
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("temperature", TEMPERATURES, ids=lambda t: f"tau{t}")
@pytest.mark.parametrize(("b", "d", "k", "layout", "symmetric"), list(shape_grid()))
def test_matches_reference(b, d, k, layout, symmetric, temperature, similarity, dtype):
    """Every reduction's loss and gradients equal the reference's (one reference call)."""
    batch = grid_batch(b, d, k, dtype)
    options = {"temperature": temperature, "similarity": similarity, "symmetric": symmetric}
    row_losses, grads_of_sum = grid_reference(b, d, k, layout, symmetric, temperature, similarity)
    for reduction in REDUCTIONS:
        outputs = run_loss(rt.InfoNCELoss(reduction=reduction, **options), batch, layout)
        expected = reduce_reference(row_losses, grads_of_sum, reduction)
        assert_matches(outputs, expected, batch, dtype, reduction=reduction, options=options)


def logits_bytes(batch, layout: str, dtype) -> int:
    """Size of the whole logits matrix the dense kernel would keep for ``batch``."""
    b, k = len(batch.anchors), batch.negatives.shape[1]
    candidates = {"in_batch": b, "shared": b + b * k, "per_row": 1 + k}[layout]
    return b * candidates * np.dtype(dtype).itemsize


@each_dtype
@pytest.mark.parametrize("similarity", SIMILARITIES)
@each_layout
def test_streaming_path_matches_default(layout, symmetric, similarity, dtype):
    """Tiny logits budgets (panels of 1 row, a few rows, all rows but a bit) change nothing.

    B=37 is prime, so panels of several rows leave a shorter last panel.
    """
    batch = make_batch(seed=37, b=37, d=24, k=3, dtype=dtype)
    options = {"temperature": 0.05, "similarity": similarity, "symmetric": symmetric}
    default = run_loss(rt.InfoNCELoss(reduction="none", **options), batch, layout)
    expected = to_float64(default)
    just_under_whole = logits_bytes(batch, layout, dtype) - 1
    for budget in (1, 1000, just_under_whole):
        loss = rt.InfoNCELoss(reduction="none", logits_budget_bytes=budget, **options)
        streamed = run_loss(loss, batch, layout)
        assert_matches(streamed, expected, batch, dtype, reduction="none", options=options)
    reference = run_reference(batch, layout, reduction="none", **options)
    assert_matches(default, reference, batch, dtype, reduction="none", options=options)


def strided_rows(x: np.ndarray) -> np.ndarray:
    """The same values as a view taking every other row of a twice-as-tall array."""
    tall = np.repeat(x, 2, axis=0)
    return tall[::2]


def strided_columns(x: np.ndarray) -> np.ndarray:
    """The same values as a view taking every other element along the last axis."""
    return np.repeat(x, 2, axis=-1)[..., ::2]


def reversed_view(x: np.ndarray) -> np.ndarray:
    """The same values as a negative-stride view of a reversed copy."""
    return np.ascontiguousarray(x[::-1])[::-1]


def read_only(x: np.ndarray) -> np.ndarray:
    """A contiguous copy that NumPy marks read-only."""
    y = x.copy()
    y.flags.writeable = False
    return y


def transposed_storage(x: np.ndarray) -> np.ndarray:
    """The same values stored with the last two axes swapped and viewed back through a transpose."""
    if x.ndim == 3:
        return np.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1)
    return np.ascontiguousarray(x.T).T


LAYOUT_VARIANTS = {
    "fortran": np.asfortranarray,
    "strided-rows": strided_rows,
    "strided-columns": strided_columns,
    "negative-strides": reversed_view,
    "read-only": read_only,
    "transposed": transposed_storage,
}


#: ``(argument, layout, symmetric)``: each input in each kernel it reaches.
VIEW_CASES = [
    ("anchors", "in_batch", True),
    ("positives", "in_batch", True),
    ("negatives", "shared", True),
    ("anchors", "per_row", False),
    ("positives", "per_row", False),
    ("negatives", "per_row", False),
]


@each_dtype
@pytest.mark.parametrize(
    ("arg", "layout", "symmetric"),
    VIEW_CASES,
    ids=[f"{arg}-{layout_id(layout, sym)}" for arg, layout, sym in VIEW_CASES],
)
@pytest.mark.parametrize("variant", sorted(LAYOUT_VARIANTS))
def test_non_contiguous_inputs_match_contiguous(variant, arg, layout, symmetric, dtype):
    """A view with other strides (or a read-only array) gives the contiguous array's result."""
    batch = make_batch(seed=5, b=9, d=6, k=2, dtype=dtype)
    original = getattr(batch, arg)
    view = LAYOUT_VARIANTS[variant](original)
    np.testing.assert_array_equal(view, original)
    assert not view.flags.writeable or not view.flags.c_contiguous
    options = {"temperature": 0.1, "similarity": "cosine", "symmetric": symmetric}
    loss = rt.InfoNCELoss(reduction="none", **options)
    expected = to_float64(run_loss(loss, batch, layout))
    outputs = run_loss(loss, batch._replace(**{arg: view}), layout)
    assert_matches(outputs, expected, batch, dtype, reduction="none", options=options)


@each_dtype
def test_zero_stride_broadcast_input(dtype):
    """A broadcast (zero-stride) anchors view gives the result of its contiguous copy."""
    batch = make_batch(seed=8, b=6, d=5, k=0, dtype=dtype)
    broadcast = np.broadcast_to(batch.anchors[0], batch.anchors.shape)
    loss = rt.InfoNCELoss(temperature=0.2, reduction="none")
    value, grads = loss(broadcast, batch.positives)
    contiguous = type(batch)(np.ascontiguousarray(broadcast), batch.positives, None)
    expected = run_reference(contiguous, "in_batch", temperature=0.2, reduction="none")
    options = {"temperature": 0.2, "similarity": "cosine"}
    assert_matches((value, grads), expected, contiguous, dtype, reduction="none", options=options)


@each_dtype
@pytest.mark.parametrize("reduction", REDUCTIONS)
@each_layout
def test_outputs_have_input_dtype_and_shape(layout, symmetric, reduction, dtype):
    """Loss type, gradient shapes/dtypes, None for absent negatives; inputs are left unchanged."""
    batch = make_batch(seed=3, b=4, d=3, k=2, dtype=dtype)
    before = [x.copy() for x in batch]
    loss = rt.InfoNCELoss(symmetric=symmetric, reduction=reduction)
    value, grads = run_loss(loss, batch, layout)
    if reduction == "none":
        assert isinstance(value, np.ndarray)
        assert (value.dtype, value.shape) == (np.dtype(dtype), (4,))
    else:
        assert type(value) is float
    assert isinstance(grads, tuple) and len(grads) == 3
    for grad, x in zip(grads[:2], batch[:2]):
        assert (grad.dtype, grad.shape) == (x.dtype, x.shape)
        assert np.isfinite(grad).all() and np.any(grad != 0)
    if layout == "in_batch":
        assert grads[2] is None
    else:
        assert (grads[2].dtype, grads[2].shape) == (np.dtype(dtype), (4, 2, 3))
    for x, original in zip(batch, before):
        np.testing.assert_array_equal(x, original)


@each_dtype
@each_layout
def test_forward_is_call(layout, symmetric, dtype):
    """``loss.forward(...)`` returns what ``loss(...)`` returns."""
    batch = make_batch(seed=4, b=5, d=7, k=2, dtype=dtype)
    loss = rt.InfoNCELoss(temperature=0.3, symmetric=symmetric, reduction="none")
    called = run_loss(loss, batch, layout)
    forwarded = run_loss(loss.forward, batch, layout)
    options = {"temperature": 0.3, "similarity": "cosine"}
    assert_matches(called, to_float64(forwarded), batch, dtype, reduction="none", options=options)
