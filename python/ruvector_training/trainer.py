"""The training loop: contrastive node embeddings (a free embedding table, or a linear adapter over
fixed node features) learned from a graph's structure, with NumPy parameters and the Rust losses,
miners and optimizers."""

from __future__ import annotations

import math
import numbers
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import NoReturn

import numpy as np

from ruvector_training import _core
from ruvector_training._checks import check_float, check_int
from ruvector_training.checkpoint import (
    load_checkpoint,
    optimizer_from_checkpoint,
    optimizer_to_checkpoint,
    save_checkpoint,
)
from ruvector_training.graph import Graph, non_isolated, window_positives
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
#: Keys of the checkpoint's JSON document (``epoch_progress`` is optional: older files lack it).
_STATE_KEYS = (
    "format",
    "num_nodes",
    "config",
    "epoch",
    "rng",
    "optimizer",
    "objective_weights",
    "negatives_threshold",
    "history",
    "schedulers",
)
_SCHEDULERS = {
    "curriculum": CurriculumScheduler,
    "temperature_scheduler": TemperatureScheduler,
    "loss_weight_scheduler": LossWeightScheduler,
}


class TrainingDivergedError(FloatingPointError):
    """Training produced a NaN or infinite loss, gradient or parameter (typically a learning
    rate far too high). The message says where and what; the trainer stays at the last batch
    boundary (see :meth:`Trainer.train_epoch`)."""


