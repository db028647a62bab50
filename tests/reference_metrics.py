"""Straightforward NumPy references for the metrics: the full similarity matrix with a stable
sort for retrieval, rank counting for Spearman, and all positive/negative pairs for ROC AUC."""

from __future__ import annotations

import numpy as np

NORM_EPS = 1e-12


def similarity_matrix(queries, corpus, similarity: str) -> np.ndarray:
    """``(Q, M)`` float64 similarities (cosine rows normalised by ``max(||x||, 1e-12)``)."""
    q = np.asarray(queries, dtype=np.float64)
    c = np.asarray(corpus, dtype=np.float64)
    if similarity == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), NORM_EPS)
        c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), NORM_EPS)
    return q @ c.T


def ranking(queries, corpus, similarity: str, exclude=None) -> list[list[int]]:
    """Each query's whole corpus order, most similar first, ties by lower index, without the
    excluded items."""
    sims = similarity_matrix(queries, corpus, similarity)
    out = []
    for i, row in enumerate(sims):
        order = np.argsort(-row, kind="stable").tolist()
        skip = set() if exclude is None else {int(j) for j in exclude[i]}
        out.append([j for j in order if j not in skip])
    return out


def retrieval_reference(queries, corpus, relevant, k, similarity="cosine", exclude=None):
    """``(mrr, recall, ndcg)`` at ``k``: ``relevant[i]`` is a set of indices or a dict of gains;
    excluded items are dropped from it and queries left without relevant items are skipped."""
    orders = ranking(queries, corpus, similarity, exclude)
    mrr, recall, ndcg = [], [], []
    for i, order in enumerate(orders):
        gains = (
            dict(relevant[i]) if isinstance(relevant[i], dict) else dict.fromkeys(relevant[i], 1.0)
        )
        gains = {j: g for j, g in gains.items() if g > 0 and j != -1}
        if exclude is not None:
            for j in exclude[i]:
                gains.pop(int(j), None)
        if not gains:
            continue
        top = order[:k]
        ranks = [r + 1 for r, j in enumerate(top) if j in gains]
        mrr.append(1.0 / ranks[0] if ranks else 0.0)
        recall.append(len(ranks) / len(gains))
        dcg = sum(gains.get(j, 0.0) / np.log2(r + 2) for r, j in enumerate(top))
        ideal = sorted(gains.values(), reverse=True)[:k]
        idcg = sum(g / np.log2(r + 2) for r, g in enumerate(ideal))
        ndcg.append(dcg / idcg)
    return float(np.mean(mrr)), float(np.mean(recall)), float(np.mean(ndcg))


def average_ranks_reference(values) -> np.ndarray:
    """1-based ranks by counting: ``#smaller + (#equal + 1) / 2``."""
    v = np.asarray(values, dtype=np.float64)
    smaller = (v[None, :] < v[:, None]).sum(axis=1)
    equal = (v[None, :] == v[:, None]).sum(axis=1)
    return smaller + (equal + 1) / 2.0


def spearman_reference(x, y) -> float:
    """Pearson correlation of the average ranks."""
    return float(np.corrcoef(average_ranks_reference(x), average_ranks_reference(y))[0, 1])


def auc_reference(pos_scores, neg_scores) -> float:
    """Fraction of (positive, negative) pairs ordered correctly, ties counting one half."""
    p = np.asarray(pos_scores, dtype=np.float64)[:, None]
    n = np.asarray(neg_scores, dtype=np.float64)[None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def edge_scores_reference(embeddings, edges, similarity="cosine") -> np.ndarray:
    """``sim(embeddings[u], embeddings[v])`` for each edge, via the full similarity matrix
    (symmetrised, so ``(u, v)`` and ``(v, u)`` tie exactly as they do mathematically)."""
    sims = similarity_matrix(embeddings, embeddings, similarity)
    sims = (sims + sims.T) / 2.0
    edges = np.asarray(edges)
    return sims[edges[:, 0], edges[:, 1]]
