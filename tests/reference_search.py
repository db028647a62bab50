"""NumPy references for search and mining: full similarity matrices and stable sorts (fine for
test sizes; the library itself never builds the ``Q x M`` matrix)."""

from __future__ import annotations

import numpy as np

NORM_EPS = 1e-12


def similarity_matrix(queries: np.ndarray, corpus: np.ndarray, similarity: str) -> np.ndarray:
    """``(Q, M)`` similarities in float64: cosine (eps-guarded normalisation) or dot."""
    q = queries.astype(np.float64)
    c = corpus.astype(np.float64)
    if similarity == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), NORM_EPS)
        c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), NORM_EPS)
    return q @ c.T


def ranked(scores: np.ndarray, allowed: np.ndarray | None = None) -> list[np.ndarray]:
    """Per row, the column indices sorted by descending score, ties by lower index, restricted
    to ``allowed`` (a boolean mask) when given."""
    rows = []
    for i, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        if allowed is not None:
            order = order[allowed[i, order]]
        rows.append(order)
    return rows


def topk_reference(
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int,
    similarity: str = "cosine",
    exclude: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, indices)`` as :func:`ruvector_training.topk` defines them (``-inf`` / ``-1``
    padding), from the full matrix and a stable descending sort."""
    scores = similarity_matrix(queries, corpus, similarity)
    allowed = np.ones(scores.shape, dtype=bool)
    for i, skip in enumerate(exclude or []):
        skip = [j for j in skip if j != -1]
        allowed[i, skip] = False
    out_scores = np.full((len(queries), k), -np.inf)
    out_indices = np.full((len(queries), k), -1, dtype=np.int64)
    for i, order in enumerate(ranked(scores, allowed)):
        n = min(k, len(order))
        out_indices[i, :n] = order[:n]
        out_scores[i, :n] = scores[i, order[:n]]
    return out_scores, out_indices
