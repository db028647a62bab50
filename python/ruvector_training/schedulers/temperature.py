"""Annealing schedules and the temperature scheduler that follows one.

An :class:`AnnealingSchedule` maps a step count ``t = 0, 1, 2, ...`` to a value; a
:class:`TemperatureScheduler` walks one, step by step, for a loss's ``temperature``.
"""

from __future__ import annotations

import math

from ruvector_training._checks import check_float, check_int
from ruvector_training.schedulers.base import Scheduler, nested

#: The schedule kinds, in the order the docs list them.
KINDS = ("linear", "exponential", "cosine", "step")


class AnnealingSchedule:
    """A value as a function of the step count ``t``; after the last step it stays at the end.

    With ``p = min(t, steps) / steps``:

    - ``"linear"``: ``start + (end - start) * p``.
    - ``"exponential"``: ``start * (end / start) ** p`` (geometric; ``start`` and ``end`` must be
      > 0, so an ``end`` of 0 is rejected rather than producing NaN).
    - ``"cosine"``: ``end + (start - end) * (1 + cos(pi * p)) / 2`` (monotone from ``start`` to
      ``end``).
    - ``"step"``: ``values[min(t // step_size, len(values) - 1)]``.

    Build one with the class methods (``AnnealingSchedule.linear(1.0, 0.1, 10)``) or the plain
    constructor (``AnnealingSchedule("linear", start=1.0, end=0.1, steps=10)``). Values must be
    finite; a schedule is immutable.

    Args:
        kind: one of ``"linear"``, ``"exponential"``, ``"cosine"``, ``"step"``.
        start, end: first and final value (not with ``"step"``).
        steps: number of steps from ``start`` to ``end``, an integer >= 1 (not with ``"step"``).
        values: for ``"step"``: the non-empty sequence of values, each held ``step_size`` steps.
        step_size: for ``"step"``: steps per value, an integer >= 1.

    Raises:
        ValueError: unknown kind, missing or extra arguments, non-finite values, ``steps`` or
            ``step_size`` < 1, an empty ``values``, or a non-positive exponential endpoint.
        TypeError: a non-numeric value or a non-integer count.
    """

    __slots__ = ("_kind", "_start", "_end", "_steps", "_values", "_step_size")

    def __init__(
        self,
        kind: str,
        start: float | None = None,
        end: float | None = None,
        steps: int | None = None,
        *,
        values=None,
        step_size: int | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
        self._kind = kind
        if kind == "step":
            extra = [
                n for n, v in (("start", start), ("end", end), ("steps", steps)) if v is not None
            ]
            if extra:
                raise ValueError(
                    f"{extra[0]}: not used by a 'step' schedule (give values, step_size)"
                )
            if values is None or step_size is None:
                raise ValueError("values: a 'step' schedule needs values and step_size")
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise TypeError(
                    f"values: expected a sequence of numbers, got {type(values).__name__}"
                )
            checked = tuple(check_float(f"values[{i}]", v) for i, v in enumerate(values))
            if not checked:
                raise ValueError("values: expected at least one value, got none")
            self._values = checked
            self._step_size = check_int("step_size", step_size, minimum=1)
            self._start, self._end = checked[0], checked[-1]
            self._steps = self._step_size * (len(checked) - 1)
            return
        if values is not None or step_size is not None:
            name = "values" if values is not None else "step_size"
            raise ValueError(f"{name}: only used by a 'step' schedule, not {kind!r}")
        missing = [n for n, v in (("start", start), ("end", end), ("steps", steps)) if v is None]
        if missing:
            raise ValueError(f"{missing[0]}: a {kind!r} schedule needs start, end and steps")
        self._start = check_float("start", start)
        self._end = check_float("end", end)
        self._steps = check_int("steps", steps, minimum=1)
        self._values = None
        self._step_size = None
        if kind == "exponential":
            for name, value in (("start", self._start), ("end", self._end)):
                if value <= 0.0:
                    raise ValueError(
                        f"{name}: an exponential schedule needs start > 0 and end > 0, got {value}"
                    )

    @classmethod
    def linear(cls, start: float, end: float, steps: int) -> AnnealingSchedule:
        """Straight line from ``start`` to ``end`` over ``steps`` steps."""
        return cls("linear", start, end, steps)

    @classmethod
    def exponential(cls, start: float, end: float, steps: int) -> AnnealingSchedule:
        """Geometric decay (or growth) from ``start`` to ``end`` (both > 0) over ``steps``."""
        return cls("exponential", start, end, steps)

    @classmethod
    def cosine(cls, start: float, end: float, steps: int) -> AnnealingSchedule:
        """Half a cosine from ``start`` to ``end`` over ``steps`` steps (SGDR-style)."""
        return cls("cosine", start, end, steps)

    @classmethod
    def step(cls, values, step_size: int) -> AnnealingSchedule:
        """Piecewise constant: each of ``values`` for ``step_size`` steps, then the last one."""
        return cls("step", values=values, step_size=step_size)

    @property
    def kind(self) -> str:
        """``"linear"``, ``"exponential"``, ``"cosine"`` or ``"step"``."""
        return self._kind

    @property
    def start(self) -> float:
        """The value at step 0."""
        return self._start

    @property
    def end(self) -> float:
        """The value from step :attr:`steps` on."""
        return self._end

    @property
    def steps(self) -> int:
        """The first step at which the value is :attr:`end` (``step_size * (len(values) - 1)``
        for a ``"step"`` schedule)."""
        return self._steps

    @property
    def values(self) -> tuple[float, ...] | None:
        """The values of a ``"step"`` schedule (None for the others)."""
        return self._values

    @property
    def step_size(self) -> int | None:
        """Steps per value of a ``"step"`` schedule (None for the others)."""
        return self._step_size

    def value(self, t: int) -> float:
        """The value at step ``t`` (an integer >= 0)."""
        t = check_int("t", t)
        if self._kind == "step":
            return self._values[min(t // self._step_size, len(self._values) - 1)]
        if t >= self._steps:
            return self._end
        p = t / self._steps
        if self._kind == "linear":
            return self._start + (self._end - self._start) * p
        if self._kind == "exponential":
            return self._start * (self._end / self._start) ** p
        return self._end + (self._start - self._end) * (1.0 + math.cos(math.pi * p)) / 2.0

    def to_dict(self) -> dict:
        """The schedule as a plain JSON-able dict (rebuild with :meth:`from_dict`)."""
        if self._kind == "step":
            return {"kind": "step", "values": list(self._values), "step_size": self._step_size}
        return {"kind": self._kind, "start": self._start, "end": self._end, "steps": self._steps}

    @classmethod
    def from_dict(cls, data: dict) -> AnnealingSchedule:
        """The schedule :meth:`to_dict` described (validated like the constructor)."""
        if not isinstance(data, dict):
            raise TypeError(f"schedule: expected a dict, got {type(data).__name__}")
        known = {"kind", "start", "end", "steps", "values", "step_size"}
        unknown = sorted(set(data) - known)
        if unknown or "kind" not in data:
            raise ValueError(
                f"schedule: expected keys among {sorted(known)} with 'kind', got {sorted(data)}"
            )
        return cls(**data)

    def __eq__(self, other) -> bool:
        if not isinstance(other, AnnealingSchedule):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        if self._kind == "step":
            return (
                f"AnnealingSchedule.step(values={list(self._values)}, step_size={self._step_size})"
            )
        kind, start, end, steps = self._kind, self._start, self._end, self._steps
        return f"AnnealingSchedule.{kind}(start={start}, end={end}, steps={steps})"


class TemperatureScheduler(Scheduler):
    """Walks an :class:`AnnealingSchedule` of temperatures, one :meth:`step` per epoch (or
    batch).

    Every value of the schedule must be > 0 (a temperature divides the logits).

    Typical use, once per epoch::

        loss_fn.temperature = scheduler.step()   # this epoch's value, then advance

    Args:
        schedule: the schedule to follow.

    Raises:
        TypeError: ``schedule`` is not an AnnealingSchedule.
        ValueError: the schedule can reach a value <= 0.
    """

    _CONFIG_KEYS = ("schedule",)

    def __init__(self, schedule: AnnealingSchedule) -> None:
        if not isinstance(schedule, AnnealingSchedule):
            raise TypeError(
                f"schedule: expected an AnnealingSchedule, got {type(schedule).__name__}"
            )
        # Linear and cosine stay between start and end, exponential is positive by
        # construction, and a step schedule only takes its values.
        lowest = (
            min(schedule.values) if schedule.kind == "step" else min(schedule.start, schedule.end)
        )
        if lowest <= 0.0:
            raise ValueError(f"schedule: temperatures must be > 0, but it reaches {lowest}")
        self._schedule = schedule
        self._step_count = 0

    @property
    def schedule(self) -> AnnealingSchedule:
        """The schedule followed."""
        return self._schedule

    def get_temperature(self) -> float:
        """The temperature at the current step."""
        return self._schedule.value(self._step_count)

    def step(self) -> float:
        """Returns the current temperature, then advances one step."""
        temperature = self.get_temperature()
        self._step_count += 1
        return temperature

    def _config(self) -> dict:
        return {"schedule": self._schedule.to_dict()}

    @classmethod
    def _from_config(cls, state: dict) -> TemperatureScheduler:
        schedule = nested("schedule", AnnealingSchedule.from_dict, state["schedule"])
        return nested("schedule", cls, schedule)

    def __repr__(self) -> str:
        return (
            f"TemperatureScheduler({self._schedule!r}, step_count={self._step_count}, "
            f"temperature={self.get_temperature():.6g})"
        )
