"""Synthetic graphs for demos and tests."""

from __future__ import annotations

import numpy as np

from ruvector_training._checks import check_float, check_int


def planted_partition(
    num_blocks: int = 5,
    block_size: int = 200,
    p_in: float = 0.08,
    p_out: float = 0.002,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A planted-partition graph (a stochastic block model with equal blocks): each pair of
    nodes in the same block is an edge with probability ``p_in``, each pair in different blocks
    with probability ``p_out``, independently. Synthetic data: the same seed gives the same
    graph.

    Args:
        num_blocks: number of blocks (classes), >= 1.
        block_size: nodes per block, >= 2 (the graph has ``num_blocks * block_size`` nodes).
        p_in, p_out: edge probabilities in ``[0, 1]``.
        seed: random seed.

    Returns:
        ``(edges, labels)``: ``(E, 2)`` int64 edges ``(i, j)`` with ``i < j``, sorted, and
        ``(N,)`` int64 block labels (node ``i`` is in block ``i // block_size``).
    """
    num_blocks = check_int("num_blocks", num_blocks, minimum=1)
    block_size = check_int("block_size", block_size, minimum=2)
    probabilities = []
    for name, value in (("p_in", p_in), ("p_out", p_out)):
        value = check_float(name, value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
        probabilities.append(value)
    n = num_blocks * block_size
    labels = np.arange(n, dtype=np.int64) // block_size
    rng = np.random.default_rng(seed)
    rows, cols = np.triu_indices(n, k=1)
    same = labels[rows] == labels[cols]
    keep = rng.random(len(rows)) < np.where(same, probabilities[0], probabilities[1])
    return np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64), labels
