"""``ruvector_training.datasets``: the shipped Cora, Facebook and STS Benchmark files load with
the documented sizes, dtypes and edge form, without network access."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import ruvector_training as rt
from ruvector_training import datasets


def check_edge_form(graph: datasets.GraphDataset) -> None:
    """Edges are int64 (E, 2), i < j, no duplicates, sorted rows, ids in range."""
    edges = graph.edges
    assert edges.dtype == np.int64
    assert edges.ndim == 2 and edges.shape[1] == 2
    assert (edges[:, 0] < edges[:, 1]).all()  # no self-loops, each pair as (min, max)
    assert edges.min() >= 0 and edges.max() < graph.num_nodes
    keys = edges[:, 0] * graph.num_nodes + edges[:, 1]
    assert (np.diff(keys) > 0).all()  # strictly increasing: sorted and unique


def test_module_is_reexported():
    assert rt.datasets is datasets
    assert datasets.data_path("cora.npz").is_file()
    assert datasets.data_path().is_dir()
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        datasets.data_path("nothing.npz")


def test_cora():
    cora = datasets.load_cora()
    assert cora.name == "cora"
    assert cora.num_nodes == 2708
    assert cora.edges.shape == (5278, 2)
    check_edge_form(cora)
    assert cora.labels.dtype == np.int64 and cora.labels.shape == (2708,)
    assert np.bincount(cora.labels).tolist() == [298, 418, 818, 426, 217, 180, 351]
    assert cora.class_names == [
        "Case_Based",
        "Genetic_Algorithms",
        "Neural_Networks",
        "Probabilistic_Methods",
        "Reinforcement_Learning",
        "Rule_Learning",
        "Theory",
    ]
    assert cora.features is not None
    assert cora.features.dtype == np.float32 and cora.features.shape == (2708, 1433)
    assert set(np.unique(cora.features).tolist()) == {0.0, 1.0}
    assert cora.features.sum() == 49216  # one per stored CSR entry
    # Every node has at least one link (Cora has no isolated papers).
    assert np.bincount(cora.edges.ravel(), minlength=2708).min() >= 1


def test_cora_edges_are_the_symmetrised_citations():
    with np.load(datasets.data_path("cora.npz"), allow_pickle=False) as data:
        indptr, indices = data["adj_indptr"], data["adj_indices"]
    adjacency = np.zeros((2708, 2708), dtype=bool)
    adjacency[np.repeat(np.arange(2708), np.diff(indptr)), indices] = True
    adjacency |= adjacency.T
    np.fill_diagonal(adjacency, False)
    expected = np.argwhere(np.triu(adjacency))  # row-major: sorted (i, j), i < j
    np.testing.assert_array_equal(datasets.load_cora().edges, expected)


def test_facebook():
    facebook = datasets.load_facebook()
    assert facebook.name == "facebook"
    assert facebook.num_nodes == 22470
    assert facebook.edges.shape == (170823, 2)
    check_edge_form(facebook)
    assert facebook.features is None
    assert facebook.labels.dtype == np.int64 and facebook.labels.shape == (22470,)
    assert np.bincount(facebook.labels).tolist() == [6495, 3327, 5768, 6880]
    assert facebook.class_names == ["0", "1", "2", "3"]
    assert facebook.labels[:3].tolist() == [1, 3, 0]  # target.csv's first rows


@pytest.mark.parametrize(
    ("split", "size", "first"),
    [
        ("train", 5749, ("A plane is taking off.", "An air plane is taking off.", 5.0)),
        (
            "dev",
            1500,
            ("A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", 5.0),
        ),
        ("test", 1379, ("A girl is styling her hair.", "A girl is brushing her hair.", 2.5)),
    ],
)
def test_sts_benchmark(split, size, first):
    sts = datasets.load_sts_benchmark(split)
    assert sts.split == split
    assert len(sts) == size
    assert len(sts.sentences1) == len(sts.sentences2) == len(sts.genres) == size
    assert sts.scores.dtype == np.float64 and sts.scores.shape == (size,)
    assert sts.scores.min() == 0.0 and sts.scores.max() == 5.0
    assert (sts.sentences1[0], sts.sentences2[0], float(sts.scores[0])) == first
    assert all(isinstance(s, str) and s for s in sts.sentences1 + sts.sentences2)
    assert set(sts.genres) <= {"main-news", "main-captions", "main-forum", "main-forums"}


def test_sts_train_known_values():
    sts = datasets.load_sts_benchmark()  # train by default
    assert sts.split == "train"
    assert sts.sentences1[1] == "A man is playing a large flute."
    assert sts.scores[1] == 3.8
    # Quote characters are kept as text (QUOTE_NONE), not taken as CSV quoting.
    assert any('"' in s for s in sts.sentences1 + sts.sentences2)


def test_sts_extra_fields_are_dropped():
    """Lines with source fields after sentence 2 still give exactly the 7 documented fields."""
    path = datasets.data_path("stsbenchmark", "sts-train.csv")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    long_rows = [i for i, row in enumerate(rows) if len(row) > 7]
    assert long_rows  # the file does have such lines
    sts = datasets.load_sts_benchmark("train")
    i = long_rows[0]
    assert sts.sentences2[i] == rows[i][6]


@pytest.mark.parametrize("split", ["validation", "Train", ""])
def test_sts_unknown_split(split):
    with pytest.raises(ValueError, match="split"):
        datasets.load_sts_benchmark(split)


def test_undirected_edges_helper():
    pairs = np.array([[3, 1], [1, 3], [2, 2], [0, 4], [1, 3]])
    np.testing.assert_array_equal(datasets.undirected_edges(pairs, 5), [[0, 4], [1, 3]])
    with pytest.raises(ValueError, match="pairs"):
        datasets.undirected_edges(np.array([[0, 5]]), 5)
    with pytest.raises(ValueError, match="pairs"):
        datasets.undirected_edges(np.zeros((2, 3)), 5)
