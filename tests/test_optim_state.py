"""State dicts (exact resume, validation, copies) and hyper-parameters writable between steps."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype
from optim_cases import Problem, make_ours, run_trajectory

#: One configuration per optimizer that exercises every buffer it has.
FULL_OPTIONS = {
    "SGD": {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "Adam": {"lr": 0.01, "weight_decay": 0.01, "amsgrad": True, "max_grad_norm": 1.0},
    "AdamW": {"lr": 0.01, "amsgrad": True, "max_grad_norm": 0.5},
}
each_optimizer = pytest.mark.parametrize("name", list(FULL_OPTIONS))


@each_optimizer
@each_dtype
def test_resume_from_state_dict_is_bit_identical(name, dtype):
    """50 steps, save, load into a fresh optimizer over fresh copies, 50 more == 100 straight."""
    options = FULL_OPTIONS[name]
    straight_problem, resumed_problem = Problem(7, dtype), Problem(7, dtype)
    straight_params = straight_problem.fresh_params()
    straight = make_ours(name, straight_params, options)
    run_trajectory(straight_problem, straight, straight_params, 100)

    first_params = resumed_problem.fresh_params()
    first = make_ours(name, first_params, options)
    run_trajectory(resumed_problem, first, first_params, 50)
    saved = first.state_dict()
    resumed_params = [p.copy() for p in first_params]
    resumed = make_ours(name, resumed_params, {"lr": 123.0})
    resumed.load_state_dict(saved)
    assert resumed.step_count == 50
    run_trajectory(resumed_problem, resumed, resumed_params, 50)

    for got, want in zip(resumed_params, straight_params):
        assert np.array_equal(got, want)
    assert_state_dicts_equal(resumed.state_dict(), straight.state_dict())


def assert_state_dicts_equal(actual: dict, expected: dict) -> None:
    """Same keys and values; arrays equal bit for bit with the same dtype and shape."""
    assert actual.keys() == expected.keys()
    for key in expected:
        if key != "state":
            assert actual[key] == expected[key], key
    for got, want in zip(actual["state"], expected["state"]):
        assert got.keys() == want.keys()
        for key, array in want.items():
            assert got[key].dtype == array.dtype and np.array_equal(got[key], array), key


@each_optimizer
def test_state_dict_holds_copies_of_every_buffer(name):
    params = [np.ones((2, 3), np.float32), np.zeros(4)]
    optimizer = make_ours(name, params, FULL_OPTIONS[name])
    optimizer.step([np.full((2, 3), 0.5, np.float32), np.full(4, -0.25)])
    state = optimizer.state_dict()
    assert state["optimizer"] == name and state["step"] == 1
    expected_keys = {
        "SGD": {"momentum_buffer"},
        "Adam": {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
        "AdamW": {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    }[name]
    for entry, param in zip(state["state"], params):
        assert set(entry) == expected_keys
        for buffer in entry.values():
            assert buffer.shape == param.shape and buffer.dtype == param.dtype
            buffer[...] = 99.0
    assert not any(np.any(b == 99.0) for e in optimizer.state_dict()["state"] for b in e.values())


def test_sgd_without_momentum_has_no_buffers():
    optimizer = rt.SGD([np.ones(3)], lr=0.1)
    optimizer.step([np.ones(3)])
    assert optimizer.state_dict()["state"] == [{"momentum_buffer": None}]


def test_load_restores_hyperparameters():
    params = [np.ones(3)]
    source = rt.AdamW([np.ones(3)], lr=0.5, betas=(0.8, 0.95), eps=1e-6, max_grad_norm=2.0)
    target = rt.AdamW(params)
    target.load_state_dict(source.state_dict())
    restored = (target.lr, target.betas, target.eps, target.max_grad_norm)
    assert restored == (0.5, (0.8, 0.95), 1e-6, 2.0)


def saved_adam(amsgrad: bool = False) -> tuple[rt.Adam, dict]:
    """An Adam over a (3, 2) float64 and a (4,) float32 parameter and its state dict."""
    optimizer = rt.Adam([np.ones((3, 2)), np.ones(4, np.float32)], amsgrad=amsgrad)
    optimizer.step([np.ones((3, 2)), np.ones(4, np.float32)])
    return optimizer, optimizer.state_dict()


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (
            lambda d: d.update(optimizer="SGD"),
            ValueError,
            r"\['optimizer'\]: expected 'Adam', got 'SGD'",
        ),
        (lambda d: d.pop("lr"), ValueError, "missing key 'lr'"),
        (lambda d: d.update(lr="fast"), TypeError, r"state_dict\['lr'\]: expected a float"),
        (lambda d: d.update(lr=-1.0), ValueError, "lr: must be a finite number >= 0"),
        (lambda d: d.update(betas=(0.9, 1.5)), ValueError, r"betas\[1\]"),
        (lambda d: d.update(state=d["state"][:1]), ValueError, "expected 2 entries"),
        (
            lambda d: d["state"][0].update(exp_avg=np.zeros((2, 3))),
            ValueError,
            r"\['exp_avg'\]: expected shape like params\[0\] \(3, 2\), got \(2, 3\)",
        ),
        (
            lambda d: d["state"][1].update(exp_avg_sq=np.zeros(4)),
            TypeError,
            r"\['exp_avg_sq'\]: expected dtype float32 like params\[1\], got float64",
        ),
        (lambda d: d["state"][0].pop("exp_avg"), ValueError, "missing buffer 'exp_avg'"),
        (lambda d: d.update(amsgrad=True), ValueError, "max_exp_avg_sq"),
        (lambda d: d.update(step=-1), ValueError, r"\['step'\]: expected a non-negative integer"),
    ],
)
def test_load_rejects_bad_state_and_changes_nothing(mutate, error, match):
    optimizer, saved = saved_adam()
    before = optimizer.state_dict()
    mutate(saved)
    with pytest.raises(error, match=match):
        optimizer.load_state_dict(saved)
    after = optimizer.state_dict()
    assert after["step"] == before["step"] and after["lr"] == before["lr"]
    for got, want in zip(after["state"], before["state"]):
        assert all(np.array_equal(got[k], want[k]) for k in want)


def test_load_rejects_non_dicts():
    optimizer, _ = saved_adam()
    with pytest.raises(TypeError, match="expected a dict"):
        optimizer.load_state_dict([1, 2])


def test_hyperparameters_are_writable_and_validated():
    sgd = rt.SGD([np.ones(3)], lr=0.1, momentum=0.9)
    sgd.lr, sgd.momentum, sgd.weight_decay, sgd.max_grad_norm = 0.2, 0.5, 0.01, 1.0
    assert (sgd.lr, sgd.momentum, sgd.weight_decay, sgd.max_grad_norm) == (0.2, 0.5, 0.01, 1.0)
    sgd.max_grad_norm = None
    sgd.nesterov = True
    with pytest.raises(ValueError, match="nesterov"):
        sgd.momentum = 0.0
    with pytest.raises(ValueError, match="lr"):
        sgd.lr = float("nan")
    assert sgd.momentum == 0.5 and sgd.nesterov

    adam = rt.AdamW([np.ones(3)])
    adam.betas = [0.5, 0.6]
    assert adam.betas == (0.5, 0.6)
    for attribute, value in [("betas", (1.0, 0.9)), ("eps", -1.0), ("max_grad_norm", 0.0)]:
        with pytest.raises(ValueError, match=attribute):
            setattr(adam, attribute, value)
    with pytest.raises(AttributeError):
        adam.amsgrad = True


def test_lr_change_takes_effect_on_the_next_step():
    """A scheduler-style lr change: SGD with lr 0 leaves parameters unchanged."""
    params = [np.ones(4)]
    sgd = rt.SGD(params, lr=0.1)
    sgd.lr = 0.0
    sgd.step([np.ones(4)])
    assert np.array_equal(params[0], np.ones(4))
    sgd.lr = 0.5
    sgd.step([np.ones(4)])
    assert np.array_equal(params[0], np.full(4, 0.5))


def test_introspection():
    params = [np.ones((2, 3), np.float32), np.ones(5)]
    adamw = rt.AdamW(params, max_grad_norm=1.0)
    assert isinstance(adamw, rt.Adam) and isinstance(adamw, rt.Optimizer)
    with pytest.raises(TypeError):
        rt.Optimizer()
    assert adamw.param_count == 11
    assert all(a is b for a, b in zip(adamw.params, params))
    assert adamw.last_grad_norm is None and adamw.step_count == 0
    assert repr(adamw) == (
        "AdamW(2 arrays, 11 parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-08, "
        "weight_decay=0.01, amsgrad=False, max_grad_norm=1.0, check_finite=True)"
    )
    assert repr(rt.SGD(params, lr=0.1)).startswith("SGD(2 arrays, 11 parameters, lr=0.1,")


# --- Loaded state is validated as strictly as constructor arguments (issue 13) -------------


def _poison(index, value):
    def mutate(d, key):
        d["state"][0][key] = d["state"][0][key].copy()
        d["state"][0][key].flat[index] = value

    return mutate


@pytest.mark.parametrize(
    ("key", "value", "what"),
    [
        ("exp_avg", np.nan, "a non-finite value"),
        ("exp_avg", np.inf, "a non-finite value"),
        ("exp_avg_sq", -np.inf, "a non-finite value"),
        ("exp_avg_sq", -1e-3, "a negative value"),
    ],
)
def test_load_rejects_non_finite_and_negative_moments(key, value, what):
    optimizer, saved = saved_adam()
    before = optimizer.state_dict()
    _poison(4, value)(saved, key)
    pattern = rf"^state_dict\['state'\]\[0\]\['{key}'\]: contains {what} .* at flat index 4$"
    with pytest.raises(ValueError, match=pattern):
        optimizer.load_state_dict(saved)
    assert np.array_equal(optimizer.state_dict()["state"][0][key], before["state"][0][key])


def _amsgrad_adam():
    params = [np.ones((3, 2))]
    optimizer = rt.Adam(params, lr=0.1, amsgrad=True)
    optimizer.step([np.full((3, 2), 0.5)])
    optimizer.step([np.full((3, 2), 0.1)])
    return optimizer, optimizer.state_dict()


def test_load_checks_max_exp_avg_sq():
    optimizer, saved = _amsgrad_adam()
    # AMSGrad's running maximum is never below the current second moment.
    assert (saved["state"][0]["max_exp_avg_sq"] >= saved["state"][0]["exp_avg_sq"]).all()
    bad = dict(saved, state=[dict(saved["state"][0])])
    bad["state"][0]["max_exp_avg_sq"] = saved["state"][0]["exp_avg_sq"] * 0.5
    with pytest.raises(ValueError, match=r"\['max_exp_avg_sq'\]: below exp_avg_sq at flat index 0"):
        optimizer.load_state_dict(bad)
    bad["state"][0]["max_exp_avg_sq"] = -saved["state"][0]["exp_avg_sq"]
    with pytest.raises(ValueError, match=r"\['max_exp_avg_sq'\]: contains a negative value"):
        optimizer.load_state_dict(bad)
    bad["state"][0].pop("max_exp_avg_sq")
    with pytest.raises(ValueError, match=r"\[0\]: missing buffer 'max_exp_avg_sq'"):
        optimizer.load_state_dict(bad)
    optimizer.load_state_dict(saved)  # the genuine state still loads
    assert optimizer.step_count == 2


def test_sgd_momentum_buffer_is_required_after_a_step():
    params = [np.ones(3)]
    optimizer = rt.SGD(params, lr=0.1, momentum=0.9)
    optimizer.step([np.ones(3)])
    saved = optimizer.state_dict()
    missing = dict(saved, state=[{}])
    with pytest.raises(ValueError, match=r"\[0\]: missing buffer 'momentum_buffer'"):
        optimizer.load_state_dict(missing)
    none = dict(saved, state=[{"momentum_buffer": None}])
    with pytest.raises(ValueError, match="missing buffer 'momentum_buffer'"):
        optimizer.load_state_dict(none)
    nan = dict(saved, state=[{"momentum_buffer": np.array([0.0, np.nan, 0.0])}])
    with pytest.raises(ValueError, match=r"\['momentum_buffer'\]: contains a non-finite value"):
        optimizer.load_state_dict(nan)
    # Before any step (or without momentum) no buffer is needed, as in torch.
    fresh = rt.SGD([np.ones(3)], lr=0.1, momentum=0.9)
    fresh.load_state_dict(dict(saved, step=0, state=[{}]))
    assert fresh.step_count == 0


@pytest.mark.parametrize("step", [True, 1.0, "3", 2**64])
def test_load_rejects_non_integer_or_out_of_range_steps(step):
    optimizer, saved = saved_adam()
    with pytest.raises((TypeError, ValueError), match=r"state_dict\['step'\]"):
        optimizer.load_state_dict(dict(saved, step=step))
    assert optimizer.step_count == saved["step"]
