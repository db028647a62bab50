"""Curriculum learning: a sequence of stages, each with its own temperature, number of mined
negatives, loss weights and sample-difficulty threshold, from easy to hard."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import accumulate

from ruvector_training._checks import check_float, check_int
from ruvector_training.multi_objective import LossWeights
from ruvector_training.schedulers.base import Scheduler, nested

#: The units a curriculum is counted in.
UNITS = ("epochs", "samples")


@dataclass
class CurriculumStage:
    """One stage of a curriculum.

    Args:
        name: a label for logs.
        duration_epochs: length of the stage, an integer >= 1, in the scheduler's unit (epochs;
            samples for a curriculum built by :meth:`CurriculumScheduler.linear`).
        temperature: the InfoNCE temperature during the stage (> 0).
        num_negatives: hard negatives to mine per anchor (K, an integer >= 1).
        loss_weights: weights of the loss terms during the stage (a LossWeights; a dict of its
            fields is converted), or None to leave them alone.
        difficulty_threshold: samples with difficulty ``<= difficulty_threshold`` are used
            (finite; difficulties are conventionally in ``[0, 1]``, 0 easiest).

    Raises:
        TypeError / ValueError: a field of the wrong type or out of range (the message names it).
    """

    name: str
    duration_epochs: int
    temperature: float
    num_negatives: int
    loss_weights: LossWeights | None = None
    difficulty_threshold: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name: expected a str, got {type(self.name).__name__}")
        self.duration_epochs = check_int("duration_epochs", self.duration_epochs, minimum=1)
        self.temperature = check_float("temperature", self.temperature, positive=True)
        self.num_negatives = check_int("num_negatives", self.num_negatives, minimum=1)
        if isinstance(self.loss_weights, dict):
            self.loss_weights = LossWeights(**self.loss_weights)
        if self.loss_weights is not None and not isinstance(self.loss_weights, LossWeights):
            raise TypeError(
                "loss_weights: expected LossWeights or None, "
                f"got {type(self.loss_weights).__name__}"
            )
        self.difficulty_threshold = check_float("difficulty_threshold", self.difficulty_threshold)

    def to_dict(self) -> dict:
        """The stage as a plain JSON-able dict (``CurriculumStage(**d)`` rebuilds it)."""
        return asdict(self)


class CurriculumScheduler(Scheduler):
    """Steps through :class:`CurriculumStage` s, counted in epochs (``step()`` once per epoch) or
    in samples (``step(num_samples)`` after each batch).

    The scheduler's :attr:`step_count` is its position (epochs or samples seen). The current
    stage is the first whose cumulative duration exceeds it; once it reaches the total duration the
    curriculum :meth:`is_complete` and stays in its last stage. A ``step`` that crosses several
    stage boundaries lands in the right stage.

    Args:
        stages: a non-empty sequence of stages.
        unit: ``"epochs"`` (default) or ``"samples"``: what a stage's ``duration_epochs`` counts.

    Raises:
        TypeError: ``stages`` is not a sequence of CurriculumStage.
        ValueError: ``stages`` is empty or ``unit`` is unknown.
    """

    _CONFIG_KEYS = ("stages", "unit")
    _LEGACY_COUNTER = "position"

    def __init__(self, stages, unit: str = "epochs") -> None:
        if isinstance(stages, (str, bytes, CurriculumStage)) or not hasattr(stages, "__iter__"):
            raise TypeError(
                f"stages: expected a sequence of CurriculumStage, got {type(stages).__name__}"
            )
        stages = list(stages)
        if not stages:
            raise ValueError("stages: expected at least one stage, got none")
        for i, stage in enumerate(stages):
            if not isinstance(stage, CurriculumStage):
                raise TypeError(
                    f"stages[{i}]: expected a CurriculumStage, got {type(stage).__name__}"
                )
        if unit not in UNITS:
            raise ValueError(f"unit: expected one of {UNITS}, got {unit!r}")
        self._stages = tuple(CurriculumStage(**stage.to_dict()) for stage in stages)
        self._ends = tuple(accumulate(stage.duration_epochs for stage in self._stages))
        self._unit = unit
        self._step_count = 0

    @classmethod
    def default_curriculum(cls) -> CurriculumScheduler:
        """Three stages counted in epochs: Easy (10 epochs, tau 0.5, K 5, threshold 0.3),
        Medium (20, 0.3, 10, 0.5) and Hard (30, 0.1, 20, 0.7); the local / spectral /
        reconstruction weights shrink from (0.5, 0.1, 0.5) to (0.3, 0.05, 0.3) to the
        :class:`LossWeights` defaults (0.1, 0.01, 0.1), InfoNCE's weight stays 1."""
        return cls(
            [
                CurriculumStage("Easy", 10, 0.5, 5, LossWeights(1.0, 0.5, 0.1, 0.5), 0.3),
                CurriculumStage("Medium", 20, 0.3, 10, LossWeights(1.0, 0.3, 0.05, 0.3), 0.5),
                CurriculumStage("Hard", 30, 0.1, 20, LossWeights(1.0, 0.1, 0.01, 0.1), 0.7),
            ]
        )

    @classmethod
    def linear(
        cls,
        num_stages: int,
        samples_per_stage: int,
        k_start: int,
        k_end: int,
        temp_start: float,
        temp_end: float,
    ) -> CurriculumScheduler:
        """``num_stages`` equal stages of ``samples_per_stage`` samples each (advance with
        ``step(num_samples)``), with K and the temperature linear in the stage index from the
        start to the end values (K rounded half to even) and difficulty thresholds
        ``(i + 1) / num_stages`` (the last stage uses every sample in ``[0, 1]``). Stages are
        named ``"Stage 1"`` ... ; loss weights are left alone (None).

        Raises:
            TypeError / ValueError: counts that are not integers >= 1, temperatures that are not
                finite and > 0.
        """
        n = check_int("num_stages", num_stages, minimum=1)
        samples = check_int("samples_per_stage", samples_per_stage, minimum=1)
        k0 = check_int("k_start", k_start, minimum=1)
        k1 = check_int("k_end", k_end, minimum=1)
        t0 = check_float("temp_start", temp_start, positive=True)
        t1 = check_float("temp_end", temp_end, positive=True)
        stages = []
        for i in range(n):
            p = i / (n - 1) if n > 1 else 0.0
            stages.append(
                CurriculumStage(
                    name=f"Stage {i + 1}",
                    duration_epochs=samples,
                    temperature=(1.0 - p) * t0 + p * t1,
                    num_negatives=round(k0 + (k1 - k0) * p),
                    loss_weights=None,
                    difficulty_threshold=(i + 1) / n,
                )
            )
        return cls(stages, unit="samples")

    @property
    def stages(self) -> tuple[CurriculumStage, ...]:
        """The stages, in order."""
        return self._stages

    @property
    def unit(self) -> str:
        """``"epochs"`` or ``"samples"``."""
        return self._unit

    @property
    def total_duration(self) -> int:
        """The sum of the stages' durations."""
        return self._ends[-1]

    @property
    def stage_index(self) -> int:
        """Index of the current stage (the last one once complete)."""
        for i, end in enumerate(self._ends):
            if self._step_count < end:
                return i
        return len(self._stages) - 1

    def current_stage(self) -> CurriculumStage:
        """The current stage."""
        return self._stages[self.stage_index]

    def get_temperature(self) -> float:
        """The current stage's temperature."""
        return self.current_stage().temperature

    def get_num_negatives(self) -> int:
        """The current stage's number of negatives (K)."""
        return self.current_stage().num_negatives

    def get_loss_weights(self) -> LossWeights | None:
        """The current stage's loss weights (None when the stage leaves them alone)."""
        return self.current_stage().loss_weights

    def should_include_sample(self, difficulty: float) -> bool:
        """Whether a sample of this difficulty is used now: ``difficulty <= threshold`` of the
        current stage. ``difficulty`` must be a finite number."""
        return check_float("difficulty", difficulty) <= self.current_stage().difficulty_threshold

    def step(self, num_samples: int | None = None) -> bool:
        """Advances one epoch (``step()``), or ``num_samples`` samples for a curriculum counted
        in samples. Returns True when the current stage changed.

        Raises:
            ValueError: ``num_samples`` given to a curriculum in epochs, missing or < 0 for one
                in samples.
        """
        if self._unit == "epochs":
            if num_samples is not None:
                raise ValueError(
                    "num_samples: this curriculum is counted in epochs; call step() once per epoch"
                )
            amount = 1
        else:
            if num_samples is None:
                raise ValueError("num_samples: required by a curriculum counted in samples")
            amount = check_int("num_samples", num_samples)
        before = self.stage_index
        self._step_count += amount
        return self.stage_index != before

    def progress(self) -> float:
        """Fraction done, ``min(step_count / total_duration, 1)`` in ``[0, 1]``."""
        return min(self._step_count / self._ends[-1], 1.0)

    def is_complete(self) -> bool:
        """Whether :attr:`step_count` reached the total duration."""
        return self._step_count >= self._ends[-1]

    def _config(self) -> dict:
        return {"stages": [stage.to_dict() for stage in self._stages], "unit": self._unit}

    @classmethod
    def _from_config(cls, state: dict) -> CurriculumScheduler:
        stages = nested("stages", _stages_from_dicts, state["stages"])
        return nested("unit", lambda unit: cls(stages, unit=unit), state["unit"])

    def __repr__(self) -> str:
        stage = self.current_stage()
        return (
            f"CurriculumScheduler({len(self._stages)} stages in {self._unit}, "
            f"stage={self.stage_index} {stage.name!r}, step_count={self._step_count}/"
            f"{self._ends[-1]}, temperature={stage.temperature:g}, K={stage.num_negatives})"
        )


def _stages_from_dicts(stages) -> list[CurriculumStage]:
    """The stages :meth:`CurriculumStage.to_dict` saved, each dict holding exactly the fields."""
    if not isinstance(stages, list):
        raise TypeError(f"expected a list of dicts, got {type(stages).__name__}")
    if not stages:
        raise ValueError("expected at least one stage, got none")
    fields = set(CurriculumStage.__dataclass_fields__)
    out = []
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict):
            raise TypeError(f"[{i}]: expected a dict, got {type(stage).__name__}")
        if set(stage) != fields:
            missing, unknown = sorted(fields - set(stage)), sorted(set(stage) - fields)
            raise ValueError(f"[{i}]: missing fields {missing}, unknown fields {unknown}")
        try:
            out.append(CurriculumStage(**stage))
        except (TypeError, ValueError) as err:
            raise type(err)(f"[{i}]: {err}") from None
    return out
