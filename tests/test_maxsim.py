"""Late interaction (MaxSim): scores, top-k and MaxSimLoss against the NumPy reference
(tests/reference_maxsim.py), central finite differences, the chapter's worked example,
thread-count independence and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import reference_maxsim as ref
from helpers import outputs_per_thread_count
from ruvector_training import MaxSimLoss, maxsim_scores, maxsim_topk

MASKS = ("all_real", "ragged", "single")


def make_mask(rng, shape, pattern):
    """All real, ragged (random holes, at least one real token per row), or one real token."""
    if pattern == "all_real":
        return np.ones(shape, dtype=bool)
    flat = np.zeros((int(np.prod(shape[:-1])), shape[-1]), dtype=bool)
    for row in flat:
        if pattern == "single":
            row[rng.integers(shape[-1])] = True
        else:
            row[:] = rng.random(shape[-1]) < 0.6
            row[rng.integers(shape[-1])] = True
    return flat.reshape(shape)


def make_inputs(seed, b=4, k=2, lq=3, ld=5, ln=4, d=6, pattern="ragged"):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, lq, d))
    docs = rng.standard_normal((b, ld, d))
    negs = rng.standard_normal((b, k, ln, d))
    masks = (
        make_mask(rng, (b, lq), pattern),
        make_mask(rng, (b, ld), pattern),
        make_mask(rng, (b, k, ln), pattern),
    )
    return (q, docs, negs), masks


def test_worked_example_from_the_chapter_gives_1_84():
    # Query tokens "return" and "tablet"; their best document tokens score 0.93 and 0.91.
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    document = np.array([[[0.93, 0.20], [0.10, 0.91], [0.50, 0.50]]])
    assert maxsim_scores(query, document)[0, 0] == pytest.approx(1.84, abs=1e-12)
    mean = maxsim_scores(query, document, normalize="query_length")[0, 0]
    assert mean == pytest.approx(0.92, abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("normalize", ["none", "query_length"])
@pytest.mark.parametrize("pattern", MASKS)
def test_scores_match_the_reference(dtype, similarity, normalize, pattern):
    rng = np.random.default_rng(3)
    q = rng.standard_normal((5, 4, 8))
    d = rng.standard_normal((7, 6, 8))
    qm, dm = make_mask(rng, (5, 4), pattern), make_mask(rng, (7, 6), pattern)
    got = maxsim_scores(
        q.astype(dtype),
        d.astype(dtype),
        query_mask=qm,
        document_mask=dm,
        similarity=similarity,
        normalize=normalize,
    )
    want = ref.maxsim_scores(
        q.astype(dtype).astype(np.float64),
        d.astype(dtype).astype(np.float64),
        qm,
        dm,
        similarity,
        normalize,
    )
    assert got.dtype == dtype and got.shape == (5, 7)
    np.testing.assert_allclose(
        got,
        want,
        rtol=1e-5 if dtype == np.float32 else 1e-12,
        atol=1e-5 if dtype == np.float32 else 1e-12,
    )


def test_max_runs_over_real_tokens_only_unlike_multiplying_by_the_mask():
    # Every real similarity is negative: padding must not contribute a 0 (PyLate's convention
    # would give 0 here).
    q = np.array([[[1.0, 0.0]]])
    d = np.array([[[-1.0, 0.0], [5.0, 0.0]]])
    mask = np.array([[True, False]])
    assert maxsim_scores(q, d, document_mask=mask)[0, 0] == -1.0


LAYOUTS = [
    ("in_batch", False),
    ("in_batch", True),
    ("per_row", False),
    ("shared", False),
    ("shared", True),
]


def call(loss, inputs, masks, layout):
    q, d, n = inputs
    qm, dm, nm = masks
    if layout == "in_batch":
        return loss(q, d, query_mask=qm, document_mask=dm)
    return loss(
        q, d, n, query_mask=qm, document_mask=dm, negative_mask=nm, in_batch=layout == "shared"
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("layout", "symmetric"), LAYOUTS)
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("normalize", ["none", "query_length"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pattern", MASKS)
def test_loss_and_gradients_match_the_reference(
    dtype, layout, symmetric, similarity, normalize, reduction, pattern
):
    inputs, masks = make_inputs(11, pattern=pattern)
    inputs = tuple(x.astype(dtype) for x in inputs)
    loss = MaxSimLoss(
        temperature=0.5,
        similarity=similarity,
        normalize=normalize,
        symmetric=symmetric,
        reduction=reduction,
    )
    value, grads = call(loss, inputs, masks, layout)
    q, d, n = (x.astype(np.float64) for x in inputs)
    want, rows, want_grads = ref.loss_and_grads(
        q,
        d,
        None if layout == "in_batch" else n,
        *masks[:2],
        None if layout == "in_batch" else masks[2],
        layout=layout,
        temperature=0.5,
        similarity=similarity,
        normalize=normalize,
        symmetric=symmetric,
        reduction=reduction,
    )
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    if reduction == "none":
        assert value.dtype == dtype and value.shape == (4,)
        np.testing.assert_allclose(value, rows, **tol)
    else:
        assert value == pytest.approx(want, rel=tol["rtol"], abs=tol["atol"])
    for got, expected, mask in zip(grads, want_grads, masks):
        if expected is None:
            assert got is None
            continue
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **tol)
        assert np.all(got[~mask] == 0.0), "masked tokens get exactly zero"


@pytest.mark.parametrize(("layout", "symmetric"), LAYOUTS)
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_gradients_match_central_finite_differences(layout, symmetric, similarity):
    inputs, masks = make_inputs(5, b=3, k=2, lq=3, ld=4, ln=3, d=4)
    loss = MaxSimLoss(
        temperature=0.7, similarity=similarity, normalize="query_length", symmetric=symmetric
    )
    _, grads = call(loss, inputs, masks, layout)
    h = 1e-6
    for which, grad in enumerate(grads):
        if grad is None:
            continue
        numeric = np.zeros_like(grad)
        for index in np.ndindex(grad.shape):
            plus = [x.copy() for x in inputs]
            minus = [x.copy() for x in inputs]
            plus[which][index] += h
            minus[which][index] -= h
            numeric[index] = (
                call(loss, plus, masks, layout)[0] - call(loss, minus, masks, layout)[0]
            ) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_ties_send_the_gradient_to_the_lowest_index():
    q = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    d = np.array([[[0.5, 0.1], [0.2, 0.3], [0.5, 0.1]], [[0.1, 0.2], [0.0, 0.0], [0.3, 0.0]]])
    _, (gq, gd, _) = MaxSimLoss()(q, d)
    assert np.any(gd[0, 0] != 0.0) and np.all(gd[0, 2] == 0.0)


def test_streamed_arg_max_equals_the_kept_table():
    inputs, masks = make_inputs(9, b=6, lq=5, ld=7)
    kept = MaxSimLoss(symmetric=True)
    streamed = MaxSimLoss(symmetric=True, argmax_budget_bytes=0)
    for layout in ("in_batch", "shared", "per_row"):
        kept.symmetric = streamed.symmetric = layout != "per_row"
        a_loss, a_grads = call(kept, inputs, masks, layout)
        b_loss, b_grads = call(streamed, inputs, masks, layout)
        # Panels of one query change the GEMM tile shapes, so values agree to rounding.
        assert a_loss == pytest.approx(b_loss, rel=1e-14)
        for a, b in zip(a_grads, b_grads):
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_topk_equals_brute_force_from_scores(similarity, dtype):
    rng = np.random.default_rng(4)
    q = rng.standard_normal((9, 5, 8)).astype(dtype)
    d = rng.standard_normal((300, 20, 8)).astype(dtype)
    d[7] = d[3]  # an exact tie: the lower index ranks first
    qm, dm = make_mask(rng, (9, 5), "ragged"), make_mask(rng, (300, 20), "ragged")
    dm[7] = dm[3]
    scores = maxsim_scores(q, d, query_mask=qm, document_mask=dm, similarity=similarity)
    for k in (1, 5, 300, 305):
        top_scores, top_indices = maxsim_topk(
            q, d, k, query_mask=qm, document_mask=dm, similarity=similarity
        )
        order = np.lexsort((np.arange(300)[None, :].repeat(9, 0), -scores), axis=1)[:, :k]
        kk = min(k, 300)
        np.testing.assert_array_equal(top_indices[:, :kk], order)
        np.testing.assert_array_equal(top_scores[:, :kk], np.take_along_axis(scores, order, 1))
        assert np.all(top_indices[:, kk:] == -1) and np.all(top_scores[:, kk:] == -np.inf)


def test_results_are_identical_on_one_and_two_threads(tmp_path):
    script = """