@dataclass
class _EpochProgress:
    """Where a started epoch stands: its fixed draws and settings, and what the applied
    batches have added up (saved in checkpoints so a resumed epoch continues exactly)."""

    order: np.ndarray
    positives: np.ndarray
    batches: int
    temperature: float
    num_negatives: int
    weights: LossWeights
    stage: str | None
    lr: float
    #: ``(batches applied, sum of their losses, sum of each component)``: one tuple, replaced
    #: by a single assignment, so an interrupt never leaves it half updated.
    sums: tuple[int, float, dict[str, float]] = (0, 0.0, {})
    seconds: float = 0.0

    @property
    def batch(self) -> int:
        """Batches whose optimizer step was applied."""
        return self.sums[0]

    @property
    def total_loss(self) -> float:
        return self.sums[1]

    @property
    def totals(self) -> dict[str, float]:
        return self.sums[2]

    def commit(self, loss: float, parts: dict[str, float]) -> None:
        """Counts one applied batch (atomically: one attribute store)."""
        batch, total, totals = self.sums
        totals = dict(totals)
        for name, value in parts.items():
            totals[name] = totals.get(name, 0.0) + value
        self.sums = (batch + 1, total + loss, totals)

    def to_json(self) -> dict:
        """The scalars as JSON (``order`` and ``positives`` are saved as arrays)."""
        return {
            "batches": self.batches,
            "temperature": self.temperature,
            "num_negatives": self.num_negatives,
            "weights": asdict(self.weights),
            "stage": self.stage,
            "lr": self.lr,
            "batch": self.batch,
            "total_loss": self.total_loss,
            "totals": dict(self.totals),
            "seconds": self.seconds,
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

    The trainer holds one :class:`~ruvector_training.Graph`, built once: the walks run over its
    CSR and the local and spectral terms receive it whole, so no edge list crosses into Rust
    per batch. Its rules: duplicate edges add their weights (a walk steps to a neighbour with
    probability proportional to the summed weight; the graph terms count every edge row), and
    self-loops are ignored by walks (the local term counts them, at zero loss).

    Args:
        graph: a :class:`~ruvector_training.Graph` of at least 2 nodes, or the number of nodes
            (>= 2) with ``edges``.
        edges: with a node count, the ``(E, 2)`` integer array-like of undirected edges, built
            into ``Graph(graph, edges)``; must be omitted with a ``Graph``.
        config: hyper-parameters (default ``TrainerConfig()``).
        features: optional ``(num_nodes, F)`` float array: train a linear adapter over it.
        curriculum, temperature_scheduler, loss_weight_scheduler: optional schedules.

    Raises:
        TypeError / ValueError: bad arguments (the message names the argument), or a graph
            without edges.
    """

    def __init__(
        self,
        graph: Graph | int,
        edges=None,
        config: TrainerConfig | None = None,
        *,
        features: np.ndarray | None = None,
        curriculum: CurriculumScheduler | None = None,
        temperature_scheduler: TemperatureScheduler | None = None,
        loss_weight_scheduler: LossWeightScheduler | None = None,
    ) -> None:
        self.graph = _as_graph(graph, edges)
        num_nodes = self.graph.num_nodes
        self.config = TrainerConfig() if config is None else replace(config)
        if not isinstance(self.config, TrainerConfig):
            raise TypeError(f"config: expected TrainerConfig, got {type(config).__name__}")
        self._anchors = non_isolated(self.graph)
        if len(self._anchors) == 0:
            raise ValueError("edges: the graph has no edges (self-loops do not count)")
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
        self._epoch_progress: _EpochProgress | None = None

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
        """Runs one epoch and returns its metrics (also appended to :attr:`history`).

        An epoch interrupted by an exception (``KeyboardInterrupt``, a callback's error inside
        a step, :class:`TrainingDivergedError`, ``MemoryError``...) stops at a batch boundary:
        the batches whose optimizer step was applied are counted, the random generator is
        rewound to the start of the first batch that was not, and :attr:`epoch_position` says
        where the epoch stands. The next :meth:`train_epoch` (or :meth:`fit`), also after a
        :meth:`save` / :meth:`load` round trip, finishes that epoch exactly as an
        uninterrupted run would have (bit for bit).

        Raises:
            TrainingDivergedError: the loss, a gradient or the parameters became NaN/Inf.
        """
        start = time.perf_counter()
        progress = self._epoch_progress
        if progress is None:
            progress = self._begin_epoch()
        self.loss_fn.temperature = progress.temperature
        self.objective.weights = progress.weights
        self.optimizer.lr = progress.lr
        batches = zip(
            np.array_split(progress.order, progress.batches),
            np.array_split(progress.positives, progress.batches),
        )
        try:
            for index, (anchors, positives) in enumerate(batches):
                if index >= progress.batch:
                    self._train_batch(progress, anchors, positives)
            if not _all_finite(self.params):
                raise TrainingDivergedError(
                    f"training diverged in epoch {self.epoch + 1}: the parameters contain "
                    f"NaN or infinity (learning rate {self.optimizer.lr:g}; lower it)"
                )
        finally:
            progress.seconds += time.perf_counter() - start
        with _deferred_interrupts():
            metrics = TrainingMetrics(
                epoch=self.epoch + 1,
                loss=progress.total_loss / progress.batches,
                components={
                    name: value / progress.batches for name, value in progress.totals.items()
                },
                temperature=float(progress.temperature),
                num_negatives=int(progress.num_negatives),
                lr=float(self.optimizer.lr),
                seconds=progress.seconds,
                stage=progress.stage,
            )
            self._epoch_progress = None
            self._step_schedules()
            self.epoch += 1
            self.history.append(metrics)
        return metrics

    @property
    def epoch_position(self) -> tuple[int, int] | None:
        """``(batches done, batches)`` of an epoch that was interrupted, None between epochs."""
        progress = self._epoch_progress
        return None if progress is None else (progress.batch, progress.batches)

    def _begin_epoch(self) -> _EpochProgress:
        """Draws the epoch's settings, order and positives and (re-)mines negatives; on any
        exception the random generator and the negatives are left as they were."""
        rng_state = self.rng.bit_generator.state
        try:
            temperature, num_negatives, weights, stage = self.current_settings()
            order = self.rng.permutation(self._anchors)
            positives = window_positives(self.graph, order, self.config.window, self.rng)
            threshold = self.difficulty_threshold()
            negatives, negatives_threshold = self.negatives, self.negatives_threshold
            if num_negatives == 0:
                negatives = negatives_threshold = None
            elif (
                negatives is None
                or negatives.shape[1] != num_negatives
                or negatives_threshold != threshold
                or (self.epoch % self.config.mine_every == 0)
            ):
                negatives = self._mine(order, positives, num_negatives, threshold)
                negatives_threshold = threshold
            progress = _EpochProgress(
                order=order,
                positives=positives,
                batches=max(1, -(-len(order) // self.config.batch_size)),
                temperature=float(temperature),
                num_negatives=int(num_negatives),
                weights=weights,
                stage=stage,
                lr=float(self.config.lr_at(self.epoch)),
            )
        except BaseException:
            self.rng.bit_generator.state = rng_state
            raise
        with _deferred_interrupts():
            self.negatives, self.negatives_threshold = negatives, negatives_threshold
            self._epoch_progress = progress
        return progress

    def _train_batch(
        self, progress: _EpochProgress, anchors: np.ndarray, positives: np.ndarray
    ) -> None:
        """One optimizer step, counted in ``progress`` exactly when it was applied."""
        rng_state = self.rng.bit_generator.state
        steps = self.optimizer.step_count
        done = progress.batch
        loss = 0.0
        parts: dict[str, float] = {}
        try:
            loss, parts, grad = self._step(anchors, positives, progress.weights)
            try:
                self.optimizer.step([grad])
            except ValueError:
                if self.optimizer.step_count == steps and not np.isfinite(grad).all():
                    raise TrainingDivergedError(
                        f"training diverged in epoch {self.epoch + 1}, batch {done + 1}: the "
                        f"gradient contains NaN or infinity (learning rate "
                        f"{self.optimizer.lr:g}; lower it)"
                    ) from None
                raise
            progress.commit(loss, parts)
        except BaseException:
            with _deferred_interrupts():
                if self.optimizer.step_count == steps:
                    self.rng.bit_generator.state = rng_state
                elif progress.batch == done:
                    progress.commit(loss, parts)
            raise

    def _step(
        self, anchors: np.ndarray, positives: np.ndarray, weights: LossWeights
    ) -> tuple[float, dict[str, float], np.ndarray]:
        """The weighted loss, its components and the parameters' gradient for one batch
        (nothing is modified but the random generator, which fills empty negative slots).

        Raises:
            TrainingDivergedError: the parameters, or the loss, are NaN or infinite.
        """
        z = self._forward()
        try:
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
                info, (ga, gp, gn) = self.loss_fn(
                    z[anchors], z[positives], z[negatives], in_batch=True
                )
                np.add.at(grad_info, negatives.ravel(), gn.reshape(-1, z.shape[1]))
            grad_info[anchors] += ga
            np.add.at(grad_info, positives, gp)
            components = {"infonce": float(info)}
            grads = {"infonce": grad_info}
            if weights.local > 0:
                value, (grad, _, _) = self.local_loss(z, self.graph)
                components["local"], grads["local"] = float(value), grad
            if weights.spectral > 0:
                value, (grad, _, _) = self.spectral_loss(z, self.graph)
                components["spectral"], grads["spectral"] = float(value), grad
        except ValueError:
            if np.isfinite(z).all():
                raise
            raise TrainingDivergedError(
                f"training diverged in epoch {self.epoch + 1}: the parameters contain NaN or "
                f"infinity (learning rate {self.optimizer.lr:g}; lower it)"
            ) from None
        bad = {name: value for name, value in components.items() if not math.isfinite(value)}
        if bad:
            raise TrainingDivergedError(
                f"training diverged in epoch {self.epoch + 1}: the loss is not finite "
                f"({', '.join(f'{k} {v}' for k, v in bad.items())}; learning rate "
                f"{self.optimizer.lr:g}; lower it)"
            )
        total, (multipliers, _) = self.objective(components)
        if not math.isfinite(total):
            raise TrainingDivergedError(
                f"training diverged in epoch {self.epoch + 1}: the weighted loss is {total} "
                f"(learning rate {self.optimizer.lr:g}; lower it)"
            )
        grad_z = grad_info
        if multipliers.infonce != 1.0:
            grad_z *= multipliers.infonce
        for name in ("local", "spectral"):
            if name in grads:
                grad_z += grads[name] * getattr(multipliers, name)
        return float(total), components, self._backward(grad_z)

    def _mine(
        self, anchors: np.ndarray, positives: np.ndarray, k: int, max_similarity: float | None
    ) -> np.ndarray:
        """Hard negatives ``(num_nodes, k)`` for ``anchors`` from the current embeddings; the
        anchor, its neighbours, its positive and nodes more similar to the anchor than
        ``max_similarity`` are excluded; -1 where none qualify."""
        z = self._forward()
        graph = self.graph
        exclude = [
            [a, p, *graph.neighbors(a).tolist()]
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
        optimizer state, schedules, the random generator's state, mined negatives, the history
        and, after an interrupted epoch, the position inside it (:attr:`epoch_position`).
        Callbacks are not saved.

        The file is written atomically: if the save fails (disk full, a file-size limit, an
        interrupt), a previous file at ``path`` is left byte for byte as it was and no
        temporary file remains.

        Raises:
            OSError: the file cannot be written (the previous file, if any, is intact).
        """
        opt_scalars, opt_arrays = optimizer_to_checkpoint(self.optimizer.state_dict(), "opt/")
        arrays = {"params": self.params, "edges": self.graph.edges(), **opt_arrays}
        weights = self.graph.weights()
        if weights is not None:
            arrays["weights"] = weights
        if self.features is not None:
            arrays["features"] = self.features
        if self.negatives is not None:
            arrays["negatives"] = self.negatives
        progress = self._epoch_progress
        if progress is not None:
            arrays["epoch/order"] = progress.order
            arrays["epoch/positives"] = progress.positives
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
            "epoch_progress": None if progress is None else progress.to_json(),
        }
        save_checkpoint(path, arrays, state)

    @classmethod
    def load(cls, path) -> Trainer:
        """A trainer in the state :meth:`save` wrote to ``path``.

        Everything loaded is checked as strictly as constructor arguments: JSON field types,
        array dtypes and shapes against the config and graph, finite parameters, node indices
        in range, and the optimizer state (by the optimizer's ``load_state_dict``).

        Raises:
            ValueError: ``path`` is not a trainer checkpoint of a known format, is damaged
                (truncated, not a zip archive, a single ``.npy``, no JSON document) or holds
                an invalid value; the message names the file and the key.
            OSError: ``path`` cannot be opened.
        """
        arrays, state = load_checkpoint(path)
        return _CheckpointReader(cls, os.fspath(path), arrays, state).trainer()

    def __repr__(self) -> str:
        model = "table" if self.features is None else f"adapter({self.features.shape[1]})"
        return f"Trainer({self.graph!r}, model={model}, dim={self.config.dim}, epoch={self.epoch})"


