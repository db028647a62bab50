"""A training report figure: loss curves and a 2-D PCA projection of the embeddings. Needs
matplotlib (an optional extra: ``pip install ruvector-training[plot]``)."""

from __future__ import annotations

import numpy as np

MISSING_MATPLOTLIB = (
    "plotting needs matplotlib, which is not installed: pip install matplotlib "
    "(or ruvector-training[plot])"
)


def require_matplotlib():
    """The ``matplotlib.pyplot`` module (with the non-interactive Agg backend).

    Raises:
        ImportError: matplotlib is not installed (the message says how to install it).
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError(MISSING_MATPLOTLIB) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pca_2d(embeddings: np.ndarray) -> np.ndarray:
    """The ``(N, 2)`` projection of the L2-normalised, centred rows of ``embeddings`` on their
    two leading principal axes (via SVD)."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T


def plot_training(path, history, embeddings: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Writes a PNG to ``path``: left, the total loss and each component per epoch (from
    ``history``, a list of :class:`~ruvector_training.TrainingMetrics`); right, a 2-D PCA of
    ``embeddings`` coloured by ``labels`` (unlabelled ``-1`` nodes in grey).

    Raises:
        ImportError: matplotlib is missing.
    """
    plt = require_matplotlib()
    figure, (curves, scatter) = plt.subplots(1, 2, figsize=(12, 5))
    epochs = [m.epoch for m in history]
    curves.plot(epochs, [m.loss for m in history], label="total", linewidth=2)
    names = sorted({name for m in history for name in m.components})
    for name in names:
        values = [m.components.get(name, np.nan) for m in history]
        curves.plot(epochs, values, label=name, linestyle="--")
    curves.set_xlabel("epoch")
    curves.set_ylabel("loss")
    curves.set_title("training loss")
    curves.legend()
    points = pca_2d(embeddings)
    if labels is None:
        scatter.scatter(points[:, 0], points[:, 1], s=4)
    else:
        labels = np.asarray(labels)
        unlabelled = labels < 0
        scatter.scatter(points[unlabelled, 0], points[unlabelled, 1], s=3, c="lightgrey")
        scatter.scatter(
            points[~unlabelled, 0],
            points[~unlabelled, 1],
            s=4,
            c=labels[~unlabelled],
            cmap="tab10",
        )
    scatter.set_title("embeddings, 2-D PCA" + ("" if labels is None else " (colour = class)"))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
