"""Metrics: hand-computed worked values, retrieval metrics against a full-matrix NumPy reference
(stable sort, ties by lower index, with exact ties and graded gains), Spearman and ROC AUC
against SciPy and scikit-learn (to 1e-12 on inputs with ties) and rank-counting / all-pairs
references; bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import ruvector_training as rt
from reference_metrics import (
    auc_reference,
    edge_scores_reference,
    retrieval_reference,
    similarity_matrix,
    spearman_reference,
)
from ruvector_training import metrics
from scipy import stats
from sklearn import metrics as sklearn_metrics

RETRIEVAL = (metrics.mrr_at_k, metrics.recall_at_k, metrics.ndcg_at_k)
INV_LOG2_3 = 1.0 / math.log2(3.0)


def retrieval(queries, corpus, relevant, k, **kwargs) -> tuple[float, float, float]:
    """``(mrr, recall, ndcg)`` from the library."""
    return tuple(f(queries, corpus, relevant, k, **kwargs) for f in RETRIEVAL)


def random_case(seed: int, q: int, m: int, d: int, dtype=np.float64):
    """Queries, corpus and 1-4 relevant items per query (some queries with none)."""
    rng = np.random.default_rng(seed)
    queries = rng.standard_normal((q, d)).astype(dtype)
    corpus = rng.standard_normal((m, d)).astype(dtype)
    relevant = [
        set(rng.choice(m, size=rng.integers(0, 5), replace=False).tolist()) for _ in range(q)
    ]
    relevant[0] = {int(rng.integers(m))}  # at least one query with a relevant item
    return queries, corpus, relevant


def without_self_loops(edges: np.ndarray) -> np.ndarray:
    """The rows of ``edges`` with two different endpoints."""
    return edges[edges[:, 0] != edges[:, 1]]


# --- retrieval --------------------------------------------------------------------------------

# Corpus: four unit vectors at 0, ~37, 90 and 180 degrees.
CORPUS = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
QUERIES = np.array([[2.0, 0.0], [0.0, 3.0]])


def test_retrieval_worked_values():
    # Query 0 ranks 0, 1, 2, 3 (scores 1, 0.8, 0, -1); relevant {1, 2} at ranks 2 and 3.
    # Query 1 ranks 2, 1, 0, 3 (scores 1, 0.6, 0, 0: the tie goes to the lower index 0);
    # relevant {3} at rank 4.
    relevant = [[1, 2], [3]]
    assert metrics.mrr_at_k(QUERIES, CORPUS, relevant, 3) == (0.5 + 0.0) / 2
    assert metrics.mrr_at_k(QUERIES, CORPUS, relevant, 4) == (0.5 + 0.25) / 2
    assert metrics.recall_at_k(QUERIES, CORPUS, relevant, 2) == (0.5 + 0.0) / 2
    assert metrics.recall_at_k(QUERIES, CORPUS, relevant, 3) == (1.0 + 0.0) / 2
    ndcg_q0 = (INV_LOG2_3 + 0.5) / (1.0 + INV_LOG2_3)
    assert metrics.ndcg_at_k(QUERIES, CORPUS, relevant, 3) == pytest.approx(ndcg_q0 / 2, rel=1e-15)
    ndcg_q1 = (1.0 / math.log2(5.0)) / 1.0
    assert metrics.ndcg_at_k(QUERIES, CORPUS, relevant, 4) == pytest.approx(
        (ndcg_q0 + ndcg_q1) / 2, rel=1e-15
    )
    # Dot similarity: query 1 is (0, 3), same order.
    assert metrics.mrr_at_k(QUERIES, CORPUS, relevant, 4, similarity="dot") == 0.375


def test_graded_ndcg_worked_value():
    # Query 0 ranks 0, 1, 2: gains 0 -> 1, 2 -> 3 (item 1 is not relevant).
    gains = [{0: 1.0, 2: 3.0}]
    dcg = 1.0 + 3.0 / 2.0
    idcg = 3.0 + 1.0 * INV_LOG2_3
    value = metrics.ndcg_at_k(QUERIES[:1], CORPUS, gains, 3)
    assert value == pytest.approx(dcg / idcg, rel=1e-15)
    # Gains of 0 are not relevant: MRR sees only item 2 (rank 3).
    assert metrics.mrr_at_k(QUERIES[:1], CORPUS, [{0: 0.0, 2: 3.0}], 3) == pytest.approx(1 / 3)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("k", [1, 5, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_retrieval_matches_reference(similarity, k, dtype):
    queries, corpus, relevant = random_case(seed=k, q=40, m=150, d=12, dtype=dtype)
    expected = retrieval_reference(queries, corpus, relevant, k, similarity)
    assert retrieval(queries, corpus, relevant, k, similarity=similarity) == pytest.approx(
        expected, rel=1e-12
    )


def test_retrieval_with_exclude_matches_reference():
    rng = np.random.default_rng(3)
    corpus = rng.standard_normal((120, 8))
    rows = np.arange(0, 120, 3)
    queries = corpus[rows]
    # Each query is a corpus row: exclude itself (and a few others); it is also listed as
    # relevant, which the exclusion removes.
    exclude = [[int(r)] + rng.choice(120, size=3, replace=False).tolist() for r in rows]
    relevant = [{int(r)} | set(rng.choice(120, size=3, replace=False).tolist()) for r in rows]
    expected = retrieval_reference(queries, corpus, relevant, 10, "cosine", exclude)
    assert retrieval(queries, corpus, relevant, 10, exclude=exclude) == pytest.approx(
        expected, rel=1e-12
    )
    # Without the exclusion each query finds itself first.
    assert metrics.mrr_at_k(queries, corpus, [{int(r)} for r in rows], 1) == 1.0
    assert (
        metrics.mrr_at_k(
            queries, corpus, [{int(r)} | {0} for r in rows], 5, exclude=[[int(r)] for r in rows]
        )
        < 1.0
    )


def test_graded_ndcg_matches_reference_and_sklearn():
    rng = np.random.default_rng(11)
    queries = rng.standard_normal((30, 6))
    corpus = rng.standard_normal((80, 6))
    gains = [
        {int(j): float(rng.integers(0, 4)) for j in rng.choice(80, size=6, replace=False)}
        for _ in range(30)
    ]
    for gain in gains:
        gain[int(rng.integers(80))] = 2.5  # every query has a positive gain
    for k in (1, 4, 10, 80):
        expected = retrieval_reference(queries, corpus, gains, k)[2]
        assert metrics.ndcg_at_k(queries, corpus, gains, k) == pytest.approx(expected, rel=1e-12)
    y_true = np.zeros((30, 80))
    for i, gain in enumerate(gains):
        for j, g in gain.items():
            y_true[i, j] = g
    y_score = similarity_matrix(queries, corpus, "cosine")
    for k in (1, 4, 10):
        assert metrics.ndcg_at_k(queries, corpus, gains, k) == pytest.approx(
            sklearn_metrics.ndcg_score(y_true, y_score, k=k), rel=1e-12
        )


def tied_case(seed: int, q: int, m: int, d: int, dtype, similarity: str):
    """Queries and a corpus whose scores are exact in any dtype and full of ties.

    Cosine: every row is in ``{-1, 1}^4`` (norm exactly 2), so each score is one of
    -1, -0.5, 0, 0.5, 1 exactly. Dot: small integer entries, so each score is an exact integer.
    Either way the corpus repeats rows, so tied scores are common and the tie rule decides.
    """
    rng = np.random.default_rng(seed)
    if similarity == "cosine":
        draw = lambda rows: rng.choice([-1.0, 1.0], size=(rows, 4))  # noqa: E731
    else:
        draw = lambda rows: rng.integers(-2, 3, size=(rows, d)).astype(np.float64)  # noqa: E731
    corpus = draw(m)
    corpus[m // 2 :] = corpus[rng.integers(0, m // 2, size=m - m // 2)]  # duplicated rows
    return draw(q).astype(dtype), corpus.astype(dtype)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(("seed", "q", "m", "k"), [(1, 12, 30, 1), (2, 40, 90, 7), (3, 25, 64, 64)])
def test_retrieval_with_ties_matches_reference(similarity, dtype, seed, q, m, k):
    queries, corpus = tied_case(seed, q, m, 3, dtype, similarity)
    scores = similarity_matrix(queries, corpus, similarity)
    # The case really has ties within each query's top k.
    top = -np.sort(-scores, axis=1)[:, : min(k + 1, m)]
    assert k == 1 or (np.diff(top, axis=1) == 0).any()
    rng = np.random.default_rng(seed + 100)
    binary = [set(rng.choice(m, size=rng.integers(1, 6), replace=False).tolist()) for _ in range(q)]
    graded = [
        {int(j): float(rng.choice([0.0, 1.0, 2.0, 3.5])) for j in rng.choice(m, 6, replace=False)}
        for _ in range(q)
    ]
    graded[0][0] = 1.0  # at least one query with a positive gain
    for relevant in (binary, graded):
        expected = retrieval_reference(queries, corpus, relevant, k, similarity)
        got = retrieval(queries, corpus, relevant, k, similarity=similarity)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_retrieval_tie_rule_worked_value():
    # Corpus rows 1, 2 and 4 are the same vector: all three tie with score 1 for the query and
    # are ranked 1, 2, 4 (lower index first), ahead of rows 0 and 3.
    corpus = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    query = np.array([[1.0, 0.0]])
    assert metrics.mrr_at_k(query, corpus, [[4]], 5) == 1 / 3
    assert metrics.mrr_at_k(query, corpus, [[2, 4]], 5) == 1 / 2
    assert metrics.recall_at_k(query, corpus, [[4, 0]], 2) == 0.0
    assert metrics.recall_at_k(query, corpus, [[4, 0]], 3) == 0.5
    # Gains {2: 1, 4: 3}: DCG = 1/log2(3) + 3/log2(4); IDCG = 3 + 1/log2(3).
    assert metrics.ndcg_at_k(query, corpus, [{2: 1.0, 4: 3.0}], 3) == pytest.approx(
        (INV_LOG2_3 + 1.5) / (3.0 + INV_LOG2_3), rel=1e-15
    )


def test_queries_without_relevant_items_are_skipped():
    queries, corpus, relevant = random_case(seed=5, q=25, m=60, d=5)
    keep = [i for i, r in enumerate(relevant) if r]
    assert 0 < len(keep) < 25
    for f in RETRIEVAL:
        full = f(queries, corpus, relevant, 5)
        assert full == f(queries[keep], corpus, [relevant[i] for i in keep], 5)
    with pytest.raises(ValueError, match="^relevant: no query has a relevant item"):
        metrics.recall_at_k(queries, corpus, [[] for _ in range(25)], 5)
    # A query whose only relevant item is excluded counts as having none.
    with pytest.raises(ValueError, match="^relevant: no query has a relevant item"):
        metrics.mrr_at_k(queries[:2], corpus, [[1], [2]], 5, exclude=[[1], [2, 3]])


def test_padding_duplicates_and_short_corpus():
    padded = np.array([[1, 2, -1], [3, -1, -1]])
    assert retrieval(QUERIES, CORPUS, padded, 3) == retrieval(QUERIES, CORPUS, [[1, 2], [3]], 3)
    assert retrieval(QUERIES, CORPUS, [[1, 1, 2], [3, 3]], 3) == retrieval(
        QUERIES, CORPUS, [[1, 2], [3]], 3
    )
    # k beyond the corpus (and exclusions): the missing results are -1 padding, never relevant.
    values = retrieval(QUERIES, CORPUS, [[1, 2], [3]], 10, exclude=[[0], [2]])
    expected = retrieval_reference(QUERIES, CORPUS, [[1, 2], [3]], 10, exclude=[[0], [2]])
    assert values == pytest.approx(expected, rel=1e-15)
    assert values[1] == 1.0
    # NumPy integer indices of any dtype.
    relevant = [np.array([1, 2], dtype=np.uint8), np.array([3], dtype=np.int32)]
    assert retrieval(QUERIES, CORPUS, relevant, 3) == retrieval(QUERIES, CORPUS, [[1, 2], [3]], 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"queries": QUERIES.tolist()}, TypeError, "queries: expected a NumPy array"),
        ({"queries": QUERIES[0]}, ValueError, "queries: expected shape (Q, D)"),
        ({"corpus": CORPUS[None]}, ValueError, "corpus: expected shape (M, D)"),
        ({"corpus": CORPUS.astype(np.float32)}, TypeError, "corpus"),
        ({"corpus": CORPUS[:, :1]}, ValueError, "corpus"),
        ({"queries": np.array([[np.nan, 0.0], [0.0, 1.0]])}, ValueError, "queries"),
        ({"relevant": [[1]]}, ValueError, "relevant: expected 2 entries (one per query), got 1"),
        ({"relevant": {0: [1], 1: [2]}}, TypeError, "relevant: expected a sequence"),
        ({"relevant": [[1], [4]]}, ValueError, "relevant[1]: index 4 out of range"),
        ({"relevant": [[1], [-2]]}, ValueError, "relevant[1]: index -2 out of range"),
        ({"relevant": [[1.0], [2]]}, TypeError, "relevant[0]: expected integer corpus indices"),
        ({"relevant": [[True], [2]]}, TypeError, "relevant[0]: expected integer corpus indices"),
        ({"relevant": [5, [2]]}, TypeError, "relevant[0]: expected an iterable"),
        ({"relevant": [{1: -1.0}, [2]]}, ValueError, "relevant[0][1]: expected a gain >= 0"),
        ({"relevant": [{1: math.inf}, [2]]}, ValueError, "relevant[0][1]: expected a finite"),
        ({"k": 0}, ValueError, "k: expected an integer >= 1"),
        ({"k": 2.0}, TypeError, "k: expected an integer"),
        ({"similarity": "euclidean"}, ValueError, "similarity: expected one of"),
        ({"exclude": [[0]]}, ValueError, "exclude: expected 2 entries"),
        ({"exclude": [[0], [9]]}, ValueError, "exclude[1]: index 9 out of range"),
        ({"exclude": [[0], "a"]}, TypeError, "exclude[1]: expected an iterable"),
    ],
)
def test_retrieval_bad_input(kwargs, error, message):
    args = {"queries": QUERIES, "corpus": CORPUS, "relevant": [[1], [2]], "k": 2}
    args.update(kwargs)
    for f in RETRIEVAL:
        with pytest.raises(error) as info:
            f(
                args["queries"],
                args["corpus"],
                args["relevant"],
                args["k"],
                **{key: args[key] for key in ("similarity", "exclude") if key in args},
            )
        assert str(info.value).startswith(message), str(info.value)


# --- spearman ---------------------------------------------------------------------------------


def test_spearman_worked_values():
    # Ranks of y: 1, 2, 3.5, 5, 3.5; centred dot 8, squared norms 10 and 9.5.
    assert metrics.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(
        8 / math.sqrt(95), rel=1e-15
    )
    assert metrics.spearman([0.1, 0.5, 0.2], [1.0, 30.0, 2.0]) == 1.0
    assert metrics.spearman(np.arange(6), -np.exp(np.arange(6))) == -1.0
    assert math.isnan(metrics.spearman([1, 2, 3], [4, 4, 4]))
    assert math.isnan(metrics.spearman([2.0, 2.0], [1.0, 3.0]))


def test_spearman_matches_references():
    rng = np.random.default_rng(7)
    cases = [
        (rng.standard_normal(200), rng.standard_normal(200)),
        (rng.integers(0, 6, size=150), rng.integers(0, 4, size=150)),  # many ties
        (np.arange(50.0), np.arange(50.0) + rng.standard_normal(50) * 5),
    ]
    for x, y in cases:
        assert metrics.spearman(x, y) == pytest.approx(spearman_reference(x, y), abs=1e-12)
    for x, y in cases:
        assert metrics.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 10, 97, 1000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_matches_scipy_with_ties(n, seed):
    rng = np.random.default_rng(seed * 1000 + n)
    cases = [
        (rng.integers(0, 4, size=n), rng.integers(0, 3, size=n)),  # integers, heavy ties
        (rng.standard_normal(n).round(1), rng.standard_normal(n).round(0)),  # rounded floats
        (rng.standard_normal(n), rng.integers(0, 5, size=n).astype(np.float32)),  # mixed
    ]
    for x, y in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", stats.ConstantInputWarning)
            expected = stats.spearmanr(x, y)[0]
        if np.isnan(expected):  # a constant input (possible for tiny n)
            assert math.isnan(metrics.spearman(x, y))
            continue
        assert metrics.spearman(x, y) == pytest.approx(expected, abs=1e-12)
        assert metrics.spearman(x.tolist(), list(y)) == pytest.approx(expected, abs=1e-12)
        assert metrics.spearman(x, y) == pytest.approx(spearman_reference(x, y), abs=1e-12)


def test_spearman_constant_input_is_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(metrics.spearman([3, 3, 3, 3], [1, 2, 3, 4]))
        assert math.isnan(metrics.spearman([1.0, 2.0], [0.5, 0.5]))


@pytest.mark.parametrize(
    ("x", "y", "error", "message"),
    [
        ([1, 2, 3], [1, 2], ValueError, "y: expected the length of x (3), got 2"),
        ([1], [2], ValueError, "x: expected at least 2 values, got 1"),
        ([[1, 2]], [[1, 2]], ValueError, "x: expected a 1-D sequence"),
        ([1, 2, np.nan], [1, 2, 3], ValueError, "x: contains NaN or infinity"),
        ([1, 2, 3], [1, np.inf, 3], ValueError, "y: contains NaN or infinity"),
        (["a", "b"], [1, 2], TypeError, "x: expected real numbers"),
        ([1, 2], [1 + 1j, 2], TypeError, "y: expected real numbers"),
    ],
)
def test_spearman_bad_input(x, y, error, message):
    with pytest.raises(error) as info:
        metrics.spearman(x, y)
    assert str(info.value).startswith(message)


# --- link_prediction_auc ----------------------------------------------------------------------


def test_auc_worked_value_with_a_tie():
    # 1-D embeddings, dot similarity: scores are products.
    emb = np.array([[1.0], [2.0], [3.0], [0.5], [3.5]])
    pos = [(0, 1), (1, 2)]  # 2, 6
    neg = [(0, 3), (1, 0), (1, 4)]  # 0.5, 2 (tie), 7
    # Pairs: 2>0.5, 2=2 (1/2), 2<7, 6>0.5, 6>2, 6<7 -> 3.5 / 6.
    assert metrics.link_prediction_auc(emb, pos, neg, similarity="dot") == pytest.approx(
        3.5 / 6, abs=1e-15
    )
    assert metrics.link_prediction_auc(emb, neg, pos, similarity="dot") == pytest.approx(
        2.5 / 6, abs=1e-15
    )
    # Cosine: every score is 1 -> all ties -> 0.5.
    assert metrics.link_prediction_auc(emb, pos, neg) == 0.5


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_auc_matches_reference(similarity, dtype):
    rng = np.random.default_rng(21)
    emb = rng.standard_normal((300, 16)).astype(dtype)
    # No self-loops: their cosine is 1 only up to rounding, which would break ties at random.
    pos = without_self_loops(rng.integers(0, 300, size=(500, 2)))
    neg = without_self_loops(rng.integers(0, 300, size=(700, 2))).astype(np.uint16)
    value = metrics.link_prediction_auc(emb, pos, neg, similarity=similarity)
    pos_scores = edge_scores_reference(emb, pos, similarity)
    neg_scores = edge_scores_reference(emb, neg, similarity)
    assert value == pytest.approx(auc_reference(pos_scores, neg_scores), abs=1e-12)
    # Planted structure: positives between near-duplicate rows separate perfectly.
    twins = np.concatenate([emb, emb + 0.01 * rng.standard_normal(emb.shape).astype(dtype)])
    pairs = np.stack([np.arange(300), np.arange(300) + 300], axis=1)
    assert metrics.link_prediction_auc(twins, pairs, neg, similarity="cosine") > 0.99


def test_auc_matches_sklearn():
    rng = np.random.default_rng(4)
    # Small integers with dot similarity: exact scores with many ties.
    ties = rng.integers(-2, 3, size=(60, 3)).astype(np.float64)
    # Continuous values with cosine similarity (exact ties would depend on rounding).
    smooth = rng.standard_normal((60, 3))
    for emb, similarity in ((ties, "dot"), (smooth, "cosine")):
        pos = without_self_loops(rng.integers(0, 60, size=(200, 2)))
        neg = without_self_loops(rng.integers(0, 60, size=(300, 2)))
        scores = np.concatenate(
            [
                edge_scores_reference(emb, pos, similarity),
                edge_scores_reference(emb, neg, similarity),
            ]
        )
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        assert metrics.link_prediction_auc(emb, pos, neg, similarity) == pytest.approx(
            sklearn_metrics.roc_auc_score(labels, scores), abs=1e-12
        )


@pytest.mark.parametrize(
    ("num_nodes", "num_pos", "num_neg"), [(5, 1, 1), (20, 7, 30), (400, 900, 600)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_auc_matches_roc_auc_score_with_ties(num_nodes, num_pos, num_neg, seed):
    rng = np.random.default_rng(seed * 7919 + num_nodes)
    # Integer entries and dot similarity: exact integer scores, heavily tied.
    emb = rng.integers(-1, 2, size=(num_nodes, 2)).astype(np.float64)
    pos = rng.integers(0, num_nodes, size=(num_pos, 2))
    neg = rng.integers(0, num_nodes, size=(num_neg, 2))
    pos_scores = edge_scores_reference(emb, pos, "dot")
    neg_scores = edge_scores_reference(emb, neg, "dot")
    truth = np.r_[np.ones(num_pos), np.zeros(num_neg)]
    if num_pos * num_neg > 1:
        assert len(np.unique(np.r_[pos_scores, neg_scores])) < num_pos + num_neg  # ties
    expected = sklearn_metrics.roc_auc_score(truth, np.r_[pos_scores, neg_scores])
    value = metrics.link_prediction_auc(emb, pos, neg, similarity="dot")
    assert value == pytest.approx(expected, abs=1e-12)
    assert value == pytest.approx(auc_reference(pos_scores, neg_scores), abs=1e-12)
    # Cosine on {-1, 1}^4 rows: exact scores (norm 2) with ties too.
    emb = rng.choice([-1.0, 1.0], size=(num_nodes, 4)).astype(np.float32)
    pos_scores = edge_scores_reference(emb, pos, "cosine")
    neg_scores = edge_scores_reference(emb, neg, "cosine")
    expected = sklearn_metrics.roc_auc_score(truth, np.r_[pos_scores, neg_scores])
    assert metrics.link_prediction_auc(emb, pos, neg) == pytest.approx(expected, abs=1e-12)


def test_auc_chunks_agree(monkeypatch):
    rng = np.random.default_rng(8)
    emb = rng.standard_normal((50, 4))
    pos = without_self_loops(rng.integers(0, 50, size=(101, 2)))
    neg = without_self_loops(rng.integers(0, 50, size=(77, 2)))
    whole = metrics.link_prediction_auc(emb, pos, neg)
    monkeypatch.setattr(metrics, "EDGE_CHUNK", 8)
    assert metrics.link_prediction_auc(emb, pos, neg) == whole


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (([[1.0]], [(0, 0)], [(0, 0)]), TypeError, "embeddings: expected a NumPy array"),
        (
            (np.ones((3, 2), dtype=np.int64), [(0, 1)], [(1, 2)]),
            TypeError,
            "embeddings: expected float32",
        ),
        ((np.ones(3), [(0, 1)], [(1, 2)]), ValueError, "embeddings: expected shape (N, D)"),
        ((np.array([[np.nan], [1.0]]), [(0, 1)], [(1, 0)]), ValueError, "embeddings: contains NaN"),
        ((np.ones((3, 2)), [(0, 3)], [(1, 2)]), ValueError, "pos_edges: node index 3 out of range"),
        (
            (np.ones((3, 2)), [(0, 1)], [(-1, 2)]),
            ValueError,
            "neg_edges: node index -1 out of range",
        ),
        ((np.ones((3, 2)), [(0.0, 1.0)], [(1, 2)]), TypeError, "pos_edges: expected an integer"),
        ((np.ones((3, 2)), [(0, 1, 2)], [(1, 2)]), ValueError, "pos_edges: expected shape (E, 2)"),
        (
            (np.ones((3, 2)), [(0, 1)], np.zeros((0, 2), int)),
            ValueError,
            "neg_edges: expected shape",
        ),
        ((np.ones((3, 2)), [(0, 1)], [(1, 2)], "l2"), ValueError, "similarity: expected one of"),
    ],
)
def test_auc_bad_input(args, error, message):
    with pytest.raises(error) as info:
        metrics.link_prediction_auc(*args)
    assert str(info.value).startswith(message)


def test_metrics_module_is_exported():
    assert rt.metrics is metrics and "metrics" in rt.__all__
