"""Random graphs for the graph-loss tests: duplicates, self-loops and isolated nodes included."""

from __future__ import annotations

import numpy as np


def make_graph(seed: int, n: int, e: int, d: int, dtype=np.float64):
    """``(embeddings (N, D), edges (E, 2) int64)``; the last node is isolated when ``n > 2``, the
    first edge is repeated (a duplicate) and one edge is a self-loop when ``e > 3``.

    Embeddings are float32-representable, so both dtypes share one float64 reference.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)).astype(np.float32).astype(dtype)
    top = n - 1 if n > 2 else n
    edges = rng.integers(0, top, size=(e, 2))
    if e > 3:
        edges[1] = edges[0]
        edges[2] = [edges[2, 0], edges[2, 0]]
    return z, edges


def isolated_node(n: int) -> int:
    """The node :func:`make_graph` leaves without edges (when ``n > 2``)."""
    return n - 1
