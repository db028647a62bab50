"""A training report figure: the loss over epochs, held-out evaluation scores over epochs, and a
2-D map of the embeddings coloured by class. Needs matplotlib (an optional extra:
``pip install ruvector-training[plot]``); the map uses UMAP when umap-learn is installed and
scikit-learn's PCA otherwise.

Panels, left to right:

1. training loss: the total per epoch, plus each loss component when there are two or more (a
   single component would repeat the total);
2. held-out evaluation: every score an :class:`~ruvector_training.Evaluation` callback recorded
   in ``TrainingMetrics.extra`` (the CLI records link-prediction AUC and neighbour MRR@10 every
   few epochs), one line each, markers at the epochs evaluated; left out when nothing was
   recorded;
3. embedding map: UMAP (cosine metric) or PCA of the L2-normalised rows, one colour per class:
   a legend for up to :data:`LEGEND_MAX_CLASSES` classes, a colour bar beyond, unlabelled rows
   (label < 0) in light grey underneath.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ruvector_training._atomic import atomic_write

MISSING_MATPLOTLIB = (
    "plotting needs matplotlib, which is not installed: pip install matplotlib "
    "(or ruvector-training[plot])"
)
#: Up to this many classes the map has a legend; beyond, a colour bar.
LEGEND_MAX_CLASSES = 20
#: Display names of the scores the CLI records.
SCORE_NAMES = {"auc": "link-prediction AUC", "mrr@10": "neighbour MRR@10"}
#: Rows are normalised by ``max(||x||, NORM_EPS)`` before projecting.
NORM_EPS = 1e-12


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


def pca_2d(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``(N, 2)`` projection of the L2-normalised rows of ``embeddings`` ``(N, D)`` on their
    two leading principal axes (scikit-learn's ``PCA(n_components=2)``, centred), and the
    ``(2,)`` fractions of variance those axes explain. With fewer than 2 rows or columns the
    missing axes are zero."""
    from sklearn.decomposition import PCA

    x = _normalised(embeddings)
    components = min(2, x.shape[0], x.shape[1])
    points = np.zeros((x.shape[0], 2))
    explained = np.zeros(2)
    if components > 0 and x.shape[0] > 1:
        pca = PCA(n_components=components, svd_solver="full")
        points[:, :components] = pca.fit_transform(x)
        explained[:components] = pca.explained_variance_ratio_
    return points, explained


