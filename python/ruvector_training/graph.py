"""An undirected graph in compressed sparse row form, with the random-walk positive sampling the
:class:`~ruvector_training.Trainer` uses."""

from __future__ import annotations

import numpy as np

from ruvector_training._checks import check_int

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


class Graph:
    """An undirected, unweighted graph on ``num_nodes`` nodes, stored as CSR adjacency.

    Args:
        num_nodes: number of nodes (>= 1); nodes are ``0 .. num_nodes - 1``.
        edges: ``(E, 2)`` integer array-like; duplicates, both directions of a pair and
            self-loops are allowed and collapsed (see :func:`canonical_edges`).

    Attributes:
        num_nodes: the node count.
        edges: ``(E, 2)`` int64 canonical edges (``i < j``, each pair once, sorted).
        indptr: ``(num_nodes + 1,)`` int64 CSR row pointers.
        indices: ``(2E,)`` int64 neighbour lists, each sorted ascending.
        degree: ``(num_nodes,)`` int64 node degrees.
    """

    def __init__(self, num_nodes: int, edges) -> None:
        self.num_nodes = check_int("num_nodes", num_nodes, minimum=1)
        self.edges = canonical_edges(self.num_nodes, edges)
        src = np.concatenate([self.edges[:, 0], self.edges[:, 1]])
        dst = np.concatenate([self.edges[:, 1], self.edges[:, 0]])
        order = np.lexsort((dst, src))
        self.indices = dst[order]
        self.degree = np.bincount(src, minlength=self.num_nodes).astype(np.int64)
        self.indptr = np.zeros(self.num_nodes + 1, dtype=np.int64)
        np.cumsum(self.degree, out=self.indptr[1:])

    @property
    def num_edges(self) -> int:
        """Number of undirected edges."""
        return len(self.edges)

    def neighbors(self, node: int) -> np.ndarray:
        """The neighbours of ``node``, ascending (a view, int64)."""
        return self.indices[self.indptr[node] : self.indptr[node + 1]]

    def non_isolated(self) -> np.ndarray:
        """Indices of the nodes with at least one edge, ascending."""
        return np.flatnonzero(self.degree > 0)

    def walk(self, starts: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """End nodes of uniform random walks: from ``starts[i]`` take ``lengths[i]`` steps, each
        to a uniformly chosen neighbour.

        Every start node must have an edge (a walk never gets stuck on an undirected graph).
        Draws exactly one uniform number per active walk per step, so the result is a
        deterministic function of ``rng``'s state.
        """
        current = np.array(starts, dtype=np.int64, copy=True)
        lengths = np.asarray(lengths)
        for step in range(int(lengths.max(initial=0))):
            active = np.flatnonzero(lengths > step)
            nodes = current[active]
            offsets = (rng.random(len(active)) * self.degree[nodes]).astype(np.int64)
            current[active] = self.indices[self.indptr[nodes] + offsets]
        return current

    def window_positives(
        self, anchors: np.ndarray, window: int, rng: np.random.Generator
    ) -> np.ndarray:
        """One random-walk co-occurrence positive per anchor: the node a walk of ``L`` steps
        from the anchor ends at, ``L`` uniform in ``1 .. window`` (``window=1``: a uniformly
        chosen neighbour). Anchors must have at least one edge."""
        lengths = rng.integers(1, window + 1, size=len(anchors))
        return self.walk(anchors, lengths, rng)

    def __repr__(self) -> str:
        return f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges})"