def _as_graph(graph, edges) -> Graph:
    """The trainer's graph: ``graph`` itself, or ``Graph(graph, edges)`` for a node count."""
    if isinstance(graph, Graph):
        if edges is not None:
            raise TypeError("edges: must be omitted when graph is a Graph (it holds its edges)")
        if graph.num_nodes < 2:
            raise ValueError(f"graph: expected at least 2 nodes, got {graph.num_nodes}")
        return graph
    num_nodes = check_int("num_nodes", graph, minimum=2)
    if edges is None:
        raise TypeError("edges: required when graph is a node count")
    return Graph(num_nodes, np.asarray(edges))


def _all_finite(array: np.ndarray, block: int = 1 << 20) -> bool:
    """Whether every element is finite, checked in blocks of ``block`` elements (no temporary
    as large as the array)."""
    flat = array.reshape(-1)
    return all(np.isfinite(flat[i : i + block]).all() for i in range(0, flat.size, block))


@contextmanager
def _deferred_interrupts():
    """Delays a Ctrl-C (SIGINT) that arrives inside the block to its end, so a few lines of
    bookkeeping are never half done. Only the main thread receives signals; elsewhere (or when
    the handler cannot be swapped) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    if signal.getsignal(signal.SIGINT) is None:  # a handler not set from Python: keep it
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except (ValueError, TypeError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)


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


class _CheckpointReader:
    """Validates a loaded checkpoint and builds the trainer; every problem is one
    ``ValueError("<file>: invalid checkpoint: <key>: <what>")``."""

    def __init__(self, cls, name: str, arrays: dict[str, np.ndarray], state: dict) -> None:
        self.cls, self.name, self.arrays, self.state = cls, name, arrays, state

    def fail(self, key: str, message: str) -> NoReturn:
        raise ValueError(f"{self.name}: invalid checkpoint: {key}: {message}")

    @contextmanager
    def checking(self, key: str | None):
        """Turns a ``TypeError`` / ``ValueError`` / ``KeyError`` of the block into
        :meth:`fail` for ``key`` (None: the message already starts with the key)."""
        try:
            yield
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            message = str(error) if not isinstance(error, KeyError) else f"missing {error}"
            if key is None:
                raise ValueError(f"{self.name}: invalid checkpoint: {message}") from None
            self.fail(key, message)

    def integer(self, key: str, value, minimum: int = 0) -> int:
        with self.checking(None):
            return check_int(key, value, minimum=minimum)

    def real(self, key: str, value, *, finite: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            self.fail(key, f"expected a number, got {type(value).__name__}")
        if finite and not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {value}")
        return float(value)

    def mapping(self, key: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"expected an object, got {type(value).__name__}")
        return value

    def array(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            self.fail(key, "the array is missing")
        return self.arrays[key]

    def index_array(self, key: str, shape: tuple, low: int, high: int) -> np.ndarray:
        """An integer array of ``shape`` (None entries: any length) with values in
        ``[low, high)``, as int64."""
        value = self.array(key)
        if value.dtype.kind not in "iu":
            self.fail(key, f"expected an integer array, got dtype {value.dtype}")
        if value.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(value.shape, shape)
        ):
            wanted = ", ".join("*" if want is None else str(want) for want in shape)
            wanted = f"({wanted},)" if len(shape) == 1 else f"({wanted})"
            self.fail(key, f"expected shape {wanted}, got {value.shape}")
        if value.size and (value.min() < low or value.max() >= high):
            self.fail(key, f"values must be in [{low}, {high})")
        return value.astype(np.int64)

    # --------------------------------------------------------------------------- the file
    def trainer(self) -> Trainer:
        state = self.state
        version = state.get("format")
        if isinstance(version, bool) or version != CHECKPOINT_FORMAT:
            self.fail(
                "format", f"unknown checkpoint format {version!r} (expected {CHECKPOINT_FORMAT})"
            )
        for key in _STATE_KEYS:
            if key not in state:
                self.fail(key, "missing from the JSON document")
        for key in state:
            if key not in _STATE_KEYS and key != "epoch_progress":
                self.fail(key, "unknown key in the JSON document")
        for key in self.arrays:
            if key not in _ARRAY_KEYS and not key.startswith("opt/"):
                self.fail(key, "unknown array in the archive")
        num_nodes = self.integer("num_nodes", state["num_nodes"], minimum=2)
        with self.checking("config"):
            config = TrainerConfig(**self.mapping("config", state["config"]))
        schedulers = {}
        for key, value in self.mapping("schedulers", state["schedulers"]).items():
            if key not in _SCHEDULERS:
                self.fail(f"schedulers[{key!r}]", f"unknown scheduler (known: {list(_SCHEDULERS)})")
            with self.checking(f"schedulers[{key!r}]"):
                schedulers[key] = _SCHEDULERS[key].from_state_dict(value)  # type: ignore[attr-defined]
        with self.checking(None):
            graph = Graph(num_nodes, self.array("edges"), self.arrays.get("weights"))
            trainer = self.cls(
                graph,
                config=config,
                features=self.arrays.get("features"),
                **schedulers,
            )
        self.params(trainer)
        with self.checking("optimizer"):
            trainer.optimizer.load_state_dict(
                optimizer_from_checkpoint(state["optimizer"], self.arrays, "opt/")
            )
        self.rng(trainer, state["rng"])
        trainer.epoch = self.integer("epoch", state["epoch"])
        with self.checking("objective_weights"):
            weights = self.mapping("objective_weights", state["objective_weights"])
            trainer.objective.weights = LossWeights(**weights)
        self.negatives(trainer, state["negatives_threshold"])
        history = state["history"]
        if not isinstance(history, list):
            self.fail("history", f"expected a list, got {type(history).__name__}")
        trainer.history = [self.metrics(f"history[{i}]", m) for i, m in enumerate(history)]
        progress = state.get("epoch_progress")
        if progress is not None:
            trainer._epoch_progress = self.progress(trainer, progress)
        elif "epoch/order" in self.arrays or "epoch/positives" in self.arrays:
            self.fail("epoch/order", "present without an epoch_progress entry")
        return trainer

    def params(self, trainer: Trainer) -> None:
        params = self.array("params")
        if params.dtype != trainer.params.dtype:
            self.fail(
                "params",
                f"expected dtype {trainer.params.dtype} (config dtype), got {params.dtype}",
            )
        if params.shape != trainer.params.shape:
            self.fail("params", f"expected shape {trainer.params.shape}, got {params.shape}")
        if not np.isfinite(params).all():
            self.fail("params", "contains NaN or infinity")
        trainer.params[...] = params

    def rng(self, trainer: Trainer, value) -> None:
        value = self.mapping("rng", value)
        kind = type(trainer.rng.bit_generator).__name__
        if value.get("bit_generator") != kind:
            self.fail("rng", f"expected a {kind} state, got {value.get('bit_generator')!r}")
        with self.checking("rng"):
            trainer.rng.bit_generator.state = value

    def negatives(self, trainer: Trainer, threshold) -> None:
        n = trainer.graph.num_nodes
        if "negatives" not in self.arrays:
            if threshold is not None:
                self.fail("negatives_threshold", "set but the negatives array is missing")
            return
        negatives = self.index_array("negatives", (n, None), -1, n)
        if negatives.shape[1] == 0:
            self.fail("negatives", f"expected shape ({n}, K) with K >= 1, got {negatives.shape}")
        trainer.negatives = negatives
        trainer.negatives_threshold = (
            None if threshold is None else self.real("negatives_threshold", threshold)
        )

    def metrics(self, key: str, value) -> TrainingMetrics:
        value = dict(self.mapping(key, value))
        names = {f.name for f in TrainingMetrics.__dataclass_fields__.values()}
        for name in value:
            if name not in names:
                self.fail(f"{key}[{name!r}]", "unknown field")
        for name in ("epoch", "loss", "components", "temperature", "num_negatives", "lr"):
            if name not in value:
                self.fail(f"{key}[{name!r}]", "missing")
        value["epoch"] = self.integer(f"{key}['epoch']", value["epoch"], minimum=1)
        value["num_negatives"] = self.integer(f"{key}['num_negatives']", value["num_negatives"])
        for name in ("loss", "temperature", "lr", "seconds"):
            if name in value:
                value[name] = self.real(f"{key}[{name!r}]", value[name], finite=False)
        for name in ("components", "extra"):
            if name in value:
                value[name] = self.floats(f"{key}[{name!r}]", value[name])
        stage = value.get("stage")
        if stage is not None and not isinstance(stage, str):
            self.fail(f"{key}['stage']", f"expected a string or null, got {type(stage).__name__}")
        value.setdefault("seconds", 0.0)
        return TrainingMetrics(**value)

    def floats(self, key: str, value) -> dict[str, float]:
        value = self.mapping(key, value)
        for name, number in value.items():
            self.real(f"{key}[{name!r}]", number, finite=False)
        return {name: float(number) for name, number in value.items()}

    def progress(self, trainer: Trainer, value) -> _EpochProgress:
        key = "epoch_progress"
        value = self.mapping(key, value)
        expected = set(_PROGRESS_KEYS)
        if set(value) != expected:
            self.fail(key, f"expected the keys {sorted(expected)}, got {sorted(value)}")
        anchors = trainer._anchors
        n = trainer.graph.num_nodes
        order = self.index_array("epoch/order", (len(anchors),), 0, n)
        if not np.array_equal(np.sort(order), anchors):
            self.fail("epoch/order", "not a permutation of the graph's non-isolated nodes")
        positives = self.index_array("epoch/positives", (len(anchors),), 0, n)
        batches = self.integer(f"{key}['batches']", value["batches"], minimum=1)
        if batches != max(1, -(-len(anchors) // trainer.config.batch_size)):
            self.fail(f"{key}['batches']", f"{batches} does not match the config's batch_size")
        batch = self.integer(f"{key}['batch']", value["batch"])
        if batch > batches:
            self.fail(f"{key}['batch']", f"expected at most {batches}, got {batch}")
        with self.checking(f"{key}['weights']"):
            weights = LossWeights(**self.mapping(f"{key}['weights']", value["weights"]))
        stage = value["stage"]
        if stage is not None and not isinstance(stage, str):
            self.fail(f"{key}['stage']", f"expected a string or null, got {type(stage).__name__}")
        with self.checking(None):
            temperature = check_float(f"{key}['temperature']", value["temperature"], positive=True)
            lr = check_float(f"{key}['lr']", value["lr"])
        num_negatives = self.integer(f"{key}['num_negatives']", value["num_negatives"])
        mined = 0 if trainer.negatives is None else trainer.negatives.shape[1]
        if mined != num_negatives:
            self.fail(
                f"{key}['num_negatives']",
                f"{num_negatives} does not match the negatives array ({mined} per node)",
            )
        return _EpochProgress(
            order=order,
            positives=positives,
            batches=batches,
            temperature=temperature,
            num_negatives=num_negatives,
            weights=weights,
            stage=stage,
            lr=lr,
            sums=(
                batch,
                self.real(f"{key}['total_loss']", value["total_loss"], finite=False),
                self.floats(f"{key}['totals']", value["totals"]),
            ),
            seconds=self.real(f"{key}['seconds']", value["seconds"]),
        )


#: Keys of a checkpoint's ``epoch_progress`` object (what ``_EpochProgress.to_json`` writes).
_PROGRESS_KEYS = (
    "batches",
    "temperature",
    "num_negatives",
    "weights",
    "stage",
    "lr",
    "batch",
    "total_loss",
    "totals",
    "seconds",
)
#: Arrays a checkpoint may hold besides the optimizer's ``opt/<i>/<name>`` buffers.
_ARRAY_KEYS = (
    "params",
    "edges",
    "weights",
    "features",
    "negatives",
    "epoch/order",
    "epoch/positives",
)


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
