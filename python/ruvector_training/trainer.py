"""The training loop: contrastive node embeddings (a free embedding table, or a linear adapter over
fixed node features) learned from a graph's structure, with NumPy parameters and the Rust losses,
miners and optimizers."""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from ruvector_training import _core
from ruvector_training._checks import check_int
from ruvector_training.checkpoint import (
    load_checkpoint,
    optimizer_from_checkpoint,
    optimizer_to_checkpoint,
    save_checkpoint,
)
from ruvector_training.graph import Graph
from ruvector_training.multi_objective import LossWeights, MultiObjectiveLoss
from ruvector_training.schedulers import (
    CurriculumScheduler,
    LossWeightScheduler,
    TemperatureScheduler,
)
from ruvector_training.trainer_config import TrainerConfig
from ruvector_training.training_metrics import TrainingMetrics

#: Version of the checkpoint layout written by :meth:`Trainer.save`.
CHECKPOINT_FORMAT = 1
_SCHEDULERS = {
    "curriculum": CurriculumScheduler,
    "temperature_scheduler": TemperatureScheduler,
    "loss_weight_scheduler": LossWeightScheduler,
}


class Trainer:
    """Trains node embeddings contrastively on a graph.

    Each epoch, every node with an edge is an anchor once (in shuffled batches of
    ``config.batch_size``). Its positive is a random-walk co-occurrence (see
    :attr:`TrainerConfig.window`); the other positives of its batch are its negatives
    (in-batch), plus, when ``num_negatives > 0``, hard negatives re-mined from the current
    embeddings by :class:`~ruvector_training.HardNegativeMiner` (never the anchor, a graph
    neighbour of it or its positive; slots the miner leaves empty get uniformly drawn nodes).
    The loss is InfoNCE plus, when weighted above 0,
    :class:`~ruvector_training.LocalContrastiveLoss` over the graph's edges and
    :class:`~ruvector_training.SpectralRegularization`, combined by
    :class:`~ruvector_training.MultiObjectiveLoss`; the optimizer steps after each batch.

    The model is either an embedding table ``(num_nodes, dim)`` (no ``features``) or a linear
    adapter ``W`` ``(F, dim)`` with embeddings ``features @ W``.

    Schedules (all optional, stepped once per epoch) override the config: the temperature comes
    from ``temperature_scheduler``, else the curriculum stage, else ``config.temperature``; the
    number of mined negatives from the curriculum stage, else ``config.num_negatives``; the loss
    weights from ``loss_weight_scheduler`` (which must schedule :class:`LossWeights`), else the
    stage's weights when it has some, else ``config.loss_weights``. A curriculum stage's
    ``difficulty_threshold`` bounds the mined negatives: a negative's difficulty is its
    similarity to the anchor (``config.similarity``), and only negatives with difficulty
    ``<= threshold`` are mined (the miner's ``max_similarity``; what the stage's
    ``should_include_sample`` accepts), so early stages skip the hardest, most likely false,
    negatives. Negatives are re-mined when the threshold changes.

    Args:
        num_nodes: number of nodes (>= 2).
        edges: ``(E, 2)`` integer array-like of undirected edges (duplicates, both directions
            and self-loops are collapsed).
        config: hyper-parameters (default ``TrainerConfig()``).
        features: optional ``(num_nodes, F)`` float array: train a linear adapter over it.
        curriculum, temperature_scheduler, loss_weight_scheduler: optional schedules.

    Raises:
        TypeError / ValueError: bad arguments (the message names the argument), or a graph
            without edges.
    """

    def __init__(
        self,
        num_nodes: int,
        edges,
        config: TrainerConfig | None = None,
        *,
        features: np.ndarray | None = None,
        curriculum: CurriculumScheduler | None = None,
        temperature_scheduler: TemperatureScheduler | None = None,
        loss_weight_scheduler: LossWeightScheduler | None = None,
    ) -> None:
        num_nodes = check_int("num_nodes", num_nodes, minimum=2)
        self.config = TrainerConfig() if config is None else replace(config)
        if not isinstance(self.config, TrainerConfig):
            raise TypeError(f"config: expected TrainerConfig, got {type(config).__name__}")
        self.graph = Graph(num_nodes, edges)
        if self.graph.num_edges == 0:
            raise ValueError("edges: the graph has no edges (self-loops do not count)")
        self._anchors = self.graph.non_isolated()
        self.curriculum = _check_type("curriculum", curriculum, CurriculumScheduler)
        self.temperature_scheduler = _check_type(
            "temperature_scheduler", temperature_scheduler, TemperatureScheduler
        )
        self.loss_weight_scheduler = _check_type(
            "loss_weight_scheduler", loss_weight_scheduler, LossWeightScheduler
        )
        if loss_weight_scheduler is not None and not isinstance(
            loss_weight_scheduler.get_weights(), LossWeights
        ):
            raise TypeError("loss_weight_scheduler: expected one that schedules LossWeights")
        dtype = np.dtype(self.config.dtype)
        self.rng = np.random.default_rng(self.config.seed)
        if features is None:
            self.features = None
            shape, scale = (num_nodes, self.config.dim), self.config.init_scale
        else:
            self.features = _check_features(features, num_nodes, dtype)
            shape = (self.features.shape[1], self.config.dim)
            scale = self.config.init_scale / np.sqrt(shape[0])
        self.params = (self.rng.standard_normal(shape) * scale).astype(dtype)
        self.optimizer = _make_optimizer(self.config, self.params)
        self.loss_fn = _core.InfoNCELoss(
            temperature=self.config.temperature,
            similarity=self.config.similarity,
            symmetric=self.config.symmetric,
        )
        self.local_loss = _core.LocalContrastiveLoss()
        self.spectral_loss = _core.SpectralRegularization(
            lam=1.0, normalized=self.config.spectral_normalized
        )
        self.objective = MultiObjectiveLoss(self.config.loss_weights)
        self.epoch = 0
        self.history: list[TrainingMetrics] = []
        #: ``(num_nodes, K)`` int64 negatives of the last mining (-1 rows for non-anchors).
        self.negatives: np.ndarray | None = None
        #: The difficulty threshold (``max_similarity``) :attr:`negatives` were mined with.
        self.negatives_threshold: float | None = None
        self._fit_end: int | None = None

    # ----------------------------------------------------------------------------- model
    def embeddings(self) -> np.ndarray:
        """The current ``(num_nodes, dim)`` embeddings (a copy for a table)."""
        if self.features is None:
            return self.params.copy()
        return self.features @ self.params

    def _forward(self) -> np.ndarray:
        return self.params if self.features is None else self.features @ self.params

    def _backward(self, grad_embeddings: np.ndarray) -> np.ndarray:
        if self.features is None:
            return grad_embeddings
        return self.features.T @ grad_embeddings

    # -------------------------------------------------------------------------- schedules
    def current_settings(self) -> tuple[float, int, LossWeights, str | None]:
        """``(temperature, num_negatives, loss_weights, stage_name)`` the next epoch uses."""
        stage = None if self.curriculum is None else self.curriculum.current_stage()
        if self.temperature_scheduler is not None:
            temperature = self.temperature_scheduler.get_temperature()
        elif stage is not None:
            temperature = stage.temperature
        else:
            temperature = self.config.temperature
        negatives = self.config.num_negatives if stage is None else stage.num_negatives
        if self.loss_weight_scheduler is not None:
            weights = self.loss_weight_scheduler.get_weights()
        elif stage is not None and stage.loss_weights is not None:
            weights = stage.loss_weights
        else:
            weights = self.config.loss_weights
        return temperature, negatives, weights, None if stage is None else stage.name

    def difficulty_threshold(self) -> float | None:
        """The current curriculum stage's ``difficulty_threshold`` (the largest similarity to
        the anchor a mined negative may have), or None without a curriculum."""
        if self.curriculum is None:
            return None
        return float(self.curriculum.current_stage().difficulty_threshold)

    def _step_schedules(self) -> None:
        for name in _SCHEDULERS:
            scheduler = getattr(self, name)
            if scheduler is not None:
                scheduler.step()

    # ------------------------------------------------------------------------------ epoch
    @property
    def is_last_epoch(self) -> bool:
        """Whether the epoch just finished is the last one of the running :meth:`fit`."""
        return self._fit_end is not None and self.epoch >= self._fit_end

    def train_epoch(self) -> TrainingMetrics:
        """Runs one epoch and returns its metrics (also appended to :attr:`history`)."""
        start = time.perf_counter()
        temperature, num_negatives, weights, stage = self.current_settings()
        self.loss_fn.temperature = temperature
        self.objective.weights = weights
        self.optimizer.lr = self.config.lr_at(self.epoch)
        order = self.rng.permutation(self._anchors)
        positives = self.graph.window_positives(order, self.config.window, self.rng)
        threshold = self.difficulty_threshold()
        if num_negatives == 0:
            self.negatives = self.negatives_threshold = None
        elif (
            self.negatives is None
            or self.negatives.shape[1] != num_negatives
            or self.negatives_threshold != threshold
            or (self.epoch % self.config.mine_every == 0)
        ):
            self.negatives = self._mine(order, positives, num_negatives, threshold)
            self.negatives_threshold = threshold
        batches = max(1, -(-len(order) // self.config.batch_size))
        totals: dict[str, float] = {}
        total_loss = 0.0
        for anchors, pos in zip(np.array_split(order, batches), np.array_split(positives, batches)):
            loss, parts = self._step(anchors, pos, weights)
            total_loss += loss
            for name, value in parts.items():
                totals[name] = totals.get(name, 0.0) + value
        self._step_schedules()
        self.epoch += 1
        metrics = TrainingMetrics(
            epoch=self.epoch,
            loss=total_loss / batches,
            components={name: value / batches for name, value in totals.items()},
            temperature=float(temperature),
            num_negatives=int(num_negatives),
            lr=float(self.optimizer.lr),
            seconds=time.perf_counter() - start,
            stage=stage,
        )
        self.history.append(metrics)
        return metrics

    def _step(
        self, anchors: np.ndarray, positives: np.ndarray, weights: LossWeights
    ) -> tuple[float, dict[str, float]]:
        """One optimizer step on one batch; returns the weighted loss and the components."""
        z = self._forward()
        negatives = None
        if self.negatives is not None:
            negatives = self.negatives[anchors]
            padded = negatives < 0
            if padded.any():
                fill = self.rng.integers(0, self.graph.num_nodes, size=int(padded.sum()))
                negatives = negatives.copy()
                negatives[padded] = fill
        grad_info = np.zeros_like(z)
        if negatives is None:
            info, (ga, gp, _) = self.loss_fn(z[anchors], z[positives])
        else:
            info, (ga, gp, gn) = self.loss_fn(z[anchors], z[positives], z[negatives], in_batch=True)
            np.add.at(grad_info, negatives.ravel(), gn.reshape(-1, z.shape[1]))
        grad_info[anchors] += ga
        np.add.at(grad_info, positives, gp)
        components = {"infonce": float(info)}
        grads = {"infonce": grad_info}
        edges = self.graph.edges
        if weights.local > 0:
            value, (grad, _, _) = self.local_loss(z, edges)
            components["local"], grads["local"] = float(value), grad
        if weights.spectral > 0:
            value, (grad, _, _) = self.spectral_loss(z, edges)
            components["spectral"], grads["spectral"] = float(value), grad
        total, (multipliers, _) = self.objective(components)
        grad_z = grad_info
        if multipliers.infonce != 1.0:
            grad_z *= multipliers.infonce
        for name in ("local", "spectral"):
            if name in grads:
                grad_z += grads[name] * getattr(multipliers, name)
        self.optimizer.step([self._backward(grad_z)])
        return float(total), components

    def _mine(
        self, anchors: np.ndarray, positives: np.ndarray, k: int, max_similarity: float | None
    ) -> np.ndarray:
        """Hard negatives ``(num_nodes, k)`` for ``anchors`` from the current embeddings; the
        anchor, its neighbours, its positive and nodes more similar to the anchor than
        ``max_similarity`` are excluded; -1 where none qualify."""
        z = self._forward()
        graph = self.graph
        exclude = [
            [a, p, *graph.indices[graph.indptr[a] : graph.indptr[a + 1]].tolist()]
            for a, p in zip(anchors.tolist(), positives.tolist())
        ]
        miner = _core.HardNegativeMiner(
            self.config.mining_strategy,
            k,
            similarity=self.config.similarity,
            max_similarity=max_similarity,
            seed=int(self.rng.integers(2**63)),
        )
        mined = miner.mine(z[anchors], z, positives=z[positives], exclude=exclude)
        negatives = np.full((graph.num_nodes, k), -1, dtype=np.int64)
        negatives[anchors] = mined
        return negatives

    # -------------------------------------------------------------------------------- fit
    def fit(self, epochs: int | None = None, callbacks=(), progress: bool = True):
        """Runs ``epochs`` more epochs (default: until ``config.epochs`` epochs are done).

        Args:
            epochs: how many epochs to run now (>= 0).
            callbacks: callables ``callback(trainer, metrics) -> bool | None`` run after each
                epoch, in order (see :mod:`ruvector_training.callbacks`); True stops training.
            progress: report progress on stderr: a tqdm bar when stderr is a terminal (or in
                a notebook); otherwise (logs, pipes, CI) a plain line every tenth of the epochs
                and at the end, without carriage returns (see ``_LineProgress``).

        Returns:
            The list of this call's :class:`TrainingMetrics`.
        """
        if epochs is None:
            epochs = max(self.config.epochs - self.epoch, 0)
        epochs = check_int("epochs", epochs)
        callbacks = list(callbacks)
        for i, callback in enumerate(callbacks):
            if not callable(callback):
                raise TypeError(f"callbacks[{i}]: expected a callable")
        bar = _progress_bar(epochs) if progress and epochs else None
        self._fit_end = self.epoch + epochs
        results = []
        shown: dict[str, str] = {}
        try:
            for _ in range(epochs):
                metrics = self.train_epoch()
                results.append(metrics)
                stop = False
                for callback in callbacks:
                    stop = bool(callback(self, metrics)) or stop
                if bar is not None:
                    shown.update(loss=f"{metrics.loss:.4f}", **_short(metrics.extra))
                    bar.set_postfix(shown)
                    bar.update(1)
                if stop:
                    break
        finally:
            self._fit_end = None
            if bar is not None:
                bar.close()
        return results

    # ------------------------------------------------------------------------- checkpoint
    def save(self, path) -> None:
        """Writes everything needed to resume bit-identically to ``path`` (one ``.npz``
        archive with a JSON document, no pickle): config, graph, features, parameters,
        optimizer state, schedules, the random generator's state, mined negatives and the
        history. Callbacks are not saved."""
        opt_scalars, opt_arrays = optimizer_to_checkpoint(self.optimizer.state_dict(), "opt/")
        arrays = {"params": self.params, "edges": self.graph.edges, **opt_arrays}
        if self.features is not None:
            arrays["features"] = self.features
        if self.negatives is not None:
            arrays["negatives"] = self.negatives
        state = {
            "format": CHECKPOINT_FORMAT,
            "num_nodes": self.graph.num_nodes,
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "rng": self.rng.bit_generator.state,
            "optimizer": opt_scalars,
            "objective_weights": self.objective.weights.__dict__,
            "negatives_threshold": self.negatives_threshold,
            "history": [m.to_dict() for m in self.history],
            "schedulers": {
                name: getattr(self, name).state_dict()
                for name in _SCHEDULERS
                if getattr(self, name) is not None
            },
        }
        save_checkpoint(path, arrays, state)

    @classmethod
    def load(cls, path) -> Trainer:
        """A trainer in the state :meth:`save` wrote to ``path``.

        Raises:
            ValueError: ``path`` is not a trainer checkpoint of a known format.
        """
        arrays, state = load_checkpoint(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"path: unknown checkpoint format {state.get('format')!r}")
        schedulers = {
            name: _SCHEDULERS[name].from_state_dict(value)
            for name, value in state["schedulers"].items()
        }
        trainer = cls(
            state["num_nodes"],
            arrays["edges"],
            TrainerConfig(**state["config"]),
            features=arrays.get("features"),
            **schedulers,
        )
        trainer.params[...] = arrays["params"]
        trainer.optimizer.load_state_dict(
            optimizer_from_checkpoint(state["optimizer"], arrays, "opt/")
        )
        trainer.rng.bit_generator.state = state["rng"]
        trainer.epoch = state["epoch"]
        trainer.objective.weights = LossWeights(**state["objective_weights"])
        trainer.negatives = arrays.get("negatives")
        trainer.negatives_threshold = state.get("negatives_threshold")
        trainer.history = [TrainingMetrics(**m) for m in state["history"]]
        return trainer

    def __repr__(self) -> str:
        model = "table" if self.features is None else f"adapter({self.features.shape[1]})"
        return f"Trainer({self.graph!r}, model={model}, dim={self.config.dim}, epoch={self.epoch})"


def _check_type(name: str, value, kind):
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{name}: expected {kind.__name__} or None, got {type(value).__name__}")
    return value


def _check_features(features, num_nodes: int, dtype: np.dtype) -> np.ndarray:
    if not isinstance(features, np.ndarray):
        raise TypeError(f"features: expected a NumPy array, got {type(features).__name__}")
    if not np.issubdtype(features.dtype, np.floating):
        raise TypeError(f"features: expected a float array, got dtype {features.dtype}")
    if features.ndim != 2 or features.shape[0] != num_nodes or features.shape[1] == 0:
        raise ValueError(
            f"features: expected shape ({num_nodes}, F) with F >= 1, got {features.shape}"
        )
    if not np.isfinite(features).all():
        raise ValueError("features: contains NaN or infinity")
    return np.ascontiguousarray(features, dtype=dtype)


def _make_optimizer(config: TrainerConfig, params: np.ndarray):
    common = {"lr": config.lr, "weight_decay": config.weight_decay}
    common["max_grad_norm"] = config.max_grad_norm
    if config.optimizer == "adamw":
        return _core.AdamW([params], **common)
    if config.optimizer == "adam":
        return _core.Adam([params], **common)
    return _core.SGD([params], momentum=0.9, **common)


def _short(extra: dict[str, float]) -> dict[str, str]:
    return {key: f"{value:.4f}" for key, value in extra.items()}


class _LineProgress:
    """Sparse plain-text progress for streams that are not terminals: one line
    ``training: epoch E/T, loss ... (S s)`` every ``ceil(total / lines)`` updates and on
    :meth:`close` if the last update was not reported (early stop), never a carriage return.
    Mirrors the part of tqdm's interface :meth:`Trainer.fit` uses.

    Args:
        total: the number of updates expected (> 0).
        stream: a text stream (default: ``sys.stderr`` at each write).
        lines: about how many lines to print.
    """

    def __init__(self, total: int, stream=None, lines: int = 10) -> None:
        self.total = total
        self.stream = stream
        self.every = max(1, -(-total // lines))
        self.count = 0
        self.postfix: dict[str, str] = {}
        self._reported = 0
        self._start = time.perf_counter()

    def set_postfix(self, values: dict[str, str]) -> None:
        """The ``name value`` pairs shown on the next line."""
        self.postfix = dict(values)

    def update(self, n: int = 1) -> None:
        """Counts ``n`` more updates; prints a line at every ``every``-th and at the last."""
        self.count += n
        if self.count % self.every == 0 or self.count >= self.total:
            self._write()

    def close(self) -> None:
        """Prints the final count if it was not printed yet."""
        if self.count and self._reported != self.count:
            self._write()

    def _write(self) -> None:
        self._reported = self.count
        shown = "".join(f", {key} {value}" for key, value in self.postfix.items())
        seconds = time.perf_counter() - self._start
        stream = sys.stderr if self.stream is None else self.stream
        print(f"training: epoch {self.count}/{self.total}{shown} ({seconds:.1f} s)", file=stream)
        stream.flush()


def _progress_bar(total: int):
    """A tqdm bar on a terminal or in a notebook, else a :class:`_LineProgress`."""
    from tqdm.autonotebook import tqdm as auto_tqdm
    from tqdm.std import tqdm as std_tqdm

    isatty = getattr(sys.stderr, "isatty", None)
    if auto_tqdm is not std_tqdm or (isatty is not None and isatty()):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc="training", unit="epoch", leave=False)
    return _LineProgress(total)
