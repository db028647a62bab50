"""Trainer: the update it applies (against a NumPy re-computation of one step), loss decrease on a
planted-partition graph, exact checkpoint/resume, schedules and curriculum, callbacks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from ruvector_training.callbacks import EarlyStopping, Evaluation
from ruvector_training.graph import Graph, non_isolated, window_positives
from ruvector_training.synthetic import planted_partition
from ruvector_training.trainer import Trainer
from ruvector_training.trainer_config import TrainerConfig

HAS_MINER = hasattr(rt._core, "HardNegativeMiner")
needs_miner = pytest.mark.skipif(not HAS_MINER, reason="HardNegativeMiner is not built yet")


@pytest.fixture(scope="module")
def sbm():
    """A small planted-partition graph: 4 blocks of 40 nodes."""
    edges, labels = planted_partition(4, 40, p_in=0.2, p_out=0.01, seed=3)
    return len(labels), edges, labels


def small_config(**changes) -> TrainerConfig:
    base = {"dim": 16, "epochs": 5, "batch_size": 64, "seed": 7}
    base.update(changes)
    return TrainerConfig(**base)


def test_one_step_matches_numpy(sbm):
    """With SGD (first step: p -= lr * g) and one batch, the update is the InfoNCE gradient
    scattered onto the table rows (anchors, and positives, np.add.at)."""
    n, edges, _ = sbm
    config = small_config(optimizer="sgd", weight_decay=0.0, lr=0.5, batch_size=4096, window=3)
    trainer = Trainer(n, edges, config)
    start = trainer.params.copy()
    # Replay the trainer's random draws: init, then the epoch's permutation and walks.
    rng = np.random.default_rng(config.seed)
    rng.standard_normal((n, config.dim))
    graph = Graph(n, edges)
    order = rng.permutation(non_isolated(graph))
    positives = window_positives(graph, order, config.window, rng)
    loss_fn = rt.InfoNCELoss(temperature=config.temperature)
    loss, (ga, gp, _) = loss_fn(start[order], start[positives])
    grad = np.zeros_like(start)
    for row, node in enumerate(order):
        grad[node] += ga[row]
    for row, node in enumerate(positives):
        grad[node] += gp[row]
    metrics = trainer.train_epoch()
    assert metrics.components["infonce"] == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(trainer.params, start - 0.5 * grad, rtol=1e-5, atol=1e-6)


def test_loss_decreases_on_demo_graph():
    """The demo's planted-partition graph (1000 nodes, 5 blocks) at the default settings."""
    edges, labels = planted_partition()
    trainer = Trainer(len(labels), edges, TrainerConfig(dim=32, epochs=50))
    history = trainer.fit(progress=False)
    losses = [m.loss for m in history]
    assert len(losses) == 50
    assert max(losses[-10:]) < min(losses[:3]) - 0.2
    # Embeddings separate the planted blocks: same-block pairs are more similar.
    z = trainer.embeddings()
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    sims = z @ z.T
    same = labels[:, None] == labels[None, :]
    assert sims[same].mean() > sims[~same].mean() + 0.2


def test_adapter_over_features(sbm):
    n, edges, labels = sbm
    rng = np.random.default_rng(0)
    features = np.eye(4)[labels] + 0.5 * rng.standard_normal((n, 4))
    features = np.hstack([features, rng.standard_normal((n, 12))])
    trainer = Trainer(n, edges, small_config(epochs=30), features=features)
    assert trainer.params.shape == (16, 16)
    history = trainer.fit(progress=False)
    assert history[-1].loss < history[0].loss
    np.testing.assert_allclose(
        trainer.embeddings(), features.astype(np.float32) @ trainer.params, rtol=1e-6
    )


def test_weighted_terms_add_up(sbm):
    """With one batch per epoch the reported loss is sum_i w_i * component_i."""
    n, edges, _ = sbm
    weights = rt.LossWeights(infonce=1.0, local=0.3, spectral=0.2, reconstruction=0.0)
    trainer = Trainer(n, edges, small_config(batch_size=4096, loss_weights=weights))
    metrics = trainer.train_epoch()
    parts = metrics.components
    assert set(parts) == {"infonce", "local", "spectral"}
    expected = parts["infonce"] + 0.3 * parts["local"] + 0.2 * parts["spectral"]
    assert metrics.loss == pytest.approx(expected, rel=1e-9)


def test_schedules_drive_temperature_and_weights(sbm):
    n, edges, _ = sbm
    temperature = rt.TemperatureScheduler(rt.AnnealingSchedule.linear(1.0, 0.1, 10))
    weights = rt.LossWeightScheduler(
        rt.LossWeights(1.0, 0.0, 0.0, 0.0), rt.LossWeights(1.0, 0.4, 0.0, 0.0), warmup_epochs=2
    )
    trainer = Trainer(
        n,
        edges,
        small_config(),
        temperature_scheduler=temperature,
        loss_weight_scheduler=weights,
    )
    history = trainer.fit(3, progress=False)
    assert [m.temperature for m in history] == pytest.approx([1.0, 0.91, 0.82])
    assert [set(m.components) for m in history] == [{"infonce"}, {"infonce", "local"}] * 1 + [
        {"infonce", "local"}
    ]
    assert trainer.objective.weights.local == pytest.approx(0.4)


def test_cosine_learning_rate(sbm):
    n, edges, _ = sbm
    trainer = Trainer(n, edges, small_config(epochs=4, lr=0.1))
    lrs = [m.lr for m in trainer.fit(progress=False)]
    assert lrs == pytest.approx(
        [0.1, 0.05 * (1 + np.cos(np.pi / 4)), 0.05, 0.05 * (1 - np.cos(np.pi / 4))]
    )
    constant = Trainer(n, edges, small_config(epochs=3, lr=0.1, lr_schedule="constant"))
    assert [m.lr for m in constant.fit(progress=False)] == [0.1] * 3


def checkpoint_setup(n, edges, features=None, mining=False):
    kwargs = {}
    config = small_config(batch_size=64, max_grad_norm=5.0)
    if mining:
        kwargs["curriculum"] = rt.CurriculumScheduler(
            [
                rt.CurriculumStage("a", 2, 0.5, 2, {"infonce": 1.0, "local": 0.2}),
                rt.CurriculumStage("b", 4, 0.2, 3, None),
            ]
        )
        config = small_config(batch_size=64, mine_every=2, mining_strategy="mixed")
    else:
        kwargs["temperature_scheduler"] = rt.TemperatureScheduler(
            rt.AnnealingSchedule.cosine(0.5, 0.1, 6)
        )
    return Trainer(n, edges, config, features=features, **kwargs)


@pytest.mark.parametrize(
    "mode",
    [
        "table",
        "adapter",
        pytest.param("mining", marks=needs_miner),
    ],
)
def test_save_load_resumes_bit_identically(sbm, tmp_path, mode):
    n, edges, _ = sbm
    features = np.random.default_rng(1).standard_normal((n, 10)) if mode == "adapter" else None
    mining = mode == "mining"
    straight = checkpoint_setup(n, edges, features, mining)
    straight.fit(6, progress=False)
    first = checkpoint_setup(n, edges, features, mining)
    first.fit(3, progress=False)
    path = tmp_path / "checkpoint.npz"
    first.save(path)
    resumed = Trainer.load(path)
    assert resumed.epoch == 3
    resumed.fit(3, progress=False)
    assert np.array_equal(resumed.params, straight.params)
    assert [m.loss for m in resumed.history] == [m.loss for m in straight.history]
    a, b = resumed.optimizer.state_dict(), straight.optimizer.state_dict()
    assert a["step"] == b["step"]
    for x, y in zip(a["state"], b["state"]):
        assert all(np.array_equal(x[key], y[key]) for key in x)
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state


def test_checkpoint_is_not_pickle(sbm, tmp_path):
    n, edges, _ = sbm
    trainer = Trainer(n, edges, small_config())
    trainer.save(tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        assert "params" in archive.files
    (tmp_path / "other.npz").write_bytes(b"")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a ruvector-training checkpoint"):
        Trainer.load(tmp_path / "other.npz")


@needs_miner
def test_curriculum_changes_negatives_and_temperature(sbm):
    n, edges, _ = sbm
    curriculum = rt.CurriculumScheduler(
        [
            rt.CurriculumStage("easy", 1, 0.5, 1),
            rt.CurriculumStage("medium", 1, 0.3, 2),
            rt.CurriculumStage("hard", 1, 0.1, 4),
        ]
    )
    trainer = Trainer(n, edges, small_config(), curriculum=curriculum)
    seen = []
    for _ in range(3):
        metrics = trainer.train_epoch()
        seen.append((metrics.stage, metrics.temperature, metrics.num_negatives))
        assert trainer.negatives.shape == (n, metrics.num_negatives)
        assert trainer.loss_fn.temperature == metrics.temperature
    assert seen == [("easy", 0.5, 1), ("medium", 0.3, 2), ("hard", 0.1, 4)]


@needs_miner
def test_curriculum_threshold_bounds_the_mined_negatives(sbm):
    """A stage's difficulty_threshold is the largest cosine similarity to the anchor a mined
    negative may have; a new threshold re-mines even when K and mine_every would not."""
    n, edges, _ = sbm
    curriculum = rt.CurriculumScheduler(
        [
            rt.CurriculumStage("warm", 3, 0.5, 3, difficulty_threshold=1.0),
            rt.CurriculumStage("easy", 1, 0.5, 3, difficulty_threshold=0.1),
            rt.CurriculumStage("hard", 1, 0.5, 3, difficulty_threshold=0.9),
        ]
    )
    config = small_config(mining_strategy="hardest", mine_every=100)
    trainer = Trainer(n, edges, config, curriculum=curriculum)
    hardest = {}
    for _ in range(5):
        z = trainer.embeddings()
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
        metrics = trainer.train_epoch()
        threshold = curriculum.stages[["warm", "easy", "hard"].index(metrics.stage)]
        assert trainer.negatives_threshold == threshold.difficulty_threshold
        anchors = np.flatnonzero(trainer.negatives[:, 0] >= 0)
        similarities = [z[a] @ z[b] for a in anchors for b in trainer.negatives[a] if b >= 0]
        assert max(similarities) <= threshold.difficulty_threshold + 1e-6
        hardest[metrics.stage] = max(similarities)
    assert hardest["hard"] > 0.1, "the hard stage mines negatives the easy stage excludes"


@needs_miner
def test_mined_negatives_are_not_neighbours(sbm):
    n, edges, _ = sbm
    trainer = Trainer(n, edges, small_config(num_negatives=5, mining_strategy="hardest"))
    trainer.fit(2, progress=False)
    graph = trainer.graph
    for node in range(n):
        row = trainer.negatives[node]
        row = row[row >= 0]
        assert node not in row
        assert not set(row.tolist()) & set(graph.neighbors(node).tolist())
        assert len(set(row.tolist())) == len(row)


def test_callbacks_evaluate_and_stop_early(sbm):
    n, edges, _ = sbm
    trainer = Trainer(n, edges, small_config(epochs=50))
    calls = []
    evaluation = Evaluation(lambda z: calls.append(z.shape) or 0.5, every=2, name="score")
    stopper = EarlyStopping(monitor="score", mode="max", patience=3)
    history = trainer.fit(callbacks=[evaluation, stopper], progress=False)
    # score is constant: best at epoch 2, three more evaluations (4, 6, 8) without improvement.
    assert len(history) == 8 and stopper.stopped_epoch == 8 and stopper.best_epoch == 2
    assert calls == [(n, 16)] * 4
    assert [m.extra.get("score") for m in history] == [None, 0.5] * 4


def test_progress_bar_runs(sbm, capsys):
    pytest.importorskip("tqdm")
    n, edges, _ = sbm
    Trainer(n, edges, small_config()).fit(2, progress=True)
    assert "training" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dim": 0}, ValueError, "dim"),
        ({"batch_size": 1}, ValueError, "batch_size"),
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"optimizer": "lamb"}, ValueError, "optimizer"),
        ({"mining_strategy": "best"}, ValueError, "mining_strategy"),
        ({"dtype": "float16"}, ValueError, "dtype"),
        ({"symmetric": 1}, TypeError, "symmetric"),
        ({"loss_weights": 1.0}, TypeError, "loss_weights"),
    ],
)
def test_config_rejects_bad_values(kwargs, error, match):
    with pytest.raises(error, match=f"^{match}"):
        TrainerConfig(**kwargs)


def test_trainer_rejects_bad_input(sbm):
    n, edges, _ = sbm
    with pytest.raises(ValueError, match="^edges: the graph has no edges"):
        Trainer(3, [[1, 1]])
    with pytest.raises(ValueError, match="^edges: node index 5 in row 0 is out of range"):
        Trainer(3, [[0, 5]])
    with pytest.raises(ValueError, match=r"^features: expected shape \(160, F\)"):
        Trainer(n, edges, features=np.zeros((5, 3)))
    with pytest.raises(TypeError, match="^features"):
        Trainer(n, edges, features=np.zeros((n, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="^curriculum"):
        Trainer(n, edges, curriculum="easy")
    with pytest.raises(TypeError, match="^loss_weight_scheduler"):
        Trainer(n, edges, loss_weight_scheduler=rt.LossWeightScheduler(1.0, 0.5, 3))
    with pytest.raises(TypeError, match=r"^callbacks\[0\]"):
        Trainer(n, edges, small_config()).fit(1, callbacks=[3], progress=False)
