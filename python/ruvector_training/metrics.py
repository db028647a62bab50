"""Evaluation metrics for embeddings: retrieval (MRR@k, recall@k, nDCG@k) on top of the exact
Rust :func:`~ruvector_training.topk` search, Spearman rank correlation (SciPy's ``spearmanr``)
and link-prediction ROC AUC (scikit-learn's ``roc_auc_score``).

Retrieval conventions follow sentence-transformers' ``InformationRetrievalEvaluator``: each query
retrieves the ``k`` corpus rows most similar to it; with ranks counted from 1,

- MRR@k: mean over queries of ``1 / rank`` of the first relevant item in the top k (0 if none);
- recall@k: mean over queries of ``|relevant in the top k| / |relevant|``;
- nDCG@k: mean over queries of ``DCG / IDCG`` with ``DCG = sum gain(item) / log2(rank + 1)``
  over the top k (linear gains; 1 for every relevant item unless graded gains are given) and
  ``IDCG`` the same sum for the best possible order of the relevance set, cut at k.

Tie rule: corpus rows with equal scores are ranked by their corpus index, lower first (as
:func:`~ruvector_training.topk` returns them), which is the order of a stable descending sort of
each query's full score row (``np.argsort(-scores, kind="stable")``). Scores are computed by
:func:`~ruvector_training.topk` in the inputs' dtype, so "equal" means equal as computed there
(identical corpus rows always tie; mathematically equal scores of different rows may differ by
rounding). With graded gains, the ideal DCG sorts the gains themselves, so ties among retrieved
items only matter through which item lands at which rank.

Relevance sets are given per query as iterables of corpus indices (duplicates count once; ``-1``
entries are padding and ignored, so a ``-1``-padded ``(Q, r)`` integer array works), or as dicts
``{corpus index: gain}`` (gains finite and >= 0; items with gain 0 are not relevant). ``exclude``
takes the same per-query iterables (as :func:`~ruvector_training.topk` does).
Items a query excludes (``exclude``) are neither retrieved nor counted as relevant. Queries left
with no relevant item are skipped (as the evaluator skips them); if no query has one, the
metric raises ``ValueError``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ruvector_training import _core
from ruvector_training._checks import check_float, check_int

#: Similarities accepted by the metrics (as by :func:`~ruvector_training.topk`).
SIMILARITIES = ("cosine", "dot")
#: Rows are normalised by ``max(||x||, NORM_EPS)`` for cosine similarity.
NORM_EPS = 1e-12
#: Edges scored per chunk by :func:`link_prediction_auc` (bounds the gathered rows' memory).
EDGE_CHUNK = 1 << 15


def mrr_at_k(queries, corpus, relevant, k: int = 10, *, similarity="cosine", exclude=None):
    """Mean reciprocal rank of the first relevant corpus item within the top ``k``.

    Each query ranks the corpus by descending similarity, ties in score broken by the lower
    corpus index (as :func:`~ruvector_training.topk` does; see the module docstring).

    Args:
        queries: ``(Q, D)`` float32 or float64 array.
        corpus: ``(M, D)`` array of the same dtype.
        relevant: ``Q`` relevance sets (iterables of corpus indices, or dicts index -> gain).
        k: how many results each query retrieves, an integer >= 1.
        similarity: ``"cosine"`` (default) or ``"dot"``.
        exclude: optional ``Q`` iterables of corpus indices each query must not retrieve (for
            example the query itself when the queries are corpus rows).

    Returns:
        A float in ``[0, 1]``, the mean over queries with at least one relevant item.

    Raises:
        TypeError / ValueError: see the module docstring and :func:`~ruvector_training.topk`.
    """
    indices, sets = _retrieve(queries, corpus, relevant, k, similarity, exclude)
    scores = []
    for row, gains in zip(indices, sets):
        hits = [rank for rank, item in enumerate(row.tolist(), 1) if item in gains]
        scores.append(1.0 / hits[0] if hits else 0.0)
    return float(np.mean(scores))


def recall_at_k(queries, corpus, relevant, k: int = 10, *, similarity="cosine", exclude=None):
    """Mean over queries of the fraction of relevant corpus items found in the top ``k``.

    The denominator is the size of the relevance set, so a query with more than ``k`` relevant
    items cannot reach 1 (as in sentence-transformers). Ranking and tie rule (equal scores:
    lower corpus index first) and arguments as for :func:`mrr_at_k`.

    Returns:
        A float in ``[0, 1]``.
    """
    indices, sets = _retrieve(queries, corpus, relevant, k, similarity, exclude)
    scores = [
        sum(item in gains for item in row.tolist()) / len(gains)
        for row, gains in zip(indices, sets)
    ]
    return float(np.mean(scores))


def ndcg_at_k(queries, corpus, relevant, k: int = 10, *, similarity="cosine", exclude=None):
    """Mean normalised discounted cumulative gain at ``k``.

    ``relevant[i]`` is an iterable of corpus indices (binary relevance, gain 1) or a dict
    ``{corpus index: gain}`` for graded relevance (linear gains, as sklearn's ``ndcg_score``).
    Ranking and tie rule (equal scores: lower corpus index first; the ideal DCG sorts the gains)
    and arguments otherwise as for :func:`mrr_at_k`.

    Returns:
        A float in ``[0, 1]``.
    """
    indices, sets = _retrieve(queries, corpus, relevant, k, similarity, exclude)
    k = indices.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    scores = []
    for row, gains in zip(indices, sets):
        dcg = sum(gains.get(item, 0.0) * d for item, d in zip(row.tolist(), discounts))
        best = sorted(gains.values(), reverse=True)[:k]
        idcg = float(np.dot(best, discounts[: len(best)]))
        scores.append(dcg / idcg)
    return float(np.mean(scores))


def spearman(x, y) -> float:
    """Spearman's rank correlation of two 1-D sequences of real numbers:
    ``scipy.stats.spearmanr(x, y).statistic`` after this module's input checks.

    The Pearson correlation of the ranks, tied values sharing their average rank.

    Args:
        x, y: 1-D array-likes of the same length n >= 2, finite real numbers.

    Returns:
        A float in ``[-1, 1]``, or NaN when either input is constant (all values equal: the
        correlation is undefined). SciPy returns NaN too but also warns
        (``ConstantInputWarning``); this function returns NaN without a warning.

    Raises:
        TypeError: non-numeric input.
        ValueError: not 1-D, lengths differ, fewer than 2 values, NaN or infinity.
    """
    from scipy.stats import spearmanr

    a = _real_vector("x", x)
    b = _real_vector("y", y)
    if a.shape != b.shape:
        raise ValueError(f"y: expected the length of x ({a.size}), got {b.size}")
    if a.size < 2:
        raise ValueError(f"x: expected at least 2 values, got {a.size}")
    if (a == a[0]).all() or (b == b[0]).all():
        return math.nan
    return float(spearmanr(a, b)[0])


def link_prediction_auc(embeddings, pos_edges, neg_edges, similarity="cosine") -> float:
    """ROC AUC of telling held-out edges from non-edges by the similarity of their endpoints:
    ``sklearn.metrics.roc_auc_score`` with label 1 for ``pos_edges`` and 0 for ``neg_edges``.

    Each edge ``(u, v)`` is scored ``sim(embeddings[u], embeddings[v])`` in float64 (cosine
    normalises rows by ``max(||x||, 1e-12)``). The AUC is the probability that a random positive
    edge scores above a random negative one, ties counting one half.

    Args:
        embeddings: ``(N, D)`` float32 or float64 array, finite.
        pos_edges: ``(P, 2)`` integer array-like of node indices in ``[0, N)``, P >= 1.
        neg_edges: ``(F, 2)`` integer array-like of node indices in ``[0, N)``, F >= 1.
        similarity: ``"cosine"`` (default) or ``"dot"``.

    Returns:
        A float in ``[0, 1]`` (0.5 for scores that do not separate the two sets).

    Raises:
        TypeError: a non-array or non-float ``embeddings``, non-integer edges.
        ValueError: wrong shapes, empty edge sets, out-of-range indices, NaN or infinity, an
            unknown similarity.
    """
    from sklearn.metrics import roc_auc_score

    _check_similarity(similarity)
    if not isinstance(embeddings, np.ndarray):
        raise TypeError(f"embeddings: expected a NumPy array, got {type(embeddings).__name__}")
    if embeddings.dtype not in (np.float32, np.float64):
        raise TypeError(f"embeddings: expected float32 or float64, got {embeddings.dtype}")
    if embeddings.ndim != 2 or embeddings.shape[0] == 0:
        raise ValueError(f"embeddings: expected shape (N, D) with N >= 1, got {embeddings.shape}")
    if not np.isfinite(embeddings).all():
        raise ValueError("embeddings: contains NaN or infinity")
    n = embeddings.shape[0]
    pos = _edge_array("pos_edges", pos_edges, n)
    neg = _edge_array("neg_edges", neg_edges, n)
    table = embeddings.astype(np.float64)
    if similarity == "cosine":
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        table /= np.maximum(norms, NORM_EPS)
    scores = np.concatenate([_edge_scores(table, pos), _edge_scores(table, neg)])
    truth = np.r_[np.ones(len(pos), dtype=np.int8), np.zeros(len(neg), dtype=np.int8)]
    return float(roc_auc_score(truth, scores))


def _retrieve(queries, corpus, relevant, k, similarity, exclude):
    """Top-k indices ``(Q', k)`` and the relevance dicts ``{index: gain > 0}`` of the queries
    that have at least one relevant, non-excluded item (Q' of them)."""
    _check_similarity(similarity)
    num_queries = _matrix_rows("queries", queries, "(Q, D)")
    num_corpus = _matrix_rows("corpus", corpus, "(M, D)")
    k = check_int("k", k, minimum=1)
    sets = _per_query("relevant", relevant, num_queries)
    gains = [_relevance(f"relevant[{i}]", r, num_corpus) for i, r in enumerate(sets)]
    skip = None
    if exclude is not None:
        rows = _per_query("exclude", exclude, num_queries)
        skip = [_index_list(f"exclude[{i}]", row, num_corpus) for i, row in enumerate(rows)]
        for query_gains, query_skip in zip(gains, skip):
            for item in query_skip:
                query_gains.pop(item, None)
    keep = [i for i, query_gains in enumerate(gains) if query_gains]
    if not keep:
        raise ValueError(
            "relevant: no query has a relevant item (after removing excluded ones); "
            "the metric is undefined"
        )
    if len(keep) < num_queries:
        queries = queries[keep]
        skip = None if skip is None else [skip[i] for i in keep]
    _, indices = _core.topk(queries, corpus, k, similarity=similarity, exclude=skip)
    return indices, [gains[i] for i in keep]


def _check_similarity(similarity) -> None:
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity: expected one of {SIMILARITIES}, got {similarity!r}")


def _matrix_rows(arg: str, value, shape: str) -> int:
    """Rows of a 2-D NumPy array (dtype and values are checked by topk)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{arg}: expected a NumPy array, got {type(value).__name__}")
    if value.ndim != 2:
        raise ValueError(f"{arg}: expected shape {shape}, got {value.shape}")
    return value.shape[0]


def _per_query(arg: str, value, num_queries: int) -> list:
    """``value`` as a list of ``num_queries`` per-query items."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"{arg}: expected a sequence with one entry per query, got {type(value).__name__}"
        )
    if len(value) != num_queries:
        raise ValueError(f"{arg}: expected {num_queries} entries (one per query), got {len(value)}")
    return list(value)


def _index(arg: str, item, num_corpus: int) -> int:
    """A corpus index in ``[0, num_corpus)``."""
    if isinstance(item, bool) or not isinstance(item, numbers.Integral):
        raise TypeError(f"{arg}: expected integer corpus indices, got {type(item).__name__}")
    index = int(item)
    if not 0 <= index < num_corpus:
        raise ValueError(f"{arg}: index {index} out of range for a corpus of {num_corpus} rows")
    return index


def _index_list(arg: str, items, num_corpus: int) -> list[int]:
    """The distinct corpus indices of an iterable, in first-seen order, without ``-1`` padding."""
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(
            f"{arg}: expected an iterable of corpus indices, got {type(items).__name__}"
        )
    indices = (_index(arg, item, num_corpus) for item in items if not _is_padding(item))
    return list(dict.fromkeys(indices))


def _is_padding(item) -> bool:
    """Whether ``item`` is the integer ``-1``."""
    return isinstance(item, numbers.Integral) and not isinstance(item, bool) and item == -1


def _relevance(arg: str, items, num_corpus: int) -> dict[int, float]:
    """``{index: gain}`` with gain > 0 from an iterable of indices (gain 1) or a dict."""
    if isinstance(items, dict):
        gains = {}
        for item, gain in items.items():
            index = _index(arg, item, num_corpus)
            value = check_float(f"{arg}[{index}]", gain)
            if value < 0.0:
                raise ValueError(f"{arg}[{index}]: expected a gain >= 0, got {gain}")
            if value > 0.0:
                gains[index] = value
        return gains
    return dict.fromkeys(_index_list(arg, items, num_corpus), 1.0)


def _real_vector(arg: str, value) -> np.ndarray:
    """A finite 1-D float64 copy of a sequence of real numbers."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{arg}: expected real numbers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{arg}: expected a 1-D sequence, got shape {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{arg}: contains NaN or infinity")
    return array


def _edge_array(arg: str, edges, num_nodes: int) -> np.ndarray:
    """An ``(E, 2)`` int64 array of node indices in range, E >= 1."""
    array = np.asarray(edges)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{arg}: expected an integer array, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise ValueError(f"{arg}: expected shape (E, 2) with E >= 1, got {array.shape}")
    if array.min() < 0 or array.max() >= num_nodes:
        bad = array[(array < 0) | (array >= num_nodes)][0]
        raise ValueError(f"{arg}: node index {bad} out of range for {num_nodes} embeddings")
    return array.astype(np.int64)


def _edge_scores(table: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Row-wise inner products ``table[u] . table[v]`` of each edge, in chunks."""
    scores = np.empty(len(edges))
    for start in range(0, len(edges), EDGE_CHUNK):
        chunk = edges[start : start + EDGE_CHUNK]
        scores[start : start + len(chunk)] = np.einsum(
            "ij,ij->i", table[chunk[:, 0]], table[chunk[:, 1]]
        )
    return scores
