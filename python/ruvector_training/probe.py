"""A linear probe for node-classification accuracy: multinomial logistic regression in NumPy,
trained with this package's :class:`~ruvector_training.Adam` on a stratified split."""

from __future__ import annotations

import numpy as np

from ruvector_training._core import Adam


def stratified_split(
    labels: np.ndarray, train_fraction: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` with ``floor(train_fraction * n_c)`` of each class ``c`` in the
    training part (at least one when the class has two or more members) and the rest in the
    test part. Entries with a negative label (unlabelled) are in neither.

    Raises:
        ValueError: ``train_fraction`` outside ``(0, 1)`` or no labelled entries.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction: expected a number in (0, 1), got {train_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    classes = np.unique(labels[labels >= 0])
    if len(classes) == 0:
        raise ValueError("labels: no labelled entries (all are negative)")
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        cut = int(train_fraction * len(members))
        if len(members) >= 2:
            cut = min(max(cut, 1), len(members) - 1)
        train.append(members[:cut])
        test.append(members[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class LogisticProbe:
    """Multinomial logistic regression on L2-normalised, then standardised, features.

    Minimises mean cross-entropy ``+ l2/2 * ||W||^2`` (bias not penalised) with full-batch
    Adam for ``steps`` steps; deterministic.

    Args:
        l2: L2 penalty on the weights, >= 0.
        steps: optimisation steps.
        lr: Adam learning rate.
    """

    def __init__(self, l2: float = 1e-2, steps: int = 300, lr: float = 0.05) -> None:
        self.l2 = float(l2)
        self.steps = int(steps)
        self.lr = float(lr)
        self.classes_: np.ndarray | None = None
        self._weights: np.ndarray | None = None
        self._bias: np.ndarray | None = None
        self._mean: np.ndarray | None = None
        self._scale: np.ndarray | None = None

    def _features(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return (x - self._mean) / self._scale

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticProbe:
        """Fits on ``x`` ``(n, D)`` floats and ``y`` ``(n,)`` integer class labels."""
        x = np.asarray(x, dtype=np.float64)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        self._mean = x.mean(axis=0)
        self._scale = x.std(axis=0) + 1e-8
        features = (x - self._mean) / self._scale
        self.classes_, targets = np.unique(np.asarray(y), return_inverse=True)
        onehot = np.eye(len(self.classes_))[targets]
        self._weights = np.zeros((features.shape[1], len(self.classes_)))
        self._bias = np.zeros(len(self.classes_))
        optimizer = Adam([self._weights, self._bias], lr=self.lr)
        n = len(features)
        for _ in range(self.steps):
            probs = _softmax(features @ self._weights + self._bias)
            delta = (probs - onehot) / n
            grad_w = features.T @ delta + self.l2 * self._weights
            optimizer.step([grad_w, delta.sum(axis=0)])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class labels for ``x`` ``(n, D)``."""
        if self._weights is None:
            raise ValueError("x: the probe is not fitted; call fit first")
        scores = self._features(x) @ self._weights + self._bias
        return self.classes_[np.argmax(scores, axis=1)]


def probe_accuracy(
    embeddings: np.ndarray, labels: np.ndarray, train_fraction: float = 0.5, seed: int = 0
) -> float:
    """Test accuracy of a :class:`LogisticProbe` fitted on a stratified ``train_fraction`` of
    the labelled rows of ``embeddings`` ``(N, D)`` (``labels`` ``(N,)``, negative = unlabelled)
    and evaluated on the rest."""
    labels = np.asarray(labels)
    train, test = stratified_split(labels, train_fraction, seed)
    probe = LogisticProbe().fit(embeddings[train], labels[train])
    return float(np.mean(probe.predict(embeddings[test]) == labels[test]))


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores
