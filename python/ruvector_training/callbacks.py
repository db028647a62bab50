"""Callbacks for :meth:`Trainer.fit <ruvector_training.Trainer.fit>`.

A callback is any callable ``callback(trainer, metrics) -> bool | None`` called after each epoch
with that epoch's :class:`~ruvector_training.TrainingMetrics`; returning True stops training
after the epoch. Callbacks run in order, so an :class:`Evaluation` placed before an
:class:`EarlyStopping` can feed it.
"""

from __future__ import annotations

import math

from ruvector_training._checks import check_float, check_int


class Evaluation:
    """Scores the current embeddings every ``every`` epochs and records the scores in
    ``metrics.extra``.

    Args:
        fn: ``fn(embeddings) -> float | dict[str, float]`` with ``embeddings`` the ``(N, dim)``
            array of :meth:`Trainer.embeddings`. A float is recorded under ``name``.
        every: evaluate on epochs divisible by this (and on the last epoch of a fit).
        name: the key for a float result.
    """

    def __init__(self, fn, every: int = 1, name: str = "score") -> None:
        if not callable(fn):
            raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
        self.fn = fn
        self.every = check_int("every", every, minimum=1)
        self.name = name

    def __call__(self, trainer, metrics) -> None:
        if metrics.epoch % self.every and not trainer.is_last_epoch:
            return
        result = self.fn(trainer.embeddings())
        if isinstance(result, dict):
            metrics.extra.update({key: float(value) for key, value in result.items()})
        else:
            metrics.extra[self.name] = float(result)


class EarlyStopping:
    """Stops training when a monitored value has not improved for ``patience`` evaluations.

    Args:
        monitor: ``"loss"`` (the epoch's total loss) or a key of ``metrics.extra`` (epochs
            without that key are skipped, so it works with an :class:`Evaluation` that runs
            every few epochs).
        mode: ``"min"`` or ``"max"``: whether smaller or larger is better.
        patience: how many observed values without improvement are tolerated.
        min_delta: the least change that counts as an improvement (>= 0).

    Attributes:
        best: the best value seen (None before the first).
        best_epoch: the epoch it was seen at.
        stopped_epoch: the epoch training was stopped at (None if it was not).
    """

    def __init__(
        self, monitor: str = "loss", mode: str = "min", patience: int = 10, min_delta: float = 0.0
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.patience = check_int("patience", patience, minimum=1)
        self.min_delta = check_float("min_delta", min_delta)
        if self.min_delta < 0:
            raise ValueError(f"min_delta: expected a number >= 0, got {min_delta}")
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._waited = 0

    def __call__(self, trainer, metrics) -> bool:
        value = metrics.loss if self.monitor == "loss" else metrics.extra.get(self.monitor)
        if value is None or math.isnan(value):
            return False
        sign = 1.0 if self.mode == "max" else -1.0
        if self.best is None or sign * (value - self.best) > self.min_delta:
            self.best, self.best_epoch, self._waited = value, metrics.epoch, 0
            return False
        self._waited += 1
        if self._waited >= self.patience:
            self.stopped_epoch = metrics.epoch
            return True
        return False
