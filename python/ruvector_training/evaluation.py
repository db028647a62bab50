"""Held-out evaluation of node embeddings: an edge split (held-out edges plus as many sampled
non-edges), and the three numbers the CLI reports (link-prediction AUC, neighbour-retrieval
MRR@10, probe accuracy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ruvector_training.graph import Graph, canonical_edges
from ruvector_training.metrics import link_prediction_auc, mrr_at_k
from ruvector_training.probe import probe_accuracy


@dataclass
class EdgeSplit:
    """A graph split for link prediction.

    Attributes:
        train: the graph training may see (all nodes, the remaining edges).
        test_edges: ``(P, 2)`` int64 held-out edges.
        test_non_edges: ``(P, 2)`` int64 node pairs that are not edges of the full graph.
    """

    train: Graph
    test_edges: np.ndarray
    test_non_edges: np.ndarray


def split_edges(graph: Graph, test_fraction: float = 0.1, seed: int = 0) -> EdgeSplit:
    """Holds out ``round(test_fraction * E)`` edges, chosen uniformly at random among those
    whose removal leaves both endpoints with at least one edge (a structure-only method knows
    nothing about a node without edges; the split takes fewer edges if it runs out), and
    samples as many distinct non-edges (pairs ``i < j`` not in the graph) uniformly.

    Raises:
        ValueError: ``test_fraction`` outside ``(0, 1)``, or nothing could be held out.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    n = graph.num_nodes
    edges = canonical_edges(n, graph.edges())
    wanted = int(round(test_fraction * len(edges)))
    degree = np.bincount(edges.ravel(), minlength=n)
    held = np.zeros(len(edges), dtype=bool)
    count = 0
    for i in rng.permutation(len(edges)).tolist():
        if count == wanted:
            break
        a, b = edges[i]
        if degree[a] > 1 and degree[b] > 1:
            degree[a] -= 1
            degree[b] -= 1
            held[i] = True
            count += 1
    if count == 0:
        raise ValueError("edges: no edge can be held out without isolating a node")
    return EdgeSplit(
        train=Graph(n, edges[~held]),
        test_edges=edges[held],
        test_non_edges=sample_non_edges(graph, count, rng),
    )


def sample_non_edges(graph: Graph, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct uniformly drawn pairs ``(i, j)``, ``i < j``, that are not edges.

    Raises:
        ValueError: the graph has fewer than ``count`` non-edges.
    """
    n = graph.num_nodes
    if n > 3_037_000_499:  # the pair keys i * n + j below would overflow int64
        raise ValueError(f"num_nodes: at most 3037000499 nodes are supported, got {n}")
    edges = canonical_edges(n, graph.edges())
    if n * (n - 1) // 2 - len(edges) < count:
        raise ValueError(f"edges: the graph has fewer than {count} non-edges to sample")
    existing = edges[:, 0] * n + edges[:, 1]  # sorted: canonical edges are
    chosen = np.zeros(0, dtype=np.int64)
    while len(chosen) < count:
        pairs = rng.integers(0, n, size=(2 * (count - len(chosen)) + 16, 2))
        low, high = pairs.min(axis=1), pairs.max(axis=1)
        keys = (low * n + high)[low != high]
        pos = np.minimum(np.searchsorted(existing, keys), max(len(existing) - 1, 0))
        if len(existing):
            keys = keys[existing[pos] != keys]
        keys = keys[~np.isin(keys, chosen)]
        _, first = np.unique(keys, return_index=True)
        chosen = np.concatenate([chosen, keys[np.sort(first)]])[:count]
    return np.stack([chosen // n, chosen % n], axis=1)


def neighbor_mrr(embeddings: np.ndarray, split: EdgeSplit, k: int = 10) -> float:
    """MRR@k of retrieving held-out neighbours: each node with a held-out edge queries all
    nodes (cosine), excluding itself and its training neighbours; its held-out neighbours
    are the relevant items."""
    held = [[] for _ in range(split.train.num_nodes)]
    for a, b in split.test_edges.tolist():
        held[a].append(b)
        held[b].append(a)
    queries = [i for i, items in enumerate(held) if items]
    train = split.train
    exclude = [[i, *train.neighbors(i).tolist()] for i in queries]
    return mrr_at_k(
        embeddings[queries], embeddings, [held[i] for i in queries], k=k, exclude=exclude
    )


def evaluate_embeddings(
    embeddings: np.ndarray, split: EdgeSplit, labels: np.ndarray | None = None, seed: int = 0
) -> dict[str, float]:
    """``{"auc": ..., "mrr@10": ..., "accuracy": ...}`` (accuracy only with ``labels``):
    link-prediction AUC on the split's held-out edges vs non-edges (cosine), neighbour-retrieval
    MRR@10 (:func:`neighbor_mrr`), and the accuracy of a logistic probe on a 50/50 stratified
    split of the labelled nodes (:func:`~ruvector_training.probe.probe_accuracy`)."""
    result = {
        "auc": link_prediction_auc(embeddings, split.test_edges, split.test_non_edges),
        "mrr@10": neighbor_mrr(embeddings, split),
    }
    if labels is not None:
        result["accuracy"] = probe_accuracy(embeddings, labels, 0.5, seed)
    return result