import sys
import numpy as np
from ruvector_training import MaxSimLoss, maxsim_scores, maxsim_topk
rng = np.random.default_rng(0)
q = rng.standard_normal((24, 8, 16)).astype(np.float32)
d = rng.standard_normal((24, 40, 16)).astype(np.float32)
corpus = rng.standard_normal((900, 40, 16)).astype(np.float32)
loss, (gq, gd, _) = MaxSimLoss(symmetric=True)(q, d)
_, streamed = MaxSimLoss(argmax_budget_bytes=0)(q, d)
top_s, top_i = maxsim_topk(q, corpus, 10, similarity="cosine")
scores = maxsim_scores(q, corpus)
np.savez(sys.argv[1], loss=loss, gq=gq, gd=gd, sq=streamed[0], s=scores, ts=top_s, ti=top_i)
"""
    one, two = outputs_per_thread_count(script, tmp_path)
    for key in one.files:
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)


def bad_calls():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, 4))
    d = rng.standard_normal((2, 5, 4))
    n = rng.standard_normal((2, 2, 5, 4))
    loss = MaxSimLoss()
    nan = q.copy()
    nan[1, 2, 3] = np.nan
    inf = d.copy()
    inf[0, 0, 0] = np.inf
    empty = np.ones((2, 2, 5), dtype=bool)
    empty[1, 0] = False
    return [
        (lambda: maxsim_scores(q, rng.standard_normal((2, 5, 3))), ValueError, "documents"),
        (lambda: maxsim_scores(q, d, query_mask=np.ones((2, 4), bool)), ValueError, "query_mask"),
        (
            lambda: maxsim_scores(q, d, document_mask=np.ones((3, 5), bool)),
            ValueError,
            "document_mask",
        ),
        (
            lambda: maxsim_scores(q, d, query_mask=np.ones((2, 3), np.int64)),
            TypeError,
            "query_mask",
        ),
        (
            lambda: maxsim_scores(q, d, query_mask=np.array([[True] * 3, [False] * 3])),
            ValueError,
            "query_mask: row 1",
        ),
        (lambda: maxsim_scores(nan, d), ValueError, "queries"),
        (lambda: maxsim_scores(q, inf), ValueError, "documents"),
        (lambda: maxsim_scores(q.astype(np.float32), d), TypeError, "documents"),
        (lambda: maxsim_scores(q.astype(np.int64), d), TypeError, "queries"),
        (lambda: maxsim_scores(q[0], d), ValueError, "queries"),
        (lambda: maxsim_scores(q, d, similarity="l2"), ValueError, "similarity"),
        (lambda: maxsim_scores(q, d, normalize="mean"), ValueError, "normalize"),
        (lambda: maxsim_topk(q, d, 0), ValueError, "k"),
        (lambda: loss(q, d[:1]), ValueError, "documents"),
        (lambda: loss(q, d, n, negative_mask=empty), ValueError, "negative_mask: row (1, 0)"),
        (
            lambda: loss(q, d, n, negative_mask=np.ones((2, 2, 4), bool)),
            ValueError,
            "negative_mask",
        ),
        (lambda: loss(q, d, negative_mask=empty), ValueError, "negative_mask"),
        (lambda: loss(q, d, n[:1]), ValueError, "negatives"),
        (lambda: loss(q, d, in_batch=False), ValueError, "in_batch"),
        (lambda: MaxSimLoss(symmetric=True)(q, d, n), ValueError, "symmetric"),
        (lambda: MaxSimLoss(temperature=0.0), ValueError, "temperature"),
        (lambda: MaxSimLoss(reduction="max"), ValueError, "reduction"),
        (lambda: MaxSimLoss(argmax_budget_bytes=-1), ValueError, "argmax_budget_bytes"),
        (lambda: loss(q[:0], d[:0]), ValueError, "queries"),
    ]


@pytest.mark.parametrize("case", range(len(bad_calls())))
def test_bad_inputs_raise_clear_errors_naming_the_argument(case):
    function, error, prefix = bad_calls()[case]
    with pytest.raises(error) as info:
        function()
    assert str(info.value).startswith(prefix), str(info.value)


def test_attributes_are_writable_and_repr_lists_them():
    loss = MaxSimLoss()
    assert (loss.temperature, loss.similarity, loss.normalize, loss.symmetric, loss.reduction) == (
        1.0,
        "dot",
        "none",
        False,
        "mean",
    )
    loss.temperature = 0.05
    loss.similarity = "cosine"
    loss.normalize = "query_length"
    loss.symmetric = True
    loss.reduction = "sum"
    loss.argmax_budget_bytes = 0
    assert repr(loss) == (
        "MaxSimLoss(temperature=0.05, similarity='cosine', normalize='query_length', "
        "symmetric=True, reduction='sum', argmax_budget_bytes=0)"
    )
    with pytest.raises(ValueError, match="^normalize"):
        loss.normalize = "sum"


def test_overflowing_scores_are_a_clear_error():
    q = np.full((2, 2, 2), 1e30, dtype=np.float32)
    with pytest.raises(ValueError, match="^temperature"):
        MaxSimLoss(temperature=1e-30)(
            q.astype(np.float64) * 0 + 1e150, q.astype(np.float64) * 0 + 1e150
        )


def test_masked_and_unmasked_padding_agree():
    # Padding the documents with junk tokens that are masked out changes nothing.
    inputs, _ = make_inputs(2, pattern="all_real")
    q, d, _ = inputs
    junk = np.concatenate([d, np.full((4, 3, 6), 9.0)], axis=1)
    mask = np.concatenate([np.ones((4, 5), bool), np.zeros((4, 3), bool)], axis=1)
    a, (ga, gda, _) = MaxSimLoss()(q, d)
    b, (gb, gdb, _) = MaxSimLoss()(q, junk, document_mask=mask)
    assert a == pytest.approx(b, rel=1e-14)
    np.testing.assert_allclose(ga, gb, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gda, gdb[:, :5], rtol=1e-13, atol=1e-15)
    assert np.all(gdb[:, 5:] == 0.0)


def test_loss_objects_pickle_and_compare_by_configuration():
    import pickle

    loss = MaxSimLoss(temperature=0.2, normalize="query_length", symmetric=True)
    copy = pickle.loads(pickle.dumps(loss))
    assert copy == loss and repr(copy) == repr(loss)
    copy.temperature = 0.3
    assert copy != loss
