"""Warm-up of loss weights: linear interpolation from initial to target weights, then constant."""

from __future__ import annotations

from dataclasses import asdict
from typing import Union

from ruvector_training._checks import check_float, check_int
from ruvector_training.multi_objective import COMPONENTS, LossWeights
from ruvector_training.schedulers.base import Scheduler, nested

WeightsLike = Union[LossWeights, float]


class LossWeightScheduler(Scheduler):
    """Interpolates loss weights linearly per epoch: at epoch ``e`` the weights are
    ``initial + (target - initial) * min(e / warmup_epochs, 1)`` (each component of a
    :class:`LossWeights`, or a single float), so they equal ``target`` from epoch
    ``warmup_epochs`` on (at once when it is 0).

    Typical use, once per epoch::

        objective.weights = scheduler.step()   # this epoch's weights, then advance

    Args:
        initial: the weights at epoch 0: a LossWeights, or a finite number.
        target: the weights after the warm-up, of the same kind as ``initial``.
        warmup_epochs: length of the warm-up, an integer >= 0.

    Raises:
        TypeError: ``initial`` and ``target`` are not both LossWeights or both numbers.
        ValueError: a non-finite number or a negative ``warmup_epochs``.
    """

    _CONFIG_KEYS = ("initial", "target", "warmup_epochs")
    _LEGACY_COUNTER = "epoch"

    def __init__(self, initial: WeightsLike, target: WeightsLike, warmup_epochs: int) -> None:
        if isinstance(initial, LossWeights) or isinstance(target, LossWeights):
            for name, value in (("initial", initial), ("target", target)):
                if not isinstance(value, LossWeights):
                    raise TypeError(
                        f"{name}: expected LossWeights like the other end, "
                        f"got {type(value).__name__}"
                    )
            self._initial = LossWeights(**asdict(initial))
            self._target = LossWeights(**asdict(target))
        else:
            self._initial = check_float("initial", initial)
            self._target = check_float("target", target)
        self._warmup = check_int("warmup_epochs", warmup_epochs)
        self._step_count = 0

    @property
    def initial(self) -> WeightsLike:
        """The weights at epoch 0."""
        return self._copy(self._initial)

    @property
    def target(self) -> WeightsLike:
        """The weights after the warm-up."""
        return self._copy(self._target)

    @property
    def warmup_epochs(self) -> int:
        """Length of the warm-up in epochs."""
        return self._warmup

    def progress(self) -> float:
        """``min(step_count / warmup_epochs, 1)`` (1 when ``warmup_epochs`` is 0)."""
        if self._step_count >= self._warmup:
            return 1.0
        return self._step_count / self._warmup

    def get_weights(self) -> WeightsLike:
        """The weights at the current epoch (a new LossWeights, or a float)."""
        p = self.progress()
        if p == 1.0:
            return self._copy(self._target)
        if isinstance(self._initial, LossWeights):
            return LossWeights(
                **{
                    name: _lerp(getattr(self._initial, name), getattr(self._target, name), p)
                    for name in COMPONENTS
                }
            )
        return _lerp(self._initial, self._target, p)

    def step(self) -> WeightsLike:
        """Returns the current weights, then advances one epoch."""
        weights = self.get_weights()
        self._step_count += 1
        return weights

    def _config(self) -> dict:
        return {
            "initial": _to_plain(self._initial),
            "target": _to_plain(self._target),
            "warmup_epochs": self._warmup,
        }

    @classmethod
    def _from_config(cls, state: dict) -> LossWeightScheduler:
        ends = [nested(key, _from_plain, state[key]) for key in ("initial", "target")]
        return cls(*ends, check_int("state_dict['warmup_epochs']", state["warmup_epochs"]))

    @staticmethod
    def _copy(weights: WeightsLike) -> WeightsLike:
        return LossWeights(**asdict(weights)) if isinstance(weights, LossWeights) else weights

    def __repr__(self) -> str:
        return (
            f"LossWeightScheduler(initial={self._initial!r}, target={self._target!r}, "
            f"warmup_epochs={self._warmup}, step_count={self._step_count})"
        )


def _lerp(start: float, end: float, p: float) -> float:
    """``start + (end - start) * p``."""
    return start + (end - start) * p


def _to_plain(weights: WeightsLike) -> dict | float:
    """A LossWeights as a dict of floats; a float as itself."""
    return asdict(weights) if isinstance(weights, LossWeights) else weights


def _from_plain(value) -> WeightsLike:
    """Inverse of :func:`_to_plain` (a dict must hold only LossWeights fields)."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"unknown loss components {unknown}; expected {COMPONENTS}")
        return LossWeights(**value)
    return value
