"""rt.Graph: the builder's rules (duplicates add weights, self-loops ignored by the adjacency,
isolated nodes, weights, edges() as given), Graph vs raw edges giving identical results in every
consumer, walks, pickling, bad input, and the behaviour changes of the one-graph redesign."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import ruvector_training as rt
from graph_cases import make_graph
from ruvector_training.graph import canonical_edges, non_isolated, window_positives
from ruvector_training.synthetic import planted_partition
from ruvector_training.trainer import Trainer
from ruvector_training.trainer_config import TrainerConfig

# 0-1 listed twice (once reversed), a loop on 1, 1-2, 2-3 with weight 0 when weighted; 4 alone.
EDGES = np.array([[0, 1], [1, 1], [1, 0], [2, 1], [2, 3]], dtype=np.int32)
WEIGHTS = np.array([0.5, 9.0, 1.5, 2.0, 0.0])


def test_edges_are_kept_as_given():
    graph = rt.Graph(5, EDGES)
    assert graph.num_nodes == 5 and graph.num_edges == 5
    edges = graph.edges()
    assert edges.dtype == np.int64 and edges.shape == (5, 2)
    np.testing.assert_array_equal(edges, EDGES)
    assert graph.weights() is None
    edges[0, 0] = 4  # a copy: the graph is immutable
    np.testing.assert_array_equal(graph.edges(), EDGES)


def test_duplicates_add_and_self_loops_and_isolated_nodes():
    graph = rt.Graph(5, EDGES)
    np.testing.assert_array_equal(graph.degrees(), [2.0, 3.0, 2.0, 1.0, 0.0])
    assert graph.neighbors(1).tolist() == [0, 2]  # the loop is not a neighbour
    assert graph.neighbor_weights(1).tolist() == [2.0, 1.0]  # 0-1 twice
    assert graph.neighbors(4).tolist() == []
    assert graph.neighbors(4).dtype == np.int64
    assert non_isolated(graph).tolist() == [0, 1, 2, 3]


def test_weights_sum_and_zero_total_is_not_a_neighbour():
    graph = rt.Graph(5, EDGES, WEIGHTS)
    np.testing.assert_array_equal(graph.weights(), WEIGHTS)
    assert graph.neighbors(0).tolist() == [1]
    assert graph.neighbor_weights(0).tolist() == [2.0]  # 0.5 + 1.5; the loop's 9 ignored
    assert graph.neighbors(2).tolist() == [1]  # 2-3 weighs 0
    np.testing.assert_array_equal(graph.degrees(), [2.0, 4.0, 2.0, 0.0, 0.0])
    float32 = rt.Graph(5, EDGES, WEIGHTS.astype(np.float32))
    assert float32 == rt.Graph(5, EDGES, WEIGHTS)


def test_equality_pickle_deepcopy_repr():
    graph = rt.Graph(5, EDGES, WEIGHTS)
    for clone in (pickle.loads(pickle.dumps(graph)), copy.deepcopy(graph)):
        assert clone == graph and clone is not graph
        np.testing.assert_array_equal(clone.edges(), EDGES)
        np.testing.assert_array_equal(clone.weights(), WEIGHTS)
    assert rt.Graph(5, EDGES) != graph
    assert rt.Graph(6, EDGES, WEIGHTS) != graph
    assert rt.Graph(5, EDGES[::-1].copy(), WEIGHTS[::-1].copy()) != graph  # rows as given
    assert graph != "graph"
    assert repr(graph) == "Graph(num_nodes=5, num_edges=5, weighted=True)"
    assert repr(rt.Graph(3, np.zeros((0, 2), np.int64))) == "Graph(num_nodes=3, num_edges=0)"
    assert "duplicate edges add their weights" in (rt.Graph.__doc__ or "")
    assert rt.graph.Graph is rt.Graph


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: rt.Graph(0, EDGES), ValueError, "^num_nodes: must be >= 1"),
        (lambda: rt.Graph(3, EDGES), ValueError, "^edges: node index 3 in row 4 is out of range"),
        (lambda: rt.Graph(5, np.array([[0, -1]])), ValueError, "^edges: node indices must be"),
        (lambda: rt.Graph(5, np.array([0, 1])), ValueError, r"^edges: expected shape \(E, 2\)"),
        (lambda: rt.Graph(5, EDGES.astype(float)), TypeError, "^edges: expected an integer"),
        (lambda: rt.Graph(5, [[0, 1]]), TypeError, "^edges: expected a numpy.ndarray"),
        (lambda: rt.Graph(5, EDGES, WEIGHTS[:3]), ValueError, r"^weights: expected shape \(E,\)"),
        (lambda: rt.Graph(5, EDGES, -WEIGHTS), ValueError, "^weights: must be >= 0"),
        (lambda: rt.Graph(5, EDGES, WEIGHTS * np.nan), ValueError, "^weights"),
        (lambda: rt.Graph(5, EDGES, np.ones(5, int)), TypeError, "^weights"),
        (lambda: rt.Graph(5, EDGES).neighbors(5), ValueError, r"^node: must be in \[0, 5\)"),
        (lambda: rt.Graph(5, EDGES).neighbors(-1), ValueError, "^node"),
        (lambda: rt.Graph(2**62, EDGES), MemoryError, "edges"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def reference_walk(num_nodes, edges, starts, lengths, uniforms):
    """The walk of the former Python Graph: unique sorted neighbours, ``floor(u * degree)``,
    step-major consumption of the uniforms."""
    canon = canonical_edges(num_nodes, edges)
    neighbours = [[] for _ in range(num_nodes)]
    for i, j in canon.tolist():
        neighbours[i].append(j)
        neighbours[j].append(i)
    current, used = list(starts), 0
    for step in range(max(lengths, default=0)):
        for w, length in enumerate(lengths):
            if length > step:
                row = sorted(neighbours[current[w]])
                current[w] = row[int(uniforms[used] * len(row))]
                used += 1
    return current


def test_walk_matches_the_former_python_walk_on_an_edge_set():
    edges, _ = planted_partition(3, 30, p_in=0.2, p_out=0.02, seed=1)
    graph = rt.Graph(90, edges)
    rng = np.random.default_rng(0)
    starts = rng.permutation(non_isolated(graph))
    lengths = rng.integers(0, 5, size=len(starts))
    uniforms = rng.random(int(lengths.sum()))
    got = graph.walk(starts, lengths, uniforms)
    assert got.dtype == np.int64
    assert got.tolist() == reference_walk(90, edges, starts, lengths.tolist(), uniforms)
    # window_positives draws lengths then uniforms from the generator, deterministically.
    a = window_positives(graph, starts, 3, np.random.default_rng(5))
    b = window_positives(graph, starts, 3, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_weighted_walk_frequencies():
    graph = rt.Graph(3, np.array([[0, 1], [0, 2]]), np.array([1.0, 3.0]))
    rng = np.random.default_rng(0)
    ends = graph.walk(np.zeros(40_000, np.int64), np.ones(40_000, np.int64), rng.random(40_000))
    assert abs(np.mean(ends == 2) - 0.75) < 0.01


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([4], [1], [0.5]), ValueError, r"^starts\[0\]: node 4 has no neighbours"),
        (([7], [0], []), ValueError, r"^starts\[0\]: node 7 is out of range"),
        (([-1], [0], []), ValueError, "^starts: must be >= 0"),
        (([0], [-1], []), ValueError, "^lengths: must be >= 0"),
        (([0, 1], [1], [0.5]), ValueError, r"^lengths: expected shape \(2,\)"),
        (([0], [2], [0.5]), ValueError, r"^uniforms: expected shape \(2,\)"),
        (([0], [1], [1.0]), ValueError, r"^uniforms\[0\]: expected a value in \[0, 1\)"),
        (([0], [1], [np.nan]), ValueError, "^uniforms"),
        (([0.0], [1], [0.5]), TypeError, "^starts"),
    ],
)
def test_walk_bad_input(args, error, match):
    graph = rt.Graph(5, EDGES)
    starts, lengths, uniforms = (np.asarray(a) for a in args)
    uniforms = uniforms.astype(np.float64)
    with pytest.raises(error, match=match):
        graph.walk(starts, lengths.astype(np.int64), uniforms)


# ------------------------------------------------------------------ Graph vs raw edges


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_local_contrastive_graph_equals_edges(dtype, reduction):
    z, edges = make_graph(3, 30, 80, 4, dtype)
    labels = np.random.default_rng(1).random(len(edges)) < 0.7
    loss = rt.LocalContrastiveLoss(margin=1.5, reduction=reduction)
    raw = loss(z, edges, labels)
    built = loss(z, rt.Graph(30, edges, np.ones(len(edges))), labels)
    np.testing.assert_array_equal(built[0], raw[0])
    np.testing.assert_array_equal(built[1][0], raw[1][0])
    assert built[1][1:] == (None, None)


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_spectral_graph_equals_edges(normalized, weighted):
    z, edges = make_graph(4, 30, 80, 4)
    weights = np.random.default_rng(2).random(len(edges)) if weighted else None
    spectral = rt.SpectralRegularization(lam=0.3, normalized=normalized)
    graph = rt.Graph(30, edges, weights)
    raw = spectral(z, edges, weights)
    built = spectral.forward(z, graph)
    assert built[0] == raw[0]
    np.testing.assert_array_equal(built[1][0], raw[1][0])
    for method in ("dense", "sparse"):
        expected = spectral.eigenvalues(30, edges, 6, weights, method=method)
        np.testing.assert_array_equal(spectral.eigenvalues(graph, 6, method=method), expected)
        np.testing.assert_array_equal(spectral.eigenvalues(graph, k=6, method=method), expected)


def test_graph_miner_graph_equals_edges():
    z, edges = make_graph(5, 40, 90, 8)
    miner = rt.GraphHardNegativeMiner(hop_distance=3, num_negatives=4)
    anchors = np.arange(40)
    np.testing.assert_array_equal(
        miner.mine(anchors, z, rt.Graph(40, edges)), miner.mine(anchors, z, edges)
    )


def test_consumers_reject_mismatched_graphs_and_extra_weights():
    z, edges = make_graph(6, 10, 20, 3)
    graph = rt.Graph(11, edges)
    with pytest.raises(ValueError, match=r"^embeddings: expected one row per graph node \(11"):
        rt.LocalContrastiveLoss()(z, graph)
    with pytest.raises(ValueError, match="^embeddings: expected one row per graph node"):
        rt.SpectralRegularization()(z, graph)
    with pytest.raises(ValueError, match="^embeddings: expected one row per graph node"):
        rt.GraphHardNegativeMiner().mine(np.arange(3), z, graph)
    with pytest.raises(ValueError, match="^weights: a Graph holds its own weights"):
        rt.SpectralRegularization()(z, rt.Graph(10, edges), np.ones(len(edges)))
    with pytest.raises(TypeError, match="^eigenvalues: with a Graph"):
        rt.SpectralRegularization().eigenvalues(graph, 3, 3)
    with pytest.raises(ValueError, match="^k: must be in 1..=num_nodes"):
        rt.SpectralRegularization().eigenvalues(graph, 12)


# --------------------------------------------------------- behaviour changes (pinned)


def test_change_walks_weight_duplicate_edges():
    """Before: the trainer's walk collapsed duplicates (uniform over distinct neighbours, so
    u = 0.5 from node 0 of {0-1, 0-1, 0-2} went to 2). Now duplicates add weight: P(1) = 2/3."""
    graph = rt.Graph(3, np.array([[0, 1], [1, 0], [0, 2]]))
    assert graph.walk(np.array([0]), np.array([1]), np.array([0.5])).tolist() == [1]
    assert graph.walk(np.array([0]), np.array([1]), np.array([0.7])).tolist() == [2]


def test_change_trainer_graph_terms_count_the_rows_as_given():
    """Before: the trainer's local and spectral terms ran on the canonical edge set. Now they
    run on the trainer's Graph, whose rows are as given: a duplicated edge counts twice."""
    edges, _ = planted_partition(2, 20, p_in=0.3, p_out=0.05, seed=2)
    doubled = np.concatenate([edges, edges[:5]])
    weights = rt.LossWeights(infonce=1.0, local=1.0, spectral=1.0, reconstruction=0.0)
    config = TrainerConfig(dim=8, batch_size=4096, seed=1, loss_weights=weights)
    trainer = Trainer(rt.Graph(40, doubled), config=config)
    z = trainer.embeddings()
    anchors = non_isolated(trainer.graph)
    _, parts, _ = trainer._step(anchors, anchors, trainer.objective.weights)
    local = rt.LocalContrastiveLoss()
    spectral = rt.SpectralRegularization(lam=1.0)
    assert parts["local"] == local(z, doubled)[0] != local(z, edges)[0]
    assert parts["spectral"] == spectral(z, doubled)[0] != spectral(z, edges)[0]


