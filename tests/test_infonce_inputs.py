"""InfoNCELoss input handling: bad input raises the named exception, edge cases give right values.

Error messages must start with the argument's name (spec section 1), so every ``match=`` below is
anchored at the start of the message.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import ruvector_training as rt
from helpers import (
    DTYPES,
    Batch,
    assert_grad_close,
    assert_loss_close,
    batch_scales,
    dtype_id,
    each_dtype,
    each_layout,
    make_batch,
    run_loss,
    run_reference,
)


def names(arg: str) -> str:
    """A ``match=`` pattern: the message starts with ``arg``."""
    return rf"^{arg}\b"


@pytest.fixture
def batch() -> Batch:
    """A valid float64 batch: B=4, D=3, K=2."""
    return make_batch(seed=1, b=4, d=3, k=2)


# ---------------------------------------------------------------------------------------------
# TypeError: non-arrays, non-float dtypes, mixed dtypes.

NOT_ARRAYS = {
    "list": lambda x: x.tolist(),
    "tuple": lambda x: tuple(map(tuple, x.reshape(len(x), -1))),
    "None": lambda x: None,
    "scalar": lambda x: 1.0,
}
BAD_DTYPES = [np.int64, np.int32, np.uint8, np.float16, np.complex128, np.bool_, object]


NON_ARRAY_CASES = [
    (arg, kind)
    for arg in ("anchors", "positives", "negatives")
    for kind in sorted(NOT_ARRAYS)
    if (arg, kind) != ("negatives", "None")  # negatives=None is valid: in-batch
]


@pytest.mark.parametrize(("arg", "kind"), NON_ARRAY_CASES, ids=map("-".join, NON_ARRAY_CASES))
def test_non_array_is_type_error(batch, arg, kind):
    """A list, tuple, scalar or None where an array is required is a TypeError naming it."""
    bad = batch._replace(**{arg: NOT_ARRAYS[kind](getattr(batch, arg))})
    with pytest.raises(TypeError, match=names(arg)):
        rt.InfoNCELoss()(*bad)


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("arg", ["anchors", "positives", "negatives"])
def test_non_float_dtype_is_type_error(batch, arg, dtype):
    """Integer, bool, half, complex or object arrays are a TypeError naming the argument."""
    bad = batch._replace(**{arg: getattr(batch, arg).astype(dtype)})
    with pytest.raises(TypeError, match=names(arg)):
        rt.InfoNCELoss()(*bad)


@pytest.mark.parametrize("arg", ["positives", "negatives"])
@pytest.mark.parametrize("anchors_dtype", DTYPES, ids=dtype_id)
def test_mixed_float_dtypes_are_type_error(batch, arg, anchors_dtype):
    """float32 with float64 (either way round) is a TypeError naming the odd argument."""
    other = np.float64 if anchors_dtype == np.float32 else np.float32
    bad = batch.astype(anchors_dtype)._replace(**{arg: getattr(batch, arg).astype(other)})
    with pytest.raises(TypeError, match=names(arg)):
        rt.InfoNCELoss()(*bad)


# ---------------------------------------------------------------------------------------------
# ValueError: shapes, empty batches, non-finite values, options.

BAD_SHAPES = [
    ("anchors", (4,), "1-D anchors"),
    ("anchors", (4, 3, 1), "3-D anchors"),
    ("positives", (4,), "1-D positives"),
    ("positives", (5, 3), "positives with another B"),
    ("positives", (4, 2), "positives with another D"),
    ("negatives", (4, 3), "2-D negatives"),
    ("negatives", (4, 2, 3, 1), "4-D negatives"),
    ("negatives", (3, 2, 3), "negatives with another B"),
    ("negatives", (4, 2, 4), "negatives with another D"),
]


@pytest.mark.parametrize(("arg", "shape", "case"), BAD_SHAPES, ids=[c for _, _, c in BAD_SHAPES])
@each_dtype
def test_wrong_shape_is_value_error(batch, arg, shape, case, dtype):
    """Wrong ndim or a size disagreeing with the anchors is a ValueError naming the argument."""
    bad = batch.astype(dtype)._replace(**{arg: np.ones(shape, dtype)})
    with pytest.raises(ValueError, match=names(arg)):
        rt.InfoNCELoss()(*bad)


def test_shape_message_is_the_specs():
    """The spec's example message, word for word."""
    anchors = np.ones((32, 64), np.float32)
    negatives = np.ones((32, 5, 63), np.float32)
    message = "negatives: expected shape (B, K, 64) with B=32, got (32, 5, 63)"
    with pytest.raises(ValueError, match=re.escape(message)):
        rt.InfoNCELoss()(anchors, anchors, negatives)


