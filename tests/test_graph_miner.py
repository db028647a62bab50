"""``GraphHardNegativeMiner``: k-hop candidates minus the anchor and its neighbours, ranked by
similarity, on hand-built graphs and on Cora against a NumPy BFS reference."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype
from reference_search import bfs_candidates, neighbour_sets, similarity_matrix


def reference_mine(anchors, embeddings, edges, hops, k, similarity="cosine"):
    neighbours = neighbour_sets(len(embeddings), edges)
    sims = similarity_matrix(embeddings[anchors], embeddings, similarity)
    out = np.full((len(anchors), k), -1, dtype=np.int64)
    for row, anchor in enumerate(anchors):
        candidates = np.array(sorted(bfs_candidates(neighbours, int(anchor), hops)), dtype=int)
        if len(candidates):
            order = candidates[np.argsort(-sims[row, candidates], kind="stable")][:k]
            out[row, : len(order)] = order
    return out, sims


def assert_same_ranking(got, expected, sims, tol=1e-6):
    """Equal index sets per row, and where the order differs the similarities tie."""
    for row, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_array_equal(g == -1, e == -1)
        valid = e >= 0
        np.testing.assert_allclose(sims[row, g[valid]], sims[row, e[valid]], atol=tol)


def test_path_graph_known_answer():
    # 0 - 1 - 2 - 3 - 4, plus a pendant 1 - 5; embeddings on a circle so similarity is known.
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [1, 5], [1, 0]])
    angles = np.array([0.0, 0.3, 0.5, 1.0, 2.0, 0.2])
    embeddings = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    got = rt.GraphHardNegativeMiner(hop_distance=2, num_negatives=3).mine(
        np.array([0, 2]), embeddings, edges
    )
    # node 0: 2 hops -> {2, 5}; 5 (angle 0.2) is closer than 2 (0.5).
    # node 2: neighbours {1, 3}; 2 hops -> {0, 5, 4}; by similarity to angle 0.5: 5, 0, 4.
    np.testing.assert_array_equal(got, [[5, 2, -1], [5, 0, 4]])
    got = rt.GraphHardNegativeMiner(hop_distance=3, num_negatives=4).mine(
        np.array([0]), embeddings, edges
    )
    np.testing.assert_array_equal(got, [[5, 2, 3, -1]])
    got = rt.GraphHardNegativeMiner(hop_distance=1, num_negatives=2).mine(
        np.array([0]), embeddings, edges
    )
    np.testing.assert_array_equal(got, [[-1, -1]])


@each_dtype
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_random_graph_matches_bfs_reference(dtype, similarity):
    rng = np.random.default_rng(1)
    n = 400
    edges = rng.integers(0, n, size=(900, 2))
    embeddings = rng.standard_normal((n, 8)).astype(dtype)
    anchors = rng.integers(0, n, 60)
    for hops in (2, 3):
        miner = rt.GraphHardNegativeMiner(hop_distance=hops, num_negatives=6, similarity=similarity)
        got = miner.mine(anchors, embeddings, edges.astype(np.int32))
        expected, sims = reference_mine(anchors, embeddings, edges, hops, 6, similarity)
        assert_same_ranking(got, expected, sims, tol=1e-5 if dtype == np.float32 else 1e-12)


def test_cora_matches_bfs_reference():
    cora = rt.datasets.load_cora()
    n, edges = cora.num_nodes, cora.edges
    embeddings = np.random.default_rng(2).standard_normal((n, 32)).astype(np.float32)
    anchors = np.arange(0, n, 7)
    got = rt.GraphHardNegativeMiner(hop_distance=2, num_negatives=10).mine(
        anchors, embeddings, edges
    )
    expected, sims = reference_mine(anchors, embeddings, edges, 2, 10)
    assert_same_ranking(got, expected, sims, tol=1e-5)
    assert (got >= 0).any() and (got == -1).any()


def test_attributes_and_repr():
    miner = rt.GraphHardNegativeMiner()
    assert (miner.hop_distance, miner.num_negatives, miner.similarity) == (2, 5, "cosine")
    miner.num_negatives = 2
    miner.hop_distance = 3
    assert "hop_distance=3" in repr(miner) and miner.num_negatives == 2
    with pytest.raises(ValueError, match="hop_distance: must be >= 1"):
        miner.hop_distance = 0


@pytest.mark.parametrize(
    ("ctor", "args", "error", "match"),
    [
        ({"num_negatives": 0}, {}, ValueError, "num_negatives: must be >= 1"),
        ({"hop_distance": 0}, {}, ValueError, "hop_distance: must be >= 1"),
        ({"similarity": "l1"}, {}, ValueError, "similarity"),
        ({}, {"anchor_nodes": np.array([4])}, ValueError, r"anchor_nodes\[0\]: node 4 is out"),
        ({}, {"anchor_nodes": np.array([-1])}, ValueError, r"anchor_nodes\[0\]: node -1"),
        ({}, {"anchor_nodes": np.array([0.5])}, TypeError, "anchor_nodes: expected an integer"),
        ({}, {"edges": np.array([[0, 9]])}, ValueError, "edges: node index 9 in row 0"),
        ({}, {"edges": np.array([[0, -1]])}, ValueError, "edges: node indices must be >= 0"),
        ({}, {"edges": np.array([0, 1])}, ValueError, r"edges: expected shape \(E, 2\)"),
        ({}, {"edges": [[0, 1]]}, TypeError, "edges: expected a numpy.ndarray of an integer dtype"),
        ({}, {"embeddings": np.ones((4, 2), dtype=np.int32)}, TypeError, "embeddings"),
    ],
)
def test_bad_inputs_are_clear_errors(ctor, args, error, match):
    call = {
        "anchor_nodes": np.array([0, 1]),
        "embeddings": np.ones((4, 2)),
        "edges": np.array([[0, 1], [1, 2]]),
    }
    call.update(args)
    with pytest.raises(error, match=match):
        rt.GraphHardNegativeMiner(**ctor).mine(**call)


def test_nan_embeddings_are_rejected():
    embeddings = np.ones((4, 2))
    embeddings[2, 0] = np.nan
    with pytest.raises(ValueError, match="embeddings: contains a non-finite value"):
        rt.GraphHardNegativeMiner().mine(np.array([0]), embeddings, np.array([[0, 1]]))