def umap_2d(embeddings: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """The ``(N, 2)`` UMAP layout (cosine metric, ``random_state=seed``) of ``embeddings``, or
    None when umap-learn is not installed or there are too few rows for it (< 16)."""
    try:
        import umap
    except ImportError:
        return None
    x = _normalised(embeddings)
    if x.shape[0] < 16:
        return None
    reducer = umap.UMAP(
        n_components=2,
        metric="cosine",
        n_neighbors=min(15, x.shape[0] - 1),
        random_state=seed,
        n_jobs=1,  # a seeded UMAP runs single-threaded anyway; saying so avoids its warning
    )
    return np.asarray(reducer.fit_transform(x), dtype=np.float64)


def training_figure(
    history,
    embeddings: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    name: str | None = None,
    class_names=None,
    seed: int = 0,
):
    """The report figure (a ``matplotlib.figure.Figure``; see the module docstring).

    Args:
        history: a list of :class:`~ruvector_training.TrainingMetrics`, one per epoch.
        embeddings: ``(N, D)`` float array.
        labels: optional ``(N,)`` integer classes, negative for unlabelled rows.
        name: the data set's name, shown in the titles (for example the input file's stem).
        class_names: optional names of the classes 0, 1, ... (legend entries).
        seed: UMAP's random state.

    Raises:
        ImportError: matplotlib is missing.
        ValueError: ``labels`` not of length N.
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    embeddings = np.asarray(embeddings)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (embeddings.shape[0],):
            raise ValueError(f"labels: expected shape ({embeddings.shape[0]},), got {labels.shape}")
    scores = sorted({key for m in history for key in m.extra})
    panels = 3 if scores else 2
    figure = Figure(figsize=(6.0 * panels, 5.2), layout="constrained")
    axes = figure.subplots(1, panels)
    prefix = f"{name}: " if name else ""
    _loss_panel(axes[0], history, prefix)
    if scores:
        _score_panel(axes[1], history, scores, prefix)
    _map_panel(figure, axes[-1], embeddings, labels, prefix, class_names, seed)
    if history:
        figure.suptitle(
            f"{name or 'training'}: {embeddings.shape[0]} nodes, dim {embeddings.shape[1]}, "
            f"{history[-1].epoch} epochs",
            fontweight="bold",
        )
    return figure


def plot_training(
    path,
    history,
    embeddings: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    name: str | None = None,
    class_names=None,
    seed: int = 0,
    dpi: int = 150,
) -> None:
    """Writes :func:`training_figure` as a PNG to ``path`` atomically (a temporary file in the
    same folder, flushed to disk, then renamed over ``path``; on failure ``path`` is untouched
    and the temporary file removed). Other arguments as for :func:`training_figure`.

    Raises:
        ImportError: matplotlib is missing.
        OSError: the file cannot be written.
    """
    figure = training_figure(
        history, embeddings, labels, name=name, class_names=class_names, seed=seed
    )
    fmt = os.path.splitext(os.fspath(path))[1][1:].lower() or "png"
    atomic_write(path, lambda handle: figure.savefig(handle, format=fmt, dpi=dpi))


def _normalised(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), NORM_EPS)


def _loss_panel(ax, history, prefix: str) -> None:
    epochs = [m.epoch for m in history]
    names = sorted({key for m in history for key in m.components})
    ax.plot(epochs, [m.loss for m in history], label="total (weighted)", color="black", lw=2)
    if len(names) >= 2:
        for key in names:
            values = [m.components.get(key, math.nan) for m in history]
            ax.plot(epochs, values, label=key, lw=1.2, ls="--")
        ax.legend(title="loss term", frameon=False)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" if len(names) >= 2 else f"loss ({names[0]})" if names else "loss")
    ax.set_title(f"{prefix}training loss")
    ax.grid(alpha=0.3)


def _score_panel(ax, history, scores: list[str], prefix: str) -> None:
    for key in scores:
        points = [(m.epoch, m.extra[key]) for m in history if key in m.extra]
        epochs, values = zip(*points)
        label = f"{SCORE_NAMES.get(key, key)} (last {values[-1]:.3f})"
        ax.plot(epochs, values, marker="o", ms=3.5, lw=1.5, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("score on held-out edges")
    if all(0.0 <= m.extra[k] <= 1.0 for m in history for k in scores if k in m.extra):
        ax.set_ylim(0.0, 1.02)
    ax.set_title(f"{prefix}held-out evaluation")
    ax.legend(frameon=False, loc="lower right")
    ax.grid(alpha=0.3)


def _map_panel(figure, ax, embeddings, labels, prefix: str, class_names, seed: int) -> None:
    points = umap_2d(embeddings, seed)
    if points is not None:
        method = "UMAP (cosine)"
        ax.set_xlabel("UMAP 1")
        ax.set_ylabel("UMAP 2")
    else:
        points, explained = pca_2d(embeddings)
        method = "PCA of L2-normalised rows"
        ax.set_xlabel(f"PC 1 ({100 * explained[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * explained[1]:.1f}% of variance)")
    size = float(np.clip(20000.0 / max(len(points), 1), 1.0, 12.0))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, color="tab:blue", lw=0, alpha=0.8)
        ax.set_title(f"{prefix}embeddings, {method}")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    unlabelled = labels < 0
    if unlabelled.any():
        ax.scatter(
            points[unlabelled, 0],
            points[unlabelled, 1],
            s=size,
            color="0.82",
            lw=0,
            label="unlabelled",
        )
    classes = np.unique(labels[~unlabelled])
    colours = class_colours(len(classes))
    if len(classes) <= LEGEND_MAX_CLASSES:
        for colour, c in zip(colours, classes.tolist()):
            mask = labels == c
            ax.scatter(
                points[mask, 0],
                points[mask, 1],
                s=size,
                color=colour,
                lw=0,
                alpha=0.85,
                label=_class_name(class_names, c),
            )
        ax.legend(
            title="class",
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
            markerscale=max(1.0, 6.0 / math.sqrt(size)),
            fontsize=8 if len(classes) > 10 else 9,
        )
    else:
        from matplotlib.colors import BoundaryNorm, ListedColormap

        cmap = ListedColormap(colours)
        norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, len(classes))
        index = np.searchsorted(classes, labels[~unlabelled])
        mappable = ax.scatter(
            points[~unlabelled, 0],
            points[~unlabelled, 1],
            s=size,
            c=index,
            cmap=cmap,
            norm=norm,
            lw=0,
            alpha=0.85,
        )
        if unlabelled.any():
            ax.legend(loc="best", frameon=False, markerscale=max(1.0, 6.0 / math.sqrt(size)))
        bar = figure.colorbar(mappable, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label(f"class ({len(classes)} classes)")
        ticks = np.unique(np.linspace(0, len(classes) - 1, min(len(classes), 12)).round())
        bar.set_ticks(ticks)
        bar.set_ticklabels([_class_name(class_names, int(classes[int(t)])) for t in ticks])
    ax.set_title(f"{prefix}embeddings, {method}, by class")
    ax.set_xticks([])
    ax.set_yticks([])


def class_colours(count: int) -> list:
    """``count`` distinguishable RGBA colours, none of them grey (grey marks unlabelled rows).

    Up to 20: the nine non-grey tab10 colours, then their nine light tab20 counterparts, then
    two dark tab20b colours (so up to 9 classes get the usual tab10 colours). Beyond 20:
    ``count`` evenly spaced samples of the perceptually ordered ``turbo`` map, for a colour bar.
    """
    from matplotlib import colormaps

    if count <= LEGEND_MAX_CLASSES:
        tab20 = colormaps["tab20"]
        saturated = [tab20(i) for i in range(0, 20, 2) if i != 14]
        light = [tab20(i) for i in range(1, 20, 2) if i != 15]
        dark = [colormaps["tab20b"](0), colormaps["tab20b"](16)]
        return (saturated + light + dark)[:count]
    return [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, count)]


def _class_name(class_names, c: int) -> str:
    if class_names is not None and 0 <= c < len(class_names):
        return str(class_names[c])
    return str(c)