@pytest.mark.parametrize(("b", "d"), [(0, 3), (3, 0), (0, 0)], ids=["B0", "D0", "B0-D0"])
@pytest.mark.parametrize("with_negatives", [False, True], ids=["in_batch", "per_row"])
def test_empty_batch_or_dimension_is_value_error(b, d, with_negatives):
    """An empty batch or zero embedding dimension is a ValueError naming the anchors."""
    empty = np.ones((b, d))
    negatives = np.ones((b, 2, d)) if with_negatives else None
    with pytest.raises(ValueError, match=names("anchors")):
        rt.InfoNCELoss()(empty, empty, negatives)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("arg", ["anchors", "positives", "negatives"])
@each_dtype
def test_non_finite_value_is_value_error(batch, arg, value, dtype):
    """One NaN or infinity anywhere in an input is a ValueError naming that input."""
    bad = batch.astype(dtype)
    poisoned = getattr(bad, arg).copy()
    poisoned.reshape(-1)[-2] = value
    for in_batch in (False, True):
        with pytest.raises(ValueError, match=names(arg)):
            rt.InfoNCELoss()(*bad._replace(**{arg: poisoned}), in_batch=in_batch)


@pytest.mark.parametrize("temperature", [0.0, -0.07, math.nan], ids=["zero", "negative", "nan"])
def test_bad_temperature_is_value_error(temperature):
    """A temperature <= 0 or NaN is rejected by the constructor and by the setter."""
    with pytest.raises(ValueError, match=names("temperature")):
        rt.InfoNCELoss(temperature=temperature)
    loss = rt.InfoNCELoss(temperature=0.5)
    with pytest.raises(ValueError, match=names("temperature")):
        loss.temperature = temperature
    assert loss.temperature == 0.5


@pytest.mark.parametrize(
    ("option", "bad"),
    [("similarity", "euclid"), ("similarity", "Cosine"), ("reduction", "avg"), ("reduction", "")],
)
def test_unknown_option_name_is_value_error(option, bad):
    """Unknown similarity / reduction names are rejected by the constructor and the setter."""
    with pytest.raises(ValueError, match=names(option)):
        rt.InfoNCELoss(**{option: bad})
    loss = rt.InfoNCELoss()
    before = getattr(loss, option)
    with pytest.raises(ValueError, match=names(option)):
        setattr(loss, option, bad)
    assert getattr(loss, option) == before


def test_in_batch_false_without_negatives_is_value_error(batch):
    """``in_batch=False`` and no negatives leaves nothing to contrast: ValueError on in_batch."""
    with pytest.raises(ValueError, match=names("in_batch")):
        rt.InfoNCELoss()(batch.anchors, batch.positives, in_batch=False)