def test_change_miner_skips_zero_weight_pairs():
    """New with weighted graphs: the k-hop miner follows the adjacency, where a pair of zero
    total weight is no edge (raw edge arrays carry no weights: unchanged)."""
    z = np.eye(4)
    edges = np.array([[0, 1], [1, 2], [2, 3]])
    miner = rt.GraphHardNegativeMiner(hop_distance=2, num_negatives=2)
    assert miner.mine(np.array([0]), z, edges).tolist() == [[2, -1]]
    cut = rt.Graph(4, edges, np.array([1.0, 0.0, 1.0]))
    assert miner.mine(np.array([0]), z, cut).tolist() == [[-1, -1]]


def test_trainer_holds_one_graph_and_checkpoints_it(tmp_path):
    edges, _ = planted_partition(2, 20, p_in=0.3, p_out=0.05, seed=4)
    weights = np.linspace(0.5, 2.0, len(edges))
    graph = rt.Graph(40, edges, weights)
    trainer = Trainer(graph, config=TrainerConfig(dim=8, epochs=2, seed=3))
    assert trainer.graph is graph
    trainer.fit(1, progress=False)
    trainer.save(tmp_path / "t.npz")
    resumed = Trainer.load(tmp_path / "t.npz")
    assert resumed.graph == graph
    trainer.fit(1, progress=False)
    resumed.fit(1, progress=False)
    np.testing.assert_array_equal(resumed.params, trainer.params)
    with pytest.raises(TypeError, match="^edges: must be omitted"):
        Trainer(graph, edges)
    with pytest.raises(ValueError, match="^graph: expected at least 2 nodes"):
        Trainer(rt.Graph(1, np.zeros((0, 2), np.int64)))
