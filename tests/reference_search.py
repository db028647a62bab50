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


def candidate_mask(
    anchors: np.ndarray,
    pool: np.ndarray,
    *,
    strategy: str,
    similarity: str = "cosine",
    positives: np.ndarray | None = None,
    anchor_labels: np.ndarray | None = None,
    pool_labels: np.ndarray | None = None,
    exclude: list | None = None,
    margin: float = 0.2,
    relative_margin: float | None = None,
    max_similarity: float | None = None,
    nonzero_loss_cutoff: float = 1.4,
) -> tuple[np.ndarray, np.ndarray]:
    """``(similarities (B, M), allowed (B, M))`` per the miner contract: a pool item is a
    candidate unless it shares the anchor's label, is excluded, is above ``max_similarity``, is
    above the relative-margin bound, or (semi-hard) is outside the band, or (distance-weighted)
    has zero weight."""
    sims = similarity_matrix(anchors, pool, similarity)
    allowed = np.ones(sims.shape, dtype=bool)
    if anchor_labels is not None:
        allowed &= anchor_labels[:, None] != pool_labels[None, :]
    for i, skip in enumerate(exclude or []):
        allowed[i, [j for j in skip if j != -1]] = False
    if max_similarity is not None:
        allowed &= sims <= max_similarity
    sp = None
    if positives is not None:
        sp = np.diag(similarity_matrix(anchors, positives, similarity))[:, None]
    if relative_margin is not None:
        allowed &= sims <= sp - relative_margin * np.abs(sp)
    if strategy == "semi_hard":
        allowed &= (sims > sp - margin) & (sims < sp)
    if strategy == "distance_weighted":
        allowed &= sims > 1.0 - 0.5 * nonzero_loss_cutoff**2
    return sims, allowed


def distance_log_weight(sims: np.ndarray, dim: int, cutoff: float = 0.5) -> np.ndarray:
    """Wu et al. (2017): ``-log q(d)`` on unit vectors, distance clipped below at ``cutoff``."""
    d = np.maximum(np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0)), cutoff)
    return -(dim - 2.0) * np.log(d) - 0.5 * (dim - 3.0) * np.log(1.0 - 0.25 * d * d)


def pair_probabilities(weights: np.ndarray) -> dict[frozenset, float]:
    """Exact probability of every unordered pair drawn by two weighted draws without
    replacement (probability proportional to ``weights``)."""
    total = weights.sum()
    out = {}
    for i in range(len(weights)):
        for j in range(i + 1, len(weights)):
            wi, wj = weights[i], weights[j]
            out[frozenset((i, j))] = wi / total * wj / (total - wi) + wj / total * wi / (total - wj)
    return out


def neighbour_sets(num_nodes: int, edges: np.ndarray) -> list[set[int]]:
    """Undirected adjacency as one set per node (self-loops dropped)."""
    neighbours = [set() for _ in range(num_nodes)]
    for i, j in edges:
        if i != j:
            neighbours[i].add(int(j))
            neighbours[j].add(int(i))
    return neighbours


def bfs_candidates(neighbours: list[set[int]], anchor: int, hops: int) -> set[int]:
    """Nodes at hop distance 2..hops from ``anchor`` (plain BFS)."""
    depth = {anchor: 0}
    frontier = [anchor]
    for level in range(1, hops + 1):
        nxt = []
        for node in frontier:
            for other in neighbours[node]:
                if other not in depth:
                    depth[other] = level
                    nxt.append(other)
        frontier = nxt
    return {node for node, level in depth.items() if level >= 2}