def test_in_batch_true_without_negatives_is_in_batch(batch):
    """``in_batch=True`` without negatives is the in-batch layout, same as the default."""
    loss = rt.InfoNCELoss(reduction="none")
    value, grads = loss(batch.anchors, batch.positives, in_batch=True)
    default_value, default_grads = loss(batch.anchors, batch.positives)
    np.testing.assert_allclose(value, default_value, rtol=1e-12)
    for got, want in zip(grads[:2], default_grads[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert grads[2] is None


@pytest.mark.parametrize("in_batch", [None, False])
def test_symmetric_with_per_row_negatives_is_value_error(batch, in_batch):
    """``symmetric=True`` needs an in-batch layout: per-row negatives are a ValueError."""
    with pytest.raises(ValueError, match=names("symmetric")):
        rt.InfoNCELoss(symmetric=True)(*batch, in_batch=in_batch)


# ---------------------------------------------------------------------------------------------
# Edge cases that must work, with their values.


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@each_dtype
@each_layout
def test_zero_rows_follow_the_eps_guard(layout, symmetric, dtype, similarity):
    """Zero rows give finite losses; a zero row's cosine gradient is g / 1e-12 (the reference).

    Zero rows' cosine gradients are ~1e12 times larger than the others, so the two kinds of
    rows are compared at their own scale.
    """
    batch = make_batch(seed=2, b=5, d=4, k=2, dtype=dtype)
    zero = {"anchors": (0,), "positives": (1,), "negatives": (2, 1)}
    for name, row in zero.items():
        getattr(batch, name)[row] = 0.0
    options = {"temperature": 0.5, "similarity": similarity, "symmetric": symmetric}
    value, grads = run_loss(rt.InfoNCELoss(reduction="none", **options), batch, layout)
    assert np.isfinite(value).all()
    expected_value, expected_grads = run_reference(batch, layout, reduction="none", **options)
    scale_options = {"temperature": 0.5, "similarity": similarity, "reduction": "none"}
    rows = np.concatenate([x.reshape(-1, 4) for x in batch])
    scales = batch_scales([rows[rows.any(axis=1)]], batch_size=5, **scale_options)
    assert_loss_close(value, expected_value, dtype, scales)
    zero_scales = batch_scales([np.zeros((1, 4))], batch_size=5, **scale_options)
    for name, got, want in zip(Batch._fields, grads, expected_grads):
        if want is None:
            assert got is None
            continue
        assert np.isfinite(got).all()
        is_zero = np.zeros(want.shape[:-1], bool)
        is_zero[zero[name]] = True
        row_scales = zero_scales if similarity == "cosine" else scales
        assert_grad_close(got[is_zero], want[is_zero], dtype, row_scales, err_msg=name)
        assert_grad_close(got[~is_zero], want[~is_zero], dtype, scales, err_msg=name)
        if similarity == "cosine":  # g / 1e-12 with g of order 1: the guard's huge gradient
            assert np.abs(want[is_zero]).max() > 1e9


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("symmetric", [False, True])
@each_dtype
def test_single_row_in_batch_is_zero(similarity, symmetric, dtype):
    """B=1 in-batch: the positive is the only candidate, so loss 0 and zero gradients."""
    batch = make_batch(seed=3, b=1, d=6, dtype=dtype)
    loss = rt.InfoNCELoss(similarity=similarity, symmetric=symmetric, reduction="sum")
    value, (ga, gp, gn) = loss(batch.anchors, batch.positives)
    assert value == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(ga, 0.0, atol=1e-12)
    np.testing.assert_allclose(gp, 0.0, atol=1e-12)
    assert gn is None


@each_dtype
def test_one_dimensional_embeddings(dtype):
    """D=1 cosine: similarities are the sign products, and every gradient is 0."""
    anchors = np.array([[2.0], [-1.0], [0.5]], dtype)
    positives = np.array([[3.0], [-0.1], [4.0]], dtype)
    value, (ga, gp, _) = rt.InfoNCELoss(temperature=1.0, reduction="none")(anchors, positives)
    e = math.e
    # logits: row 0 [1, -1, 1], row 1 [-1, 1, -1], row 2 [1, -1, 1]; correct = the diagonal.
    expected = [math.log(2 * e + 1 / e) - 1, math.log(e + 2 / e) - 1, math.log(2 * e + 1 / e) - 1]
    np.testing.assert_allclose(value, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(ga, 0.0, atol=1e-12)
    np.testing.assert_allclose(gp, 0.0, atol=1e-12)


def test_d1_dot_matches_reference():
    """D=1 dot similarity with per-row negatives equals the reference."""
    batch = make_batch(seed=9, b=6, d=1, k=3)
    options = {"temperature": 0.3, "similarity": "dot"}
    value, grads = run_loss(rt.InfoNCELoss(reduction="none", **options), batch, "per_row")
    expected_value, expected_grads = run_reference(batch, "per_row", reduction="none", **options)
    np.testing.assert_allclose(value, expected_value, rtol=1e-10)
    for got, want in zip(grads, expected_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Attributes: defaults, setters, repr.


def test_defaults():
    """The spec's defaults, and the documented 256 MiB logits budget."""
    loss = rt.InfoNCELoss()
    assert (loss.temperature, loss.similarity, loss.symmetric, loss.reduction) == (
        0.07,
        "cosine",
        False,
        "mean",
    )
    assert loss.logits_budget_bytes == rt.DEFAULT_LOGITS_BUDGET_BYTES == 256 << 20


SETTINGS = [
    ("temperature", 0.5),
    ("similarity", "dot"),
    ("symmetric", True),
    ("reduction", "sum"),
    ("logits_budget_bytes", 1000),
]


@pytest.mark.parametrize(("attribute", "value"), SETTINGS, ids=[a for a, _ in SETTINGS])
def test_setter_changes_the_result(batch, attribute, value):
    """A set attribute reads back and acts exactly like passing it to the constructor."""
    loss = rt.InfoNCELoss(temperature=0.1)
    before, _ = loss(batch.anchors, batch.positives)
    setattr(loss, attribute, value)
    assert getattr(loss, attribute) == value
    after, after_grads = loss(batch.anchors, batch.positives)
    fresh_loss = rt.InfoNCELoss(**{"temperature": 0.1, attribute: value})
    fresh, fresh_grads = fresh_loss(batch.anchors, batch.positives)
    assert after == pytest.approx(fresh, rel=1e-12)
    for got, want in zip(after_grads[:2], fresh_grads[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    if attribute != "logits_budget_bytes":  # the budget changes the path, not the result
        assert after != pytest.approx(before, rel=1e-3)


REPR_SETTINGS = [
    ("temperature", 0.25, "0.25"),
    ("similarity", "dot", "dot"),
    ("symmetric", True, "True"),
    ("reduction", "sum", "sum"),
    ("logits_budget_bytes", 4096, "4096"),
]


def test_repr_mentions_the_settings():
    """``repr`` shows the class name and every setting's name and value."""
    text = repr(rt.InfoNCELoss(**{name: value for name, value, _ in REPR_SETTINGS}))
    assert text.startswith("InfoNCELoss(")
    for name, _, shown in REPR_SETTINGS:
        assert re.search(rf"{name}=\W?{re.escape(shown)}\b", text), (name, text)
