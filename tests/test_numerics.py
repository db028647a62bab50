"""Extreme but finite inputs and parameters: every result is the right finite answer or a
ValueError naming the parameter, never a silent NaN/Inf (issue 13, "Silent wrong results").

Cosine paths compute row norms without overflow (one helper in the core), so scaling a row by
any power of ten leaves cosine results unchanged to the dtype's rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt

F32_TOL = dict(rtol=2e-5, atol=1e-6)


def _rows(seed: int, shape: tuple, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _scaled(x: np.ndarray, factor: float) -> np.ndarray:
    out = x * x.dtype.type(factor)
    assert np.isfinite(out).all()
    return out


@pytest.mark.parametrize("factor", [1e19, 1e30, 1e37, 1e38])
@pytest.mark.parametrize("symmetric", [False, True])
def test_infonce_cosine_is_scale_invariant_in_float32(factor, symmetric):
    a, p = _rows(0, (8, 32)), _rows(1, (8, 32))
    p = a + 0.5 * p
    loss_fn = rt.InfoNCELoss(temperature=0.1, symmetric=symmetric)
    loss, (ga, gp, _) = loss_fn(a, p)
    big_loss, (big_ga, big_gp, _) = loss_fn(_scaled(a, factor), p)
    # Before: rows above ~1e19 were treated as zero vectors (2.256 vs 0.0446 in the issue).
    assert big_loss == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(big_gp, gp, **F32_TOL)
    # d/d(c a) = (d/da) / c: scale back in float64 (the true gradient may be subnormal).
    np.testing.assert_allclose(big_ga.astype(np.float64) * factor, ga, rtol=1e-3, atol=1e-4)
    assert np.isfinite(big_ga).all()


def test_infonce_issue_repro_value():
    rng = np.random.default_rng(13)
    a = rng.standard_normal((16, 64)).astype(np.float32)
    p = (a + 0.3 * rng.standard_normal((16, 64))).astype(np.float32)
    want, _ = rt.InfoNCELoss()(a, p)
    got, _ = rt.InfoNCELoss()(a * np.float32(1e19), p)
    assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infonce_per_row_negatives_scale_invariant(dtype):
    a, p, n = _rows(2, (6, 16), dtype), _rows(3, (6, 16), dtype), _rows(4, (6, 3, 16), dtype)
    factor = 1e37 if dtype == np.float32 else 1e300
    loss, _ = rt.InfoNCELoss()(a, p, n)
    big, (_, _, gn) = rt.InfoNCELoss()(a, p, _scaled(n, factor))
    assert big == pytest.approx(loss, rel=1e-5)
    assert np.isfinite(gn).all()


@pytest.mark.parametrize("factor", [1e19, 1e25, 1e37])
def test_topk_on_a_scaled_corpus_equals_unscaled(factor):
    q, corpus = _rows(5, (10, 32)), _rows(6, (500, 32))
    scores, idx = rt.topk(q, corpus, k=5)
    big_scores, big_idx = rt.topk(q, _scaled(corpus, factor), k=5)
    # Before: every row scored 0 and the indices were 0..k-1.
    np.testing.assert_array_equal(big_idx, idx)
    np.testing.assert_allclose(big_scores, scores, **F32_TOL)
    q_scores, q_idx = rt.topk(_scaled(q, factor), corpus, k=5)
    np.testing.assert_array_equal(q_idx, idx)
    np.testing.assert_allclose(q_scores, scores, **F32_TOL)


def test_topk_refuses_rows_whose_norm_overflows_the_dtype():
    q = _rows(7, (2, 16))
    corpus = np.full((4, 16), 3e38, np.float32)
    with pytest.raises(ValueError, match=r"^corpus: row 0 has an L2 norm .* float32 range"):
        rt.topk(q, corpus, k=2)


def test_miner_and_graph_miner_on_scaled_inputs():
    anchors, pool = _rows(8, (6, 16)), _rows(9, (200, 16))
    miner = rt.HardNegativeMiner("hardest", num_negatives=4)
    want = miner.mine(anchors, pool)
    np.testing.assert_array_equal(miner.mine(anchors, _scaled(pool, 1e20)), want)
    semi = rt.HardNegativeMiner("semi_hard", num_negatives=4, margin=0.5)
    positives = _rows(10, (6, 16))
    want = semi.mine(anchors, pool, positives=positives)
    got = semi.mine(anchors, pool, positives=_scaled(positives, 1e37))
    np.testing.assert_array_equal(got, want)

    emb = _rows(11, (30, 8))
    edges = np.array([[i, (i + 1) % 30] for i in range(30)])
    graph_miner = rt.GraphHardNegativeMiner(num_negatives=3, hop_distance=3)
    nodes = np.arange(30)
    want = graph_miner.mine(nodes, emb, edges)
    np.testing.assert_array_equal(graph_miner.mine(nodes, _scaled(emb, 1e20), edges), want)


@pytest.mark.parametrize("factor", [1e19, 1e37, 1e38])
def test_cosine_similarity_loss_scale_invariant(factor):
    u, v = _rows(12, (8, 16)), _rows(13, (8, 16))
    scores = np.linspace(-1, 1, 8).astype(np.float32)
    loss, (gu, gv, _) = rt.CosineSimilarityLoss()(u, v, scores)
    big, (big_gu, big_gv, _) = rt.CosineSimilarityLoss()(_scaled(u, factor), v, scores)
    # Before: NaN at 1e38.
    assert big == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(big_gv, gv, **F32_TOL)
    np.testing.assert_allclose(big_gu.astype(np.float64) * factor, gu, rtol=1e-3, atol=1e-4)


def test_cosine_similarity_loss_float64_near_max():
    u, v = _rows(14, (4, 8), np.float64), _rows(15, (4, 8), np.float64)
    scores = np.zeros(4)
    loss, _ = rt.CosineSimilarityLoss()(u, v, scores)
    big, (gu, gv, _) = rt.CosineSimilarityLoss()(_scaled(u, 1e307), _scaled(v, 1e300), scores)
    assert big == pytest.approx(loss, rel=1e-12)
    assert np.isfinite(gu).all() and np.isfinite(gv).all()


@pytest.mark.parametrize("factor", [1e19, 1e37])
def test_triplet_cosine_scale_invariant(factor):
    a, p, n = _rows(16, (5, 16)), _rows(17, (5, 16)), _rows(18, (5, 3, 16))
    loss_fn = rt.TripletLoss(margin=0.5, distance="cosine")
    loss, (_, gp, gn) = loss_fn(a, p, n)
    big, (_, big_gp, big_gn) = loss_fn(_scaled(a, factor), p, n)
    assert big == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(big_gp, gp, **F32_TOL)
    np.testing.assert_allclose(big_gn, gn, **F32_TOL)


def test_infonce_tiny_temperature_is_a_value_error_naming_it():
    a, p = _rows(19, (4, 8)), _rows(20, (4, 8))
    with pytest.raises(ValueError, match=r"^temperature: .*too small for float32"):
        rt.InfoNCELoss(temperature=1e-39)(a, p)
    # The same temperature is fine in float64, and small float32 ones are finite.
    loss, grads = rt.InfoNCELoss(temperature=1e-39)(a.astype(np.float64), p.astype(np.float64))
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads[:2])
    loss, grads = rt.InfoNCELoss(temperature=1e-30)(a, p)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads[:2])


# --- Dot products and Euclidean distances beyond the dtype's range ------------------------------
# Finite inputs whose scores (inner products, squared distances) exceed the dtype: a ValueError
# naming the inputs and saying the scores overflowed (with the way out), never an inf score or a
# NaN loss. The same rows in float64, or under cosine similarity, give finite answers.

OVERFLOW = r"the dot-product scores overflow float32 .*use similarity=\"cosine\" or float64"


def _huge(seed: int, shape: tuple) -> np.ndarray:
    """float32 rows of magnitude ~1e20: every inner product of two is ~1e40, beyond float32."""
    return _scaled(np.abs(_rows(seed, shape)) + 1.0, 1e20)


def test_infonce_dot_overflow_names_the_inputs_not_the_temperature():
    a, p, n = _huge(30, (4, 8)), _huge(31, (4, 8)), _huge(32, (4, 3, 8))
    loss_fn = rt.InfoNCELoss(similarity="dot")
    with pytest.raises(ValueError, match=r"^anchors, positives: " + OVERFLOW):
        loss_fn(a, p)
    with pytest.raises(ValueError, match=r"^anchors, positives, negatives: " + OVERFLOW):
        loss_fn(a, p, n, in_batch=False)
    with pytest.raises(ValueError, match=r"^anchors, positives, negatives: " + OVERFLOW):
        loss_fn(a, p, n, in_batch=True)
    with pytest.raises(ValueError, match=r"^anchors, positives: " + OVERFLOW):
        rt.InfoNCELoss(similarity="dot", symmetric=True)(a, p)
    # The suggested ways out work: float64, or cosine similarity.
    loss, grads = loss_fn(a.astype(np.float64) * 1e-20, p.astype(np.float64) * 1e-20)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads[:2])
    loss, grads = rt.InfoNCELoss()(a, p)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads[:2])
    # Scores within range but logits beyond it: still the temperature's fault.
    small = _rows(33, (4, 8))
    with pytest.raises(ValueError, match=r"^temperature: the loss or its gradient overflows"):
        rt.InfoNCELoss(similarity="dot", temperature=1e-37)(small * 1e3, small * 1e3)


def test_topk_dot_overflow_is_an_error_not_inf_scores():
    q, corpus = _huge(34, (5, 16)), _huge(35, (40, 16))
    # Before: scores all inf and indices 0..k-1.
    with pytest.raises(ValueError, match=r"^queries, corpus: " + OVERFLOW):
        rt.topk(q, corpus, 3, similarity="dot")
    # Strided corpora go through the same scan.
    with pytest.raises(ValueError, match=r"^queries, corpus: " + OVERFLOW):
        rt.topk(q, np.asfortranarray(corpus), 3, similarity="dot")
    # One overflowing row among ordinary ones is enough.
    mixed = _rows(36, (40, 16))
    mixed[17] = corpus[17]
    with pytest.raises(ValueError, match=r"^queries, corpus: " + OVERFLOW):
        rt.topk(q, mixed, 3, similarity="dot")
    scores, _ = rt.topk(q, corpus, 3)  # cosine: finite and exact
    assert np.isfinite(scores).all() and (scores <= 1.0 + 1e-6).all()
    scores64, idx64 = rt.topk(q.astype(np.float64), corpus.astype(np.float64), 3, "dot")
    assert np.isfinite(scores64).all() and (scores64 > 1e40).all()


def test_miners_dot_overflow_is_an_error_not_silent_padding():
    anchors, pool, positives = _huge(37, (6, 8)), _huge(38, (30, 8)), _huge(39, (6, 8))
    miner = rt.HardNegativeMiner(num_negatives=2, similarity="dot")
    # Before: every row came back as -1 padding.
    with pytest.raises(ValueError, match=r"^anchors, pool: " + OVERFLOW):
        miner.mine(anchors, pool)
    semi = rt.HardNegativeMiner(num_negatives=2, strategy="semi_hard", similarity="dot")
    with pytest.raises(ValueError, match=r"^anchors, positives: " + OVERFLOW):
        semi.mine(anchors, _rows(40, (30, 8)), positives=positives)
    out = rt.HardNegativeMiner(num_negatives=2).mine(anchors, pool)  # cosine is fine
    assert (out >= 0).all()
    edges = np.array([[i, i + 1] for i in range(7)])
    graph_miner = rt.GraphHardNegativeMiner(num_negatives=1, similarity="dot")
    # Before: a candidate picked by tie-breaking among inf scores.
    with pytest.raises(ValueError, match=r"^embeddings: " + OVERFLOW):
        graph_miner.mine(np.array([0, 3]), _huge(41, (8, 8)), edges)
    picked = rt.GraphHardNegativeMiner(num_negatives=1).mine(
        np.array([0, 3]), _huge(41, (8, 8)), edges
    )
    assert (picked >= 0).all()


def test_euclidean_overflow_names_the_inputs_and_the_way_out():
    a, p, n = _huge(42, (4, 8)), -_huge(43, (4, 8)), _huge(44, (4, 2, 8))
    with pytest.raises(
        ValueError,
        match=r"^anchors, positives, negatives: the loss or its gradient overflows float32 "
        r"\(the distances .* exceed its range: use distance=\"cosine\" or float64 inputs\)",
    ):
        rt.TripletLoss()(a, p, n)
    for loss, grads in (
        rt.TripletLoss(distance="cosine")(a, p, n),
        rt.TripletLoss()(a.astype(np.float64), p.astype(np.float64), n.astype(np.float64)),
    ):
        assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads)
    emb = np.concatenate([_huge(45, (2, 8)), -_huge(46, (2, 8))])
    edges = np.array([[0, 2], [1, 3]])
    with pytest.raises(ValueError, match=r"^embeddings: .*overflows float32 .*float64"):
        rt.LocalContrastiveLoss()(emb, edges)
    with pytest.raises(ValueError, match=r"^embeddings: .*overflows float32 .*float64"):
        rt.SpectralRegularization()(emb, edges)
    loss, (grad, *_) = rt.LocalContrastiveLoss()(emb.astype(np.float64), edges)
    assert np.isfinite(loss) and np.isfinite(grad).all()


def test_cosine_similarity_loss_on_rows_whose_dot_overflows():
    """CosineSimilarityLoss has no dot path: rows whose raw inner product is beyond float32
    give the scale-free answer (the same as the rows scaled down)."""
    u, v = _huge(47, (4, 8)), _huge(48, (4, 8))
    scores = np.array([1.0, 0.5, -0.5, 0.0], np.float32)
    loss, grads = rt.CosineSimilarityLoss()(u, v, scores)
    small, _ = rt.CosineSimilarityLoss()(u * np.float32(1e-20), v * np.float32(1e-20), scores)
    assert loss == pytest.approx(small, rel=1e-5)
    assert np.isfinite(grads[0]).all() and np.isfinite(grads[1]).all()


def test_local_contrastive_huge_margin_is_rejected_for_float32():
    emb = _rows(21, (4, 8))
    edges = np.array([[0, 1], [1, 2], [2, 3]])
    labels = np.array([False, True, False])
    with pytest.raises(ValueError, match=r"^margin: 1e200 is too large for float32"):
        rt.LocalContrastiveLoss(margin=1e200)(emb, edges, labels)
    # float64 holds margin^2 up to ~1e308, so 1e150 is fine there (finite loss and gradient).
    loss, (grad, *_) = rt.LocalContrastiveLoss(margin=1e150, reduction="sum")(
        emb.astype(np.float64), edges, labels
    )
    assert loss == pytest.approx(2 * 1e300, rel=1e-12)
    assert np.isfinite(grad).all()


def test_spectral_huge_lam_is_a_value_error_naming_lam():
    emb = _rows(22, (4, 8))
    edges = np.array([[0, 1], [1, 2], [2, 3]])
    with pytest.raises(ValueError, match=r"^lam: "):
        rt.SpectralRegularization(lam=1e38)(emb, edges)
    with pytest.raises(ValueError, match=r"^lam: .*too large for float32"):
        rt.SpectralRegularization(lam=1e39)(emb, edges)


@pytest.mark.parametrize("scale", [1e-38, 1e-300, 1e300])
def test_spectral_normalized_does_not_depend_on_the_weight_scale(scale):
    emb = _rows(23, (5, 8))
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]])
    w = np.array([1.0, 2.0, 0.5, 1.5, 3.0])
    loss, (grad, *_) = rt.SpectralRegularization(lam=0.1)(emb, edges, w)
    big, (big_grad, *_) = rt.SpectralRegularization(lam=0.1)(emb, edges, w * scale)
    # Before: weights all 1e-38 gave an infinite loss.
    assert big == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(big_grad, grad, **F32_TOL)


def test_per_item_loss_beyond_float32_is_a_value_error():
    """``reduction="none"`` returns float32 per-item losses for float32 inputs: a finite loss
    beyond float32's range is refused, never returned as inf (``"mean"`` stays a float)."""
    x = np.array([[0.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    edges = np.array([[0, 1]])
    labels = np.array([False])
    with pytest.raises(ValueError, match="reduction: the per-item loss .* float32 range"):
        rt.LocalContrastiveLoss(margin=1e20, reduction="none")(x, edges, labels)
    loss, _ = rt.LocalContrastiveLoss(margin=1e20, reduction="mean")(x, edges, labels)
    assert loss == pytest.approx((1e20 - 1.0) ** 2)
