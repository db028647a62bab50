"""Small public data sets shipped inside the package, loaded without any network access.

- :func:`load_cora`: the Cora citation graph (2,708 papers, 5,278 undirected links, 1,433
  bag-of-words features, 7 classes).
- :func:`load_facebook`: the Facebook page-page graph of the MUSAE collection (22,470 pages,
  170,823 undirected mutual-like links, 4 page categories).
- :func:`load_sts_benchmark`: the STS Benchmark sentence pairs with 0-5 similarity scores
  (train / dev / test: 5,749 / 1,500 / 1,379 pairs).

The files live in ``ruvector_training/data/`` (see its ``README.md`` for each set's licence and
source); :func:`data_path` gives their location, e.g. to pass ``cora.npz`` to
``ruvector-train graph``.

Graphs are returned as :class:`GraphDataset`: an undirected edge list with every unordered pair
once as ``i < j`` (self-loops and duplicates dropped, rows sorted), which is the form the graph
losses, :class:`~ruvector_training.Graph`, :class:`~ruvector_training.Trainer` and
:func:`~ruvector_training.metrics` take (``Graph(data.num_nodes, data.edges)`` builds it once).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "GraphDataset",
    "StsBenchmark",
    "STS_SPLITS",
    "data_path",
    "load_cora",
    "load_facebook",
    "load_sts_benchmark",
]

#: Folder holding the shipped data files.
_DATA_DIR = Path(__file__).resolve().parent / "data"

#: The STS Benchmark splits :func:`load_sts_benchmark` accepts.
STS_SPLITS = ("train", "dev", "test")


def data_path(*parts: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("cora.npz")`` or
    ``data_path("facebook", "edges.csv")``; ``data_path()`` is the data folder itself.

    Raises:
        FileNotFoundError: no such file or folder in the package data.
    """
    path = _DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"no packaged data file {'/'.join(parts)!r} in {_DATA_DIR}")
    return path


@dataclass(frozen=True, eq=False)
class GraphDataset:
    """An undirected, node-labelled graph.

    Attributes:
        name: the data set's name (``"cora"``, ``"facebook"``).
        num_nodes: ``N``; nodes are ``0 .. N-1``.
        edges: ``int64 (E, 2)``: every undirected edge once, as ``(i, j)`` with ``i < j``; no
            self-loops, no duplicates, rows sorted lexicographically.
        labels: ``int64 (N,)``: class of every node, ``0 .. len(class_names) - 1``.
        features: ``float32 (N, F)`` node features (Cora: 0/1 bag of words, ``F = 1433``), or
            ``None`` when the set has none (Facebook).
        class_names: name of every class, indexed by label.
    """

    name: str
    num_nodes: int
    edges: np.ndarray
    labels: np.ndarray
    features: np.ndarray | None
    class_names: list[str]

    def __repr__(self) -> str:
        feats = "None" if self.features is None else f"{self.features.shape}"
        return (
            f"GraphDataset(name={self.name!r}, num_nodes={self.num_nodes}, "
            f"edges={self.edges.shape}, labels={self.labels.shape}, features={feats}, "
            f"class_names={self.class_names!r})"
        )


@dataclass(frozen=True, eq=False)
class StsBenchmark:
    """One split of the STS Benchmark: ``n`` sentence pairs with a gold similarity score.

    Attributes:
        split: ``"train"``, ``"dev"`` or ``"test"``.
        sentences1: the first sentence of every pair (``n`` strings).
        sentences2: the second sentence of every pair (``n`` strings).
        scores: ``float64 (n,)``: gold similarity, 0 (unrelated) to 5 (equivalent).
        genres: the genre of every pair as written in the file (``"main-news"``,
            ``"main-captions"``, and ``"main-forum"`` in train / ``"main-forums"`` elsewhere).
    """

    split: str
    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    genres: list[str]

    def __len__(self) -> int:
        return len(self.scores)

    def __repr__(self) -> str:
        return f"StsBenchmark(split={self.split!r}, pairs={len(self)})"


