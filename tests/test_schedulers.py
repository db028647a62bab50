"""Schedulers: the spec's worked values (linear 0.55 after 5 of 10 steps, cosine non-increasing,
default curriculum 0.5 -> 0.3 after 10 epochs, exponential to 0 rejected), each schedule against
its formula, curricula counted in epochs and in samples, loss-weight warm-up, JSON state round
trips that resume exactly, and bad input."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import pytest
import ruvector_training as rt
from ruvector_training.schedulers import (
    AnnealingSchedule,
    CurriculumScheduler,
    CurriculumStage,
    LossWeightScheduler,
    TemperatureScheduler,
)


def walk(scheduler, n: int, **kwargs) -> list:
    """The values ``step()`` returns over ``n`` calls."""
    return [scheduler.step(**kwargs) for _ in range(n)]


def json_round_trip(state: dict) -> dict:
    """``state`` through JSON text, as a checkpoint file would hold it."""
    return json.loads(json.dumps(state))


# --- AnnealingSchedule / TemperatureScheduler -------------------------------------------------


def test_linear_worked_value():
    scheduler = TemperatureScheduler(AnnealingSchedule.linear(1.0, 0.1, 10))
    assert scheduler.get_temperature() == 1.0
    first = walk(scheduler, 5)
    assert first == pytest.approx([1.0, 0.91, 0.82, 0.73, 0.64], abs=1e-15)
    assert scheduler.get_temperature() == pytest.approx(0.55, abs=1e-15)
    assert scheduler.step_count == 5


def test_every_schedule_stays_at_end_after_its_steps():
    for schedule in (
        AnnealingSchedule.linear(1.0, 0.1, 10),
        AnnealingSchedule.exponential(1.0, 0.1, 10),
        AnnealingSchedule.cosine(1.0, 0.1, 10),
    ):
        assert [schedule.value(t) for t in (10, 11, 1000)] == [0.1, 0.1, 0.1]
        assert schedule.value(0) == 1.0


def test_exponential_is_geometric():
    schedule = AnnealingSchedule.exponential(1.0, 0.01, 4)
    expected = [1.0, 0.1**0.5, 0.1, 0.1**1.5, 0.01, 0.01]
    assert [schedule.value(t) for t in range(6)] == pytest.approx(expected, rel=1e-14)
    # Growth works too: 0.1 -> 0.4 over 2 steps passes 0.2.
    assert AnnealingSchedule.exponential(0.1, 0.4, 2).value(1) == pytest.approx(0.2, rel=1e-14)


def test_cosine_formula_and_monotone():
    schedule = AnnealingSchedule.cosine(1.0, 0.1, 100)
    assert schedule.value(50) == pytest.approx(0.55, abs=1e-15)
    assert schedule.value(25) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2)
    scheduler = TemperatureScheduler(schedule)
    values = walk(scheduler, 120)
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert values[0] == 1.0 and values[-1] == 0.1
    # Increasing from start to end when end > start.
    rising = [AnnealingSchedule.cosine(0.1, 1.0, 8).value(t) for t in range(10)]
    assert all(b >= a for a, b in zip(rising, rising[1:]))


def test_step_schedule():
    schedule = AnnealingSchedule.step([0.5, 0.3, 0.1], step_size=2)
    values = walk(TemperatureScheduler(schedule), 8)
    assert values == [0.5, 0.5, 0.3, 0.3, 0.1, 0.1, 0.1, 0.1]
    assert (schedule.start, schedule.end, schedule.steps) == (0.5, 0.1, 4)
    assert schedule.values == (0.5, 0.3, 0.1) and schedule.step_size == 2


def test_plain_constructor_equals_class_methods():
    assert AnnealingSchedule("linear", 1.0, 0.1, 10) == AnnealingSchedule.linear(1.0, 0.1, 10)
    assert AnnealingSchedule("cosine", start=2, end=1, steps=3) == AnnealingSchedule.cosine(2, 1, 3)
    assert AnnealingSchedule("step", values=[1, 2], step_size=3) == AnnealingSchedule.step(
        [1.0, 2.0], 3
    )
    assert AnnealingSchedule.linear(1.0, 0.1, 10) != AnnealingSchedule.cosine(1.0, 0.1, 10)
    schedule = AnnealingSchedule.exponential(1.0, 0.5, 4)
    assert (schedule.kind, schedule.start, schedule.end, schedule.steps) == (
        "exponential",
        1.0,
        0.5,
        4,
    )
    assert schedule.values is None and schedule.step_size is None
    assert AnnealingSchedule.from_dict(schedule.to_dict()) == schedule
    assert hash(AnnealingSchedule.linear(1, 0.5, 2)) == hash(AnnealingSchedule.linear(1.0, 0.5, 2))


def test_reset_and_repr():
    scheduler = TemperatureScheduler(AnnealingSchedule.linear(1.0, 0.1, 10))
    walk(scheduler, 7)
    scheduler.reset()
    assert scheduler.step_count == 0 and scheduler.get_temperature() == 1.0
    text = repr(scheduler)
    assert "AnnealingSchedule.linear(start=1.0, end=0.1, steps=10)" in text
    assert "step_count=0" in text and "temperature=1" in text
    assert repr(AnnealingSchedule.step([0.5, 0.1], 3)) == (
        "AnnealingSchedule.step(values=[0.5, 0.1], step_size=3)"
    )


def test_temperature_state_round_trip_resumes_exactly():
    for schedule in (
        AnnealingSchedule.cosine(0.7, 0.05, 13),
        AnnealingSchedule.exponential(0.5, 0.02, 9),
        AnnealingSchedule.step([0.4, 0.2, 0.1], 3),
    ):
        straight = TemperatureScheduler(schedule)
        expected = walk(straight, 20)
        first = TemperatureScheduler(schedule)
        head = walk(first, 6)
        state = json_round_trip(first.state_dict())
        assert state["step"] == 6 and state["scheduler"] == "TemperatureScheduler"
        # Into a scheduler built with another schedule: the saved one is restored.
        resumed = TemperatureScheduler(AnnealingSchedule.linear(9.0, 8.0, 2))
        resumed.load_state_dict(state)
        assert resumed.schedule == schedule
        assert head + walk(resumed, 14) == expected
        again = TemperatureScheduler.from_state_dict(state)
        assert again.step_count == 6 and again.get_temperature() == expected[6]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: AnnealingSchedule.exponential(1.0, 0.0, 10), ValueError, "end"),
        (lambda: AnnealingSchedule.exponential(1.0, -0.5, 10), ValueError, "end"),
        (lambda: AnnealingSchedule.exponential(0.0, 0.1, 10), ValueError, "start"),
        (lambda: AnnealingSchedule.linear(1.0, 0.1, 0), ValueError, "steps"),
        (lambda: AnnealingSchedule.linear(1.0, 0.1, -3), ValueError, "steps"),
        (lambda: AnnealingSchedule.linear(1.0, 0.1, 2.5), TypeError, "steps"),
        (lambda: AnnealingSchedule.linear(1.0, 0.1, True), TypeError, "steps"),
        (lambda: AnnealingSchedule.linear(float("nan"), 0.1, 10), ValueError, "start"),
        (lambda: AnnealingSchedule.cosine(1.0, float("inf"), 10), ValueError, "end"),
        (lambda: AnnealingSchedule.linear("1.0", 0.1, 10), TypeError, "start"),
        (lambda: AnnealingSchedule.step([], 2), ValueError, "values"),
        (lambda: AnnealingSchedule.step([0.5, float("nan")], 2), ValueError, "values[1]"),
        (lambda: AnnealingSchedule.step([0.5], 0), ValueError, "step_size"),
        (lambda: AnnealingSchedule.step(0.5, 2), TypeError, "values"),
        (lambda: AnnealingSchedule("sigmoid", 1.0, 0.1, 10), ValueError, "kind"),
        (lambda: AnnealingSchedule("linear", 1.0, 0.1), ValueError, "steps"),
        (lambda: AnnealingSchedule("linear", 1.0, 0.1, 3, step_size=2), ValueError, "step_size"),
        (lambda: AnnealingSchedule("step", 1.0, values=[1.0], step_size=2), ValueError, "start"),
        (lambda: AnnealingSchedule("step", values=[1.0]), ValueError, "values"),
        (lambda: AnnealingSchedule.from_dict({"kind": "linear", "bad": 1}), ValueError, "schedule"),
        (lambda: AnnealingSchedule.from_dict([1]), TypeError, "schedule"),
        (lambda: AnnealingSchedule.linear(1.0, 0.1, 3).value(-1), ValueError, "t"),
        (lambda: TemperatureScheduler("linear"), TypeError, "schedule"),
        (
            lambda: TemperatureScheduler(AnnealingSchedule.linear(1, 0, 5)),
            ValueError,
            "schedule: temperatures must be > 0",
        ),
        (
            lambda: TemperatureScheduler(AnnealingSchedule.cosine(-1, 1, 5)),
            ValueError,
            "schedule: temperatures must be > 0",
        ),
        (
            lambda: TemperatureScheduler(AnnealingSchedule.step([1, 0], 5)),
            ValueError,
            "schedule: temperatures must be > 0",
        ),
    ],
)
def test_annealing_bad_input(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value).startswith(message)


def test_temperature_bad_state():
    scheduler = TemperatureScheduler(AnnealingSchedule.linear(1.0, 0.1, 10))
    state = scheduler.state_dict()
    with pytest.raises(TypeError, match="^state_dict: expected a dict"):
        scheduler.load_state_dict([state])
    with pytest.raises(
        ValueError, match="^state_dict\\['scheduler'\\]: expected 'TemperatureScheduler'"
    ):
        scheduler.load_state_dict(dict(state, scheduler="CurriculumScheduler"))
    with pytest.raises(ValueError, match=r"^state_dict: missing key 'step'"):
        scheduler.load_state_dict({k: v for k, v in state.items() if k != "step"})
    with pytest.raises(ValueError, match=r"^state_dict\['step'\]"):
        scheduler.load_state_dict(dict(state, step=-1))
    with pytest.raises(ValueError, match="> 0"):
        scheduler.load_state_dict(
            dict(state, schedule={"kind": "linear", "start": 1.0, "end": 0.0, "steps": 3})
        )
    # A failed load leaves the scheduler as it was.
    assert scheduler.state_dict() == state


# --- CurriculumScheduler ----------------------------------------------------------------------


def test_default_curriculum_worked_values():
    curriculum = CurriculumScheduler.default_curriculum()
    assert curriculum.get_temperature() == 0.5 and curriculum.get_num_negatives() == 5
    changes = [curriculum.step() for _ in range(10)]
    assert changes == [False] * 9 + [True]
    assert curriculum.get_temperature() == 0.3 and curriculum.get_num_negatives() == 10
    assert curriculum.current_stage().name == "Medium"
    assert curriculum.progress() == pytest.approx(10 / 60)
    changes = [curriculum.step() for _ in range(20)]
    assert changes == [False] * 19 + [True]
    assert (curriculum.get_temperature(), curriculum.get_num_negatives()) == (0.1, 20)
    assert curriculum.progress() == 0.5 and not curriculum.is_complete()
    # Past the end: complete, progress bounded, still the last stage.
    assert not any(curriculum.step() for _ in range(45))
    assert curriculum.is_complete() and curriculum.progress() == 1.0
    assert curriculum.current_stage().name == "Hard" and curriculum.stage_index == 2
    assert curriculum.step_count == 75 and curriculum.total_duration == 60


def test_default_curriculum_stages():
    stages = CurriculumScheduler.default_curriculum().stages
    table = [
        (s.name, s.duration_epochs, s.temperature, s.num_negatives, s.difficulty_threshold)
        for s in stages
    ]
    assert table == [
        ("Easy", 10, 0.5, 5, 0.3),
        ("Medium", 20, 0.3, 10, 0.5),
        ("Hard", 30, 0.1, 20, 0.7),
    ]
    assert [asdict(s.loss_weights) for s in stages] == [
        {"infonce": 1.0, "local": 0.5, "spectral": 0.1, "reconstruction": 0.5},
        {"infonce": 1.0, "local": 0.3, "spectral": 0.05, "reconstruction": 0.3},
        {"infonce": 1.0, "local": 0.1, "spectral": 0.01, "reconstruction": 0.1},
    ]
    assert stages[-1].loss_weights == rt.LossWeights()


def test_should_include_sample_follows_stage_threshold():
    curriculum = CurriculumScheduler.default_curriculum()
    assert curriculum.should_include_sample(0.0) and curriculum.should_include_sample(0.3)
    assert not curriculum.should_include_sample(0.31)
    walk(curriculum, 10)
    assert curriculum.should_include_sample(0.5) and not curriculum.should_include_sample(0.6)
    walk(curriculum, 100)
    assert curriculum.should_include_sample(0.7) and not curriculum.should_include_sample(0.71)
    with pytest.raises(ValueError, match="^difficulty"):
        curriculum.should_include_sample(float("nan"))
    with pytest.raises(TypeError, match="^difficulty"):
        curriculum.should_include_sample("easy")


def test_linear_curriculum_counted_in_samples():
    curriculum = CurriculumScheduler.linear(
        num_stages=4, samples_per_stage=100, k_start=4, k_end=16, temp_start=0.4, temp_end=0.1
    )
    assert curriculum.unit == "samples" and curriculum.total_duration == 400
    stages = curriculum.stages
    assert [s.name for s in stages] == ["Stage 1", "Stage 2", "Stage 3", "Stage 4"]
    assert [s.num_negatives for s in stages] == [4, 8, 12, 16]
    assert [s.temperature for s in stages] == pytest.approx([0.4, 0.3, 0.2, 0.1], abs=1e-15)
    assert (stages[0].temperature, stages[-1].temperature) == (0.4, 0.1)
    assert [s.difficulty_threshold for s in stages] == [0.25, 0.5, 0.75, 1.0]
    assert all(s.loss_weights is None for s in stages) and curriculum.get_loss_weights() is None
    assert curriculum.step(60) is False and curriculum.get_num_negatives() == 4
    assert curriculum.step(40) is True and curriculum.get_num_negatives() == 8
    # One step across two boundaries lands in the right stage.
    assert curriculum.step(250) is True and curriculum.stage_index == 3
    assert curriculum.progress() == 350 / 400
    assert curriculum.step(0) is False
    curriculum.step(1000)
    assert curriculum.progress() == 1.0 and curriculum.is_complete()
    curriculum.reset()
    assert curriculum.step_count == 0 and curriculum.get_temperature() == 0.4


def test_linear_curriculum_rounding_and_single_stage():
    ks = [s.num_negatives for s in CurriculumScheduler.linear(3, 10, 5, 20, 0.5, 0.1).stages]
    assert ks == [5, 12, 20]  # 12.5 rounds half to even
    single = CurriculumScheduler.linear(1, 10, 7, 30, 0.2, 0.05)
    assert [(s.num_negatives, s.temperature, s.difficulty_threshold) for s in single.stages] == [
        (7, 0.2, 1.0)
    ]


def test_step_units_are_enforced():
    with pytest.raises(ValueError, match="^num_samples: this curriculum is counted in epochs"):
        CurriculumScheduler.default_curriculum().step(32)
    samples = CurriculumScheduler.linear(2, 10, 1, 2, 0.5, 0.1)
    with pytest.raises(ValueError, match="^num_samples: required"):
        samples.step()
    with pytest.raises(ValueError, match="^num_samples"):
        samples.step(-1)
    with pytest.raises(TypeError, match="^num_samples"):
        samples.step(2.0)
    assert samples.step_count == 0


def test_custom_stages_and_copying():
    stages = [
        CurriculumStage("warm", 2, 0.2, 3),
        CurriculumStage("main", 1, 0.05, 8, rt.LossWeights(local=0.0), difficulty_threshold=0.9),
    ]
    curriculum = CurriculumScheduler(stages)
    stages[0].temperature = 9.0  # the scheduler keeps its own copies
    assert curriculum.get_temperature() == 0.2 and curriculum.get_loss_weights() is None
    assert (
        stages[1].difficulty_threshold == 0.9
        and CurriculumStage("x", 1, 1, 1).difficulty_threshold == 1.0
    )
    assert walk(curriculum, 3) == [False, True, False]
    assert curriculum.get_loss_weights() == rt.LossWeights(local=0.0)
    text = repr(curriculum)
    assert "2 stages in epochs" in text and "'main'" in text and "step_count=3/3" in text


def test_curriculum_state_round_trip_resumes_exactly():
    def trace(curriculum, amounts):
        out = []
        for amount in amounts:
            changed = curriculum.step(amount) if curriculum.unit == "samples" else curriculum.step()
            out.append((changed, curriculum.get_temperature(), curriculum.get_num_negatives()))
        return out

    for make, amounts in (
        (CurriculumScheduler.default_curriculum, [None] * 70),
        (lambda: CurriculumScheduler.linear(5, 64, 2, 30, 0.5, 0.05), [32, 48, 16, 100] * 4),
    ):
        expected = trace(make(), amounts)
        first = make()
        head = trace(first, amounts[:7])
        state = json_round_trip(first.state_dict())
        resumed = CurriculumScheduler([CurriculumStage("other", 1, 1.0, 1)])
        resumed.load_state_dict(state)
        assert resumed.stages == first.stages and resumed.unit == first.unit
        assert head + trace(resumed, amounts[7:]) == expected
        assert CurriculumScheduler.from_state_dict(state).step_count == first.step_count


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: CurriculumStage("a", 0, 0.1, 5), ValueError, "duration_epochs"),
        (lambda: CurriculumStage("a", 1.5, 0.1, 5), TypeError, "duration_epochs"),
        (lambda: CurriculumStage("a", 3, 0.0, 5), ValueError, "temperature"),
        (lambda: CurriculumStage("a", 3, float("nan"), 5), ValueError, "temperature"),
        (lambda: CurriculumStage("a", 3, 0.1, 0), ValueError, "num_negatives"),
        (lambda: CurriculumStage("a", 3, 0.1, 5, loss_weights=0.5), TypeError, "loss_weights"),
        (lambda: CurriculumStage("a", 3, 0.1, 5, None, float("inf")), ValueError, "difficulty"),
        (lambda: CurriculumStage(1, 3, 0.1, 5), TypeError, "name"),
        (lambda: CurriculumScheduler([]), ValueError, "stages"),
        (lambda: CurriculumScheduler(CurriculumStage("a", 1, 1, 1)), TypeError, "stages"),
        (lambda: CurriculumScheduler(["easy"]), TypeError, "stages[0]"),
        (lambda: CurriculumScheduler([CurriculumStage("a", 1, 1, 1)], "steps"), ValueError, "unit"),
        (lambda: CurriculumScheduler.linear(0, 10, 1, 2, 0.5, 0.1), ValueError, "num_stages"),
        (lambda: CurriculumScheduler.linear(2, 0, 1, 2, 0.5, 0.1), ValueError, "samples_per"),
        (lambda: CurriculumScheduler.linear(2, 10, 0, 2, 0.5, 0.1), ValueError, "k_start"),
        (lambda: CurriculumScheduler.linear(2, 10, 1, 2.0, 0.5, 0.1), TypeError, "k_end"),
        (lambda: CurriculumScheduler.linear(2, 10, 1, 2, -0.5, 0.1), ValueError, "temp_start"),
        (lambda: CurriculumScheduler.linear(2, 10, 1, 2, 0.5, 0.0), ValueError, "temp_end"),
        (
            lambda: CurriculumScheduler.from_state_dict({"scheduler": "CurriculumScheduler"}),
            ValueError,
            "state_dict: missing key",
        ),
        (
            lambda: CurriculumScheduler.from_state_dict(
                {"scheduler": "CurriculumScheduler", "stages": "Easy", "unit": "epochs", "step": 0}
            ),
            TypeError,
            "state_dict['stages']",
        ),
    ],
)
def test_curriculum_bad_input(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value).startswith(message)


# --- LossWeightScheduler ----------------------------------------------------------------------


def test_loss_weight_warmup_floats():
    scheduler = LossWeightScheduler(0.0, 1.0, warmup_epochs=4)
    assert walk(scheduler, 7) == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert scheduler.step_count == 7 and scheduler.progress() == 1.0
    scheduler.reset()
    assert scheduler.get_weights() == 0.0 and scheduler.progress() == 0.0
    assert walk(LossWeightScheduler(2.0, 0.5, 0), 2) == [0.5, 0.5]


def test_loss_weight_warmup_components():
    initial = rt.LossWeights(infonce=1.0, local=0.0, spectral=0.0, reconstruction=0.4)
    target = rt.LossWeights(infonce=1.0, local=0.2, spectral=0.04, reconstruction=0.0)
    scheduler = LossWeightScheduler(initial, target, warmup_epochs=4)
    weights = walk(scheduler, 6)
    assert all(isinstance(w, rt.LossWeights) for w in weights)
    assert weights[0] == initial and weights[4] == target and weights[5] == target
    half = asdict(weights[2])
    assert half == pytest.approx(
        {"infonce": 1.0, "local": 0.1, "spectral": 0.02, "reconstruction": 0.2}, abs=1e-15
    )
    assert asdict(weights[1])["local"] == pytest.approx(0.05, abs=1e-15)
    # Returned weights are copies: changing them does not change the schedule.
    weights[5].local = 7.0
    assert scheduler.get_weights() == target and scheduler.target == target
    assert scheduler.initial == initial and scheduler.warmup_epochs == 4
    assert repr(scheduler).startswith("LossWeightScheduler(initial=LossWeights(")


def test_loss_weight_state_round_trip():
    for initial, target in ((0.0, 0.3), (rt.LossWeights(local=0.5), rt.LossWeights(local=0.05))):
        expected = walk(LossWeightScheduler(initial, target, 5), 8)
        first = LossWeightScheduler(initial, target, 5)
        head = walk(first, 3)
        state = json_round_trip(first.state_dict())
        resumed = LossWeightScheduler(1.0, 2.0, 1)
        resumed.load_state_dict(state)
        assert head + walk(resumed, 5) == expected
        assert LossWeightScheduler.from_state_dict(state).step_count == 3


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: LossWeightScheduler(rt.LossWeights(), 0.5, 3), TypeError, "target"),
        (lambda: LossWeightScheduler(0.5, rt.LossWeights(), 3), TypeError, "initial"),
        (lambda: LossWeightScheduler(0.5, float("nan"), 3), ValueError, "target"),
        (lambda: LossWeightScheduler("a", 1.0, 3), TypeError, "initial"),
        (lambda: LossWeightScheduler(0.5, 1.0, -1), ValueError, "warmup_epochs"),
        (lambda: LossWeightScheduler(0.5, 1.0, 2.0), TypeError, "warmup_epochs"),
        (
            lambda: LossWeightScheduler.from_state_dict(
                {
                    "scheduler": "LossWeightScheduler",
                    "initial": {"infonce": 1.0, "contrast": 2.0},
                    "target": {},
                    "warmup_epochs": 1,
                    "step": 0,
                }
            ),
            ValueError,
            "state_dict['initial']: unknown loss components ['contrast']",
        ),
        (
            lambda: LossWeightScheduler.from_state_dict({"scheduler": "TemperatureScheduler"}),
            ValueError,
            "state_dict['scheduler']: expected 'LossWeightScheduler', got 'TemperatureScheduler'",
        ),
    ],
)
def test_loss_weight_bad_input(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value).startswith(message)


def test_package_exports():
    for name in (
        "AnnealingSchedule",
        "CurriculumScheduler",
        "CurriculumStage",
        "LossWeightScheduler",
        "TemperatureScheduler",
    ):
        assert getattr(rt, name) is getattr(rt.schedulers, name) and name in rt.__all__


# --- The shared contract ----------------------------------------------------------------------


def _three():
    """One scheduler of each class, stepped a few times."""
    temperature = TemperatureScheduler(AnnealingSchedule.linear(1.0, 0.1, 10))
    curriculum = CurriculumScheduler.default_curriculum()
    weights = LossWeightScheduler(rt.LossWeights(local=0.5), rt.LossWeights(local=0.1), 4)
    for scheduler in (temperature, curriculum, weights):
        walk(scheduler, 3)
    return temperature, curriculum, weights


def test_one_contract_for_every_scheduler():
    optimizer_state = rt.SGD([__import__("numpy").zeros(2)], lr=0.1).state_dict()
    for scheduler in _three():
        assert isinstance(scheduler, rt.schedulers.Scheduler)
        assert scheduler.step_count == 3
        state = scheduler.state_dict()
        # Tagged like an optimizer: the class name under the kind's key, the counter as "step".
        assert optimizer_state["optimizer"] == "SGD" and optimizer_state["step"] == 0
        assert state["scheduler"] == type(scheduler).__name__ and state["step"] == 3
        assert list(state)[:2] == ["scheduler", "step"]
        restored = type(scheduler).from_state_dict(json_round_trip(state))
        assert restored.state_dict() == state and restored.step_count == 3
        scheduler.reset()
        assert scheduler.step_count == 0 and scheduler.state_dict()["step"] == 0


def test_strict_state_validation_names_the_key():
    for scheduler in _three():
        state = scheduler.state_dict()
        name = type(scheduler).__name__
        cases = [
            ({**state, "extra": 1}, ValueError, r"^state_dict: unknown keys \['extra'\]"),
            ({**state, "step": True}, TypeError, r"^state_dict\['step'\]: expected an integer"),
            ({**state, "step": 2.0}, TypeError, r"^state_dict\['step'\]"),
            ({**state, "step": -1}, ValueError, r"^state_dict\['step'\]: expected an integer >="),
            ({k: v for k, v in state.items() if k != "scheduler"}, ValueError, "'scheduler'"),
            ({**state, "scheduler": "SGD"}, ValueError, f"expected '{name}', got 'SGD'"),
        ]
        for key in state:
            if key not in ("scheduler", "step"):
                missing = {k: v for k, v in state.items() if k != key}
                cases.append((missing, ValueError, f"^state_dict: missing key '{key}'"))
        for bad, error, message in cases:
            with pytest.raises(error, match=message):
                scheduler.load_state_dict(bad)
            assert scheduler.state_dict() == state  # unchanged by a failed load


def test_bad_nested_configuration_names_the_key():
    temperature, curriculum, weights = _three()
    bad = dict(temperature.state_dict(), schedule={"kind": "linear", "start": 1.0})
    with pytest.raises(ValueError, match=r"^state_dict\['schedule'\]: end"):
        temperature.load_state_dict(bad)
    stages = curriculum.state_dict()["stages"]
    for edited, error, message in (
        ([dict(stages[0], temperature=-1.0)] + stages[1:], ValueError, r"\[0\]: temperature"),
        ([dict(stages[0], colour=1)] + stages[1:], ValueError, r"\[0\]: .*unknown fields"),
        ([stages[0], "Medium"], TypeError, r"\[1\]: expected a dict"),
        ([], ValueError, ": expected at least one stage"),
        ("Easy", TypeError, ": expected a list of dicts, got str"),
    ):
        with pytest.raises(error, match=r"^state_dict\['stages'\]" + message):
            curriculum.load_state_dict(dict(curriculum.state_dict(), stages=edited))
    with pytest.raises(ValueError, match=r"^state_dict\['unit'\]: expected one of"):
        curriculum.load_state_dict(dict(curriculum.state_dict(), unit="steps"))
    with pytest.raises(TypeError, match=r"^state_dict\['warmup_epochs'\]: expected an integer"):
        weights.load_state_dict(dict(weights.state_dict(), warmup_epochs="4"))


def test_state_dicts_of_earlier_versions_still_load():
    """The pre-contract state dicts (tagged "type", counters "step" / "position" / "epoch"),
    as checkpoints written before the contract hold them."""
    temperature, curriculum, weights = _three()
    legacy = {
        TemperatureScheduler: {
            "type": "TemperatureScheduler",
            "schedule": {"kind": "linear", "start": 1.0, "end": 0.1, "steps": 10},
            "step": 3,
        },
        CurriculumScheduler: {
            "type": "CurriculumScheduler",
            "stages": curriculum.state_dict()["stages"],
            "unit": "epochs",
            "position": 3,
        },
        LossWeightScheduler: {
            "type": "LossWeightScheduler",
            "initial": asdict(rt.LossWeights(local=0.5)),
            "target": asdict(rt.LossWeights(local=0.1)),
            "warmup_epochs": 4,
            "epoch": 3,
        },
    }
    for current in (temperature, curriculum, weights):
        old = legacy[type(current)]
        assert type(current).from_state_dict(old).state_dict() == current.state_dict()
        with pytest.raises(ValueError, match="saved by another scheduler class"):
            LossWeightScheduler.from_state_dict(legacy[TemperatureScheduler])
