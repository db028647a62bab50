"""MatryoshkaLoss: the spec's worked value, parity with the NumPy references applied to prefixes,
finite differences, pass-through of non-embedding inputs, bad dims / weights."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from graph_cases import make_graph
from helpers import each_dtype, make_batch
from reference import finite_difference_grad, infonce_reference
from reference_losses import (
    cosine_similarity_reference,
    local_contrastive_reference,
    spectral_reference,
    triplet_reference,
)
from test_triplet import make_triplets

# Spec section 2 worked example: dims (2, 4, 6), InfoNCE tau 0.2, mean over dims -> 0.0153.
WORKED_QUERIES = [[1, 0, 0.9, 0.1, 0.5, 0.2], [0, 1, 0.1, 0.9, 0.2, 0.5]]
WORKED_POSITIVES = [[0.95, 0.05, 0.85, 0.15, 0.45, 0.25], [0.05, 0.95, 0.15, 0.85, 0.25, 0.45]]


def matryoshka_reference(reference, args, dims, weights, **options):
    """Weighted sum over prefixes of a NumPy reference, gradients zero-padded."""
    total, grads = (
        0.0,
        [
            None if g is None else np.zeros(np.shape(x))
            for x, g in zip(args, reference(*args, **options)[1])
        ],
    )
    for d, w in zip(dims, weights):
        sliced = [
            x[..., :d] if isinstance(x, np.ndarray) and x.ndim >= 2 and x.dtype.kind == "f" else x
            for x in args
        ]
        loss, prefix_grads = reference(*sliced, **options)
        total = total + w * np.asarray(loss)
        for g, pg in zip(grads, prefix_grads):
            if g is not None:
                g[..., :d] += w * pg
    return total, grads


@each_dtype
def test_spec_worked_value(dtype):
    q, p = np.array(WORKED_QUERIES, dtype), np.array(WORKED_POSITIVES, dtype)
    loss = rt.MatryoshkaLoss(rt.InfoNCELoss(temperature=0.2), dims=(2, 4, 6))
    value, grads = loss(q, p)
    assert abs(value - 0.0153) < 5e-5
    assert grads[0].dtype == dtype and grads[0].shape == q.shape and grads[2] is None
    want, want_grads = matryoshka_reference(
        lambda a, b: infonce_reference(a, b, None, temperature=0.2),
        [q.astype(np.float64), p.astype(np.float64)],
        (2, 4, 6),
        (1 / 3,) * 3,
    )
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(value, want, rtol=rtol)
    for got, expected in zip(grads[:2], want_grads):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6 if rtol > 1e-6 else 1e-13)


CASES = {
    "triplet": (
        rt.TripletLoss(margin=0.8, distance="cosine"),
        triplet_reference,
        dict(margin=0.8, distance="cosine"),
        lambda: make_triplets(2, 5, 8, 3),
    ),
    "cosine": (
        rt.CosineSimilarityLoss(reduction="sum"),
        cosine_similarity_reference,
        dict(reduction="sum"),
        lambda: (*make_triplets(3, 6, 8, None)[:2], np.linspace(-1, 1, 6)),
    ),
    "local": (
        rt.LocalContrastiveLoss(margin=3.0),
        local_contrastive_reference,
        dict(margin=3.0),
        lambda: (*make_graph(4, 9, 20, 8), np.arange(20) % 3 == 0),
    ),
    "spectral": (
        rt.SpectralRegularization(lam=0.5),
        spectral_reference,
        dict(lam=0.5),
        lambda: (*make_graph(5, 9, 20, 8), np.linspace(0.1, 2.0, 20)),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_with_prefix_references(name):
    """Any base loss: equals its reference over the prefixes; non-embedding inputs untouched."""
    base, reference, options, make_args = CASES[name]
    args = make_args()
    dims, weights = (8, 2, 5), (0.5, 1.0, 0.25)
    value, grads = rt.MatryoshkaLoss(base, dims, weights)(*args)
    want, want_grads = matryoshka_reference(reference, list(args), dims, weights, **options)
    np.testing.assert_allclose(value, want, rtol=1e-10, atol=1e-14)
    for got, expected in zip(grads, want_grads):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", ["infonce", "triplet"])
def test_gradients_match_finite_differences(name):
    if name == "infonce":
        base, args = rt.InfoNCELoss(temperature=0.3), list(make_batch(1, 4, 6, 2))
    else:
        base, args = rt.TripletLoss(margin=1.5), list(make_triplets(6, 4, 6, 2))
    loss = rt.MatryoshkaLoss(base, dims=(1, 3, 6), weights=(0.2, 0.3, 0.5))
    _, grads = loss(*args)
    for position, (x, grad) in enumerate(zip(args, grads)):

        def loss_of(value, position=position):
            changed = list(args)
            changed[position] = value
            return float(loss(*changed)[0])

        numeric = finite_difference_grad(loss_of, x)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7, err_msg=str(position))


def test_attributes_and_bad_values():
    loss = rt.MatryoshkaLoss(rt.TripletLoss(), dims=[4, 2])
    assert loss.dims == (4, 2) and loss.weights == (0.5, 0.5)
    loss.weights = (1.0, 2.0)
    assert loss.weights == (1.0, 2.0)
    with pytest.raises(ValueError, match=r"^dims\b"):
        loss.dims = (1, 2, 3)  # does not match the weights
    loss.weights = None
    loss.dims = (1, 2, 3)
    assert loss.weights == (1 / 3,) * 3
    for dims in ((), (0, 2), (2, 2), (1.5,), (True,)):
        with pytest.raises(ValueError, match=r"^dims\b"):
            rt.MatryoshkaLoss(rt.TripletLoss(), dims=dims)
    for weights in ((1.0,), (1.0, -1.0), (1.0, float("nan"))):
        with pytest.raises(ValueError, match=r"^weights\b"):
            rt.MatryoshkaLoss(rt.TripletLoss(), dims=(1, 2), weights=weights)
    a, p, n = make_triplets(1, 3, 4, None)
    with pytest.raises(ValueError, match=r"^dims\b"):
        rt.MatryoshkaLoss(rt.TripletLoss(), dims=(2, 5))(a, p, n)
    with pytest.raises(ValueError, match=r"^dims\b"):
        rt.MatryoshkaLoss(rt.TripletLoss(), dims=(2,))(a, p, n[:, :3])
    with pytest.raises(ValueError, match=r"^dims\b"):
        rt.MatryoshkaLoss(rt.CosineSimilarityLoss(), dims=(2,))(a[0], p[0], n[0])
    # Errors of the base loss come through unchanged.
    with pytest.raises(ValueError, match=r"^positives\b"):
        rt.MatryoshkaLoss(rt.TripletLoss(), dims=(2,))(a, p[:2], n)


def test_keyword_inputs_are_sliced_and_options_passed():
    """Embedding arrays passed by keyword are sliced; other keywords reach the base loss."""
    batch = make_batch(2, 4, 6, 3)
    loss = rt.MatryoshkaLoss(rt.InfoNCELoss(temperature=0.5), dims=(2, 6))
    positional = loss(batch.anchors, batch.positives, batch.negatives, in_batch=True)
    keyword = loss(batch.anchors, batch.positives, negatives=batch.negatives, in_batch=True)
    per_row = loss(batch.anchors, batch.positives, batch.negatives)
    assert positional[0] == keyword[0] != per_row[0]
    for got, want in zip(keyword[1], positional[1]):
        np.testing.assert_array_equal(got, want)
