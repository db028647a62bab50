"""The --plot report figure: loss lines (components only when there are several), held-out
score curves, the class map (legend up to 20 classes, colour bar beyond, UMAP when umap-learn is
importable, PCA otherwise), the atomic PNG write, and the CLI's evaluation-callback wiring."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
from ruvector_training import plot
from ruvector_training.cli import main
from ruvector_training.synthetic import planted_partition
from ruvector_training.training_metrics import TrainingMetrics

pytest.importorskip("matplotlib", reason="matplotlib not installed (the [plot] extra)")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history(components: list[str], epochs: int = 12, every: int = 3, scores=("auc", "mrr@10")):
    """Synthetic per-epoch metrics; the scores recorded every ``every`` epochs and at the end."""
    out = []
    for e in range(1, epochs + 1):
        values = {name: (i + 1.0) / e for i, name in enumerate(components)}
        extra = {}
        if e % every == 0 or e == epochs:
            extra = {key: 0.5 + 0.4 * (1 - 1 / e) / (i + 1) for i, key in enumerate(scores)}
        total = sum(values.values()) if values else 1.0 / e
        out.append(TrainingMetrics(e, total, values, 0.1, 0, 0.01, 0.0, extra=extra))
    return out


def clustered(classes: int, n: int = 400, unlabelled: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    emb = 3 * rng.standard_normal((classes, 8))[labels] + rng.standard_normal((n, 8))
    labels[rng.random(n) < unlabelled] = -1
    return emb.astype(np.float32), labels


@pytest.fixture
def no_umap(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap raises ImportError


@pytest.mark.parametrize(("components", "lines"), [([], 1), (["infonce"], 1), (["a", "b", "c"], 4)])
def test_loss_lines(components, lines, no_umap):
    emb, labels = clustered(3)
    figure = plot.training_figure(history(components), emb, labels, name="toy")
    loss = figure.axes[0]
    assert len(loss.get_lines()) == lines
    assert loss.get_lines()[0].get_ydata().tolist() == [m.loss for m in history(components)]
    if lines > 1:
        labels_shown = [t.get_text() for t in loss.get_legend().get_texts()]
        assert labels_shown == ["total (weighted)", *components]
    else:
        assert loss.get_legend() is None
    if components == ["infonce"]:
        assert loss.get_ylabel() == "loss (infonce)"
    assert loss.get_xlabel() == "epoch" and loss.get_title() == "toy: training loss"


def test_score_panel(no_umap):
    emb, labels = clustered(3)
    figure = plot.training_figure(history(["infonce"], epochs=10, every=3), emb, labels, name="toy")
    scores = figure.axes[1]
    assert scores.get_title() == "toy: held-out evaluation" and scores.get_xlabel() == "epoch"
    lines = scores.get_lines()
    assert len(lines) == 2
    for line in lines:
        assert line.get_xdata().tolist() == [3, 6, 9, 10]
    names = [t.get_text() for t in scores.get_legend().get_texts()]
    assert names[0].startswith("link-prediction AUC (last ") and names[1].startswith(
        "neighbour MRR@10 (last "
    )
    assert "toy" in figure.get_suptitle() and "400 nodes" in figure.get_suptitle()
    # Without recorded scores there is no evaluation panel: loss and map only.
    figure = plot.training_figure(history(["infonce"], scores=()), emb, labels)
    assert len(figure.axes) == 2 and figure.axes[1].get_title().startswith("embeddings, PCA")


@pytest.mark.parametrize("classes", [2, 7, 18, 20])
def test_map_legend_up_to_20_classes(classes, no_umap):
    emb, labels = clustered(classes, n=1200)
    names = [f"class-{c}" for c in range(classes)]
    figure = plot.training_figure(history(["x"]), emb, labels, name="toy", class_names=names)
    assert len(figure.axes) == 3  # no colour bar
    ax = figure.axes[2]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["unlabelled", *names]
    colours = [tuple(c.get_facecolor()[0]) for c in ax.collections[1:]]
    assert len(set(colours)) == classes  # every class its own colour
    grey = tuple(ax.collections[0].get_facecolor()[0])
    assert grey[0] == grey[1] == grey[2] and grey not in colours
    assert ax.get_title() == "toy: embeddings, PCA of L2-normalised rows, by class"
    assert ax.get_xlabel().startswith("PC 1 (") and ax.get_ylabel().startswith("PC 2 (")


def test_map_colour_bar_beyond_20_classes(no_umap):
    emb, labels = clustered(30, n=1500)
    figure = plot.training_figure(history(["x"]), emb, labels)
    assert len(figure.axes) == 4  # loss, scores, map, colour bar
    bar = figure.axes[3]
    assert "30 classes" in bar.get_ylabel()
    # Only the unlabelled rows are in the map's legend.
    assert [t.get_text() for t in figure.axes[2].get_legend().get_texts()] == ["unlabelled"]
    assert len(set(map(tuple, plot.class_colours(30)))) == 30


def test_map_without_labels(no_umap):
    emb, _ = clustered(3)
    figure = plot.training_figure(history([]), emb)
    ax = figure.axes[2]
    assert ax.get_legend() is None and len(ax.collections) == 1
    assert ax.get_title() == "embeddings, PCA of L2-normalised rows"


def test_pca_matches_sklearn():
    from sklearn.decomposition import PCA

    emb, _ = clustered(4)
    points, explained = plot.pca_2d(emb)
    x = emb.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    pca = PCA(n_components=2, svd_solver="full")
    np.testing.assert_allclose(points, pca.fit_transform(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(explained, pca.explained_variance_ratio_, rtol=1e-12)
    # Degenerate inputs: one column, one row.
    assert plot.pca_2d(emb[:, :1])[0][:, 1].tolist() == [0.0] * len(emb)
    assert plot.pca_2d(emb[:1])[0].tolist() == [[0.0, 0.0]]


def test_umap_used_when_installed(monkeypatch):
    calls = []

    class FakeUMAP:
        def __init__(self, **kwargs):
            calls.append(kwargs)

        def fit_transform(self, x):
            return x[:, :2] * 10

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    emb, labels = clustered(3)
    figure = plot.training_figure(history(["x"]), emb, labels, seed=5)
    ax = figure.axes[2]
    assert calls == [
        {"n_components": 2, "metric": "cosine", "n_neighbors": 15, "random_state": 5, "n_jobs": 1}
    ]
    assert ax.get_xlabel() == "UMAP 1" and "UMAP (cosine)" in ax.get_title()


def test_plot_training_writes_png_atomically(tmp_path, no_umap, monkeypatch):
    emb, labels = clustered(3)
    path = tmp_path / "report.png"
    plot.plot_training(path, history(["a", "b"]), emb, labels, name="toy")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert os.listdir(tmp_path) == ["report.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    # A failure while writing leaves the old file and no temporary file.
    before = path.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plot.plot_training(path, history(["a"]), emb, labels)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["report.png"]


def test_cli_plot_records_held_out_scores(tmp_path, monkeypatch, no_umap):
    edges, labels = planted_partition(3, 20, p_in=0.3, p_out=0.02, seed=4)
    path = tmp_path / "tiny-graph.npz"
    np.savez(path, edges=edges, labels=labels)
    seen = {}
    real = plot.plot_training

    def capture(out, hist, embeddings, labels, **kwargs):
        seen.update(out=out, history=hist, kwargs=kwargs)
        real(out, hist, embeddings, labels, **kwargs)

    monkeypatch.setattr(plot, "plot_training", capture)
    out = tmp_path / "p.png"
    args = ["graph", str(path), "--plot", str(out), "--no-progress", "--epochs", "45", "--dim", "8"]
    assert main(args) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert seen["kwargs"]["name"] == "tiny-graph"
    evaluated = [m.epoch for m in seen["history"] if m.extra]
    assert evaluated == [*range(2, 45, 2), 45]  # every 45 // 20 = 2 epochs and the last
    assert all(set(m.extra) == {"auc", "mrr@10"} for m in seen["history"] if m.extra)

    # Without --plot, no evaluation during training.
    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluation callback created without --plot")

    monkeypatch.setattr("ruvector_training.cli.Evaluation", no_evaluation)
    assert main(["graph", str(path), "--no-progress", "--epochs", "3", "--dim", "8"]) == 0
