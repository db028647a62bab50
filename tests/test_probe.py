"""The node-classification probe is scikit-learn's LogisticRegression on a stratified
``train_test_split``: the accuracy equals what a user computes with scikit-learn directly on the
same embeddings, and the split is stratified, seeded and ignores unlabelled rows."""

from __future__ import annotations

import numpy as np
import pytest
from ruvector_training.probe import MAX_ITER, probe_accuracy, stratified_split
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def clustered(seed: int, n: int = 600, dim: int = 16, classes: int = 5, dtype=np.float32):
    """Overlapping Gaussian clusters (the probe is neither perfect nor at chance) with about a
    tenth of the rows unlabelled (-1)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    centres = rng.standard_normal((classes, dim)) * 0.6
    embeddings = (centres[labels] + rng.standard_normal((n, dim))).astype(dtype)
    labels[rng.random(n) < 0.1] = -1
    return embeddings, labels


def sklearn_accuracy(embeddings, labels, seed):
    """The figure a user computes by hand from saved embeddings."""
    keep = labels >= 0
    x, y = embeddings[keep], labels[keep]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, train_size=0.5, stratify=y, random_state=seed
    )
    return LogisticRegression(max_iter=MAX_ITER).fit(x_train, y_train).score(x_test, y_test)


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_probe_equals_sklearn(seed, dtype):
    embeddings, labels = clustered(seed, dtype=dtype)
    accuracy = probe_accuracy(embeddings, labels, 0.5, seed)
    assert accuracy == sklearn_accuracy(embeddings, labels, seed)
    assert 0.4 < accuracy < 0.95  # a meaningful case, neither chance (0.2) nor perfect


def test_probe_converges():
    embeddings, labels = clustered(3)
    train, _ = stratified_split(labels, 0.5, 3)
    model = LogisticRegression(max_iter=MAX_ITER).fit(embeddings[train], labels[train])
    assert model.n_iter_[0] < MAX_ITER


def test_stratified_split():
    embeddings, labels = clustered(5, n=1000)
    train, test = stratified_split(labels, 0.5, seed=5)
    labelled = np.flatnonzero(labels >= 0)
    assert train.dtype == np.int64 and test.dtype == np.int64
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.r_[train, test]), labelled)
    assert len(train) == len(labelled) // 2
    # Per class, the training share differs from half by at most one row.
    for c in range(5):
        total = (labels == c).sum()
        assert abs((labels[train] == c).sum() - total / 2) <= 1
    # Seeded: same seed same split, another seed another one.
    again, _ = stratified_split(labels, 0.5, seed=5)
    other, _ = stratified_split(labels, 0.5, seed=6)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    small, _ = stratified_split(labels, 0.2, seed=5)
    assert len(small) == int(0.2 * len(labelled))


@pytest.mark.parametrize(
    ("labels", "kwargs", "error", "message"),
    [
        (np.array([0, 1, 0, 1]), {"train_fraction": 1.0}, ValueError, "train_fraction: expected"),
        (np.array([0, 1, 0, 1]), {"train_fraction": 0.0}, ValueError, "train_fraction: expected"),
        (np.array([-1, -1, -1]), {}, ValueError, "labels: no labelled entries"),
        (np.array([0.0, 1.0]), {}, TypeError, "labels: expected integer class labels"),
        (np.array([[0, 1]]), {}, ValueError, "labels: expected shape (N,)"),
        (
            np.array([0, 0, 1, 1, 2, 2]),
            {"train_fraction": 0.2},  # one training row for three classes
            ValueError,
            "labels: cannot make a stratified split",
        ),
        (np.array([0, 1, 2, -1]), {}, ValueError, "labels: no class has two or more labelled"),
    ],
)
def test_stratified_split_bad_input(labels, kwargs, error, message):
    with pytest.raises(error) as info:
        stratified_split(labels, **kwargs)
    assert str(info.value).startswith(message), str(info.value)


def test_single_row_classes_are_left_out():
    embeddings, labels = clustered(9, n=300)
    labels[[5, 17]] = [7, 8]  # two classes with one labelled row each
    train, test = stratified_split(labels, 0.5, seed=2)
    assert not np.isin([5, 17], np.r_[train, test]).any()
    assert len(train) + len(test) == (labels >= 0).sum() - 2
    keep = (labels >= 0) & (labels < 7)
    expected = sklearn_accuracy(
        np.where(keep[:, None], embeddings, 0), np.where(keep, labels, -1), 2
    )
    assert probe_accuracy(embeddings, labels, 0.5, 2) == expected
    with pytest.raises(ValueError, match="^labels: the probe needs two or more classes"):
        probe_accuracy(np.zeros((5, 2)), np.array([0, 0, 0, 0, 1]))


def test_probe_bad_embeddings():
    with pytest.raises(ValueError, match=r"^embeddings: expected shape \(4, D\)"):
        probe_accuracy(np.zeros((3, 2)), np.array([0, 1, 0, 1]))


def test_cli_reports_labels_the_probe_cannot_use(tmp_path, capsys):
    from ruvector_training.cli import main
    from ruvector_training.synthetic import planted_partition

    edges, _ = planted_partition(2, 20, p_in=0.3, p_out=0.05, seed=1)
    path = tmp_path / "g.npz"
    np.savez(path, edges=edges, labels=np.arange(40))  # every node its own class
    assert main(["graph", str(path), "--no-progress", "--epochs", "2", "--dim", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"ruvector-train: error: {path}: 40 labelled node(s) in 40 class(es) of 40 nodes; "
        "the probe needs a class with at least 2 labelled nodes"
    ]
