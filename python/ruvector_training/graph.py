"""Graph helpers around the Rust-backed :class:`~ruvector_training.Graph` (re-exported here):
the canonical undirected edge set, the non-isolated nodes and the random-walk positive sampling
the :class:`~ruvector_training.Trainer` uses."""

from __future__ import annotations

import numpy as np

from ruvector_training._checks import check_int
from ruvector_training._core import Graph

__all__ = ["Graph", "canonical_edges", "non_isolated", "window_positives"]

#: The largest node count whose pair keys ``i * n + j`` fit in int64 (``isqrt(2**63 - 1)``).
_MAX_KEYED_NODES = 3_037_000_499


def canonical_edges(num_nodes: int, edges) -> np.ndarray:
    """The undirected edge set of ``edges``: self-loops dropped, each pair once as ``(i, j)``
    with ``i < j``, sorted; ``(E', 2)`` int64.

    Raises:
        TypeError: ``edges`` is not an integer array-like.
        ValueError: not of shape ``(E, 2)``, or an index outside ``[0, num_nodes)``.
    """
    num_nodes = check_int("num_nodes", num_nodes, minimum=1)
    array = np.asarray(edges)
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"edges: expected an integer array, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"edges: expected shape (E, 2), got {array.shape}")
    array = array.astype(np.int64)
    if array.min() < 0 or array.max() >= num_nodes:
        raise ValueError(f"edges: node indices must be in [0, {num_nodes})")
    low = np.minimum(array[:, 0], array[:, 1])
    high = np.maximum(array[:, 0], array[:, 1])
    keep = low != high
    low, high = low[keep], high[keep]
    if num_nodes <= _MAX_KEYED_NODES:
        # One int64 key per pair: low * num_nodes + high < num_nodes**2 <= 2**63 - 1.
        keys = np.unique(low * num_nodes + high)
        return np.stack([keys // num_nodes, keys % num_nodes], axis=1)
    # Larger id spaces would overflow the key: sort the pairs themselves.
    return np.unique(np.stack([low, high], axis=1), axis=0).reshape(-1, 2)


def non_isolated(graph: Graph) -> np.ndarray:
    """Indices (int64, ascending) of the nodes of ``graph`` with at least one neighbour (an
    edge of positive weight other than a self-loop)."""
    return np.flatnonzero(graph.degrees() > 0)


def window_positives(
    graph: Graph, anchors: np.ndarray, window: int, rng: np.random.Generator
) -> np.ndarray:
    """One random-walk co-occurrence positive per anchor: the node a walk of ``L`` steps from
    the anchor ends at, ``L`` uniform in ``1 .. window`` (``window=1``: a neighbour), each step
    to a neighbour chosen with probability proportional to the edge weight (uniformly on an
    unweighted graph without duplicate edges). Anchors must have a neighbour.

    Draws ``len(anchors)`` lengths, then ``sum(L)`` uniforms from ``rng`` (the walks run in
    Rust, :meth:`Graph.walk`), so the result is a deterministic function of ``rng``'s state.
    """
    lengths = rng.integers(1, window + 1, size=len(anchors))
    return graph.walk(anchors, lengths, rng.random(int(lengths.sum())))