def undirected_edges(pairs: np.ndarray, num_nodes: int) -> np.ndarray:
    """``int64 (E, 2)``: each unordered pair of ``pairs`` (``(M, 2)`` node ids) once as
    ``(min, max)``, self-loops dropped, rows sorted.

    Raises:
        ValueError: ``pairs`` is not ``(M, 2)`` or holds an id outside ``0 .. num_nodes-1``.
    """
    pairs = np.asarray(pairs, dtype=np.int64)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs: expected shape (M, 2), got {pairs.shape}")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= num_nodes):
        raise ValueError(f"pairs: node ids must be in 0..{num_nodes - 1}")
    lo = np.minimum(pairs[:, 0], pairs[:, 1])
    hi = np.maximum(pairs[:, 0], pairs[:, 1])
    keep = lo != hi
    keys = np.unique(lo[keep] * num_nodes + hi[keep])  # sorted and unique
    return np.stack([keys // num_nodes, keys % num_nodes], axis=1).astype(np.int64)


def _csr_dense(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape) -> np.ndarray:
    """Dense ``float32`` matrix of a CSR triple."""
    rows, cols = int(shape[0]), int(shape[1])
    dense = np.zeros((rows, cols), dtype=np.float32)
    row_of = np.repeat(np.arange(rows), np.diff(indptr))
    dense[row_of, indices] = data
    return dense


def load_cora() -> GraphDataset:
    """The Cora citation graph (LINQS; NumPy packing of the gnn-benchmark project).

    Returns:
        :class:`GraphDataset` with ``num_nodes = 2708``; ``edges`` ``int64 (5278, 2)``: the
        5,429 directed citations made undirected (both directions of a pair and self-citations
        dropped); ``labels`` ``int64 (2708,)`` in ``0..6``; ``features`` dense ``float32
        (2708, 1433)`` 0/1 word-presence vectors; ``class_names`` the 7 subject areas
        (``"Case_Based"`` ... ``"Theory"``).
    """
    with np.load(data_path("cora.npz"), allow_pickle=False) as data:
        shape = tuple(int(s) for s in data["adj_shape"])
        indptr = data["adj_indptr"].astype(np.int64)
        indices = data["adj_indices"].astype(np.int64)
        sources = np.repeat(np.arange(shape[0], dtype=np.int64), np.diff(indptr))
        num_nodes = shape[0]
        edges = undirected_edges(np.stack([sources, indices], axis=1), num_nodes)
        features = _csr_dense(
            data["attr_data"], data["attr_indices"], data["attr_indptr"], data["attr_shape"]
        )
        labels = data["labels"].astype(np.int64)
        class_names = [str(c) for c in data["class_names"]]
    return GraphDataset("cora", num_nodes, edges, labels, features, class_names)


def _read_int_csv(path: Path, columns: int) -> np.ndarray:
    """``int64 (rows, columns)`` from a CSV file with one header line."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    if table.shape[1] != columns:
        raise ValueError(f"{path}: expected {columns} columns, got {table.shape[1]}")
    return table


def load_facebook() -> GraphDataset:
    """The Facebook page-page graph (MUSAE; Rozemberczki et al. 2019, via karateclub).

    Pages are nodes, mutual likes are edges; each page is a politician, a governmental
    organisation, a TV show or a company. The shipped files give the category only as an
    integer, without the mapping to those names, so ``class_names`` is ``["0", "1", "2", "3"]``.

    Returns:
        :class:`GraphDataset` with ``num_nodes = 22470``; ``edges`` ``int64 (170823, 2)`` (the
        file's 171,002 rows minus self-loops and repeated pairs); ``labels`` ``int64 (22470,)``
        in ``0..3``; ``features`` ``None``.
    """
    targets = _read_int_csv(data_path("facebook", "target.csv"), 2)
    num_nodes = len(targets)
    if not np.array_equal(targets[:, 0], np.arange(num_nodes)):
        raise ValueError("facebook/target.csv: ids are not 0..N-1 in order")
    labels = targets[:, 1].copy()
    edges = undirected_edges(_read_int_csv(data_path("facebook", "edges.csv"), 2), num_nodes)
    class_names = [str(c) for c in range(int(labels.max()) + 1)]
    return GraphDataset("facebook", num_nodes, edges, labels, None, class_names)


def load_sts_benchmark(split: str = "train") -> StsBenchmark:
    """One split of the STS Benchmark (Cer et al. 2017).

    Args:
        split: ``"train"`` (5,749 pairs), ``"dev"`` (1,500) or ``"test"`` (1,379).

    Returns:
        :class:`StsBenchmark`: ``sentences1`` / ``sentences2`` lists of ``n`` strings,
        ``scores`` ``float64 (n,)`` in ``[0, 5]``, ``genres``.

    Raises:
        ValueError: ``split`` is not one of ``"train"``, ``"dev"``, ``"test"``.
    """
    if split not in STS_SPLITS:
        raise ValueError(f"split: expected one of 'train', 'dev', 'test', got {split!r}")
    sentences1: list[str] = []
    sentences2: list[str] = []
    scores: list[float] = []
    genres: list[str] = []
    path = data_path("stsbenchmark", f"sts-{split}.csv")
    with open(path, encoding="utf-8", newline="") as handle:
        # Tab-separated, no header: genre, file, year, id, score, sentence 1, sentence 2; some
        # lines carry extra source fields after sentence 2, and sentences may hold quotes.
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for line_no, row in enumerate(reader, 1):
            if len(row) < 7:
                raise ValueError(f"{path}:{line_no}: expected 7 tab-separated fields")
            genre, _file, _year, _id, score, first, second = row[:7]
            genres.append(genre)
            scores.append(float(score))
            sentences1.append(first)
            sentences2.append(second)
    return StsBenchmark(split, sentences1, sentences2, np.asarray(scores, dtype=np.float64), genres)
