"""Bad input to the optimizers: a clear exception naming the argument, and nothing modified."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from optim_cases import make_ours

NAMES = ("SGD", "Adam", "AdamW")
each_optimizer = pytest.mark.parametrize("name", NAMES)


def setup(name: str, **options):
    """An optimizer over a (3, 4) float32 and a (5,) float64 parameter, stepped once (so every
    buffer exists), plus its parameters and a valid gradient list."""
    params = [np.ones((3, 4), np.float32), np.linspace(-1, 1, 5)]
    grads = [np.full((3, 4), 0.5, np.float32), np.linspace(1, 2, 5)]
    options = {"lr": 0.1, "momentum": 0.9, **options} if name == "SGD" else {"lr": 0.1, **options}
    optimizer = make_ours(name, params, options)
    optimizer.step(grads)
    return optimizer, params, grads


def snapshot(optimizer, params):
    """Copies of the parameters and the state dict, to prove nothing changed."""
    return [p.copy() for p in params], optimizer.state_dict()


def assert_unchanged(optimizer, params, before) -> None:
    old_params, old_state = before
    assert all(np.array_equal(p, q) for p, q in zip(params, old_params))
    state = optimizer.state_dict()
    assert state["step"] == old_state["step"]
    for entry, old in zip(state["state"], old_state["state"]):
        assert all(np.array_equal(entry[k], old[k]) for k in old)


@each_optimizer
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_gradient_is_rejected_and_changes_nothing(name, bad_value):
    optimizer, params, grads = setup(name, max_grad_norm=1.0)
    before = snapshot(optimizer, params)
    grads[1][3] = bad_value
    with pytest.raises(ValueError, match=r"grads\[1\]: contains a non-finite value .* index 3"):
        optimizer.step(grads)
    assert_unchanged(optimizer, params, before)
    assert optimizer.last_grad_norm is not None


@each_optimizer
@pytest.mark.parametrize(
    ("make_grads", "error", "match"),
    [
        (lambda g: g[:1], ValueError, r"grads: expected 2 arrays \(one per parameter\), got 1"),
        (lambda g: g + [g[1]], ValueError, "expected 2 arrays"),
        (lambda g: [g[0].reshape(4, 3), g[1]], ValueError, r"grads\[0\]: expected shape"),
        (lambda g: [g[0].ravel(), g[1]], ValueError, r"grads\[0\]: expected a 2-D array"),
        (lambda g: [g[0].astype(np.float64), g[1]], TypeError, r"grads\[0\]: expected dtype"),
        (lambda g: [g[0], g[1].astype(np.int64)], TypeError, r"grads\[1\]: expected dtype"),
        (lambda g: [g[0], list(g[1])], TypeError, r"grads\[1\]: expected a numpy.ndarray"),
        (lambda g: g[0], TypeError, "grads: expected a list of numpy arrays"),
        (lambda g: 3.0, TypeError, "grads: expected a list"),
    ],
)
def test_mismatched_gradients(name, make_grads, error, match):
    optimizer, params, grads = setup(name)
    before = snapshot(optimizer, params)
    with pytest.raises(error, match=match):
        optimizer.step(make_grads(grads))
    assert_unchanged(optimizer, params, before)


@each_optimizer
def test_gradient_aliasing_a_parameter_is_refused(name):
    optimizer, params, grads = setup(name)
    before = snapshot(optimizer, params)
    for aliased in ([params[0], grads[1]], [grads[0], params[1][::-1]]):
        with pytest.raises(ValueError, match="shares memory with one of the gradients"):
            optimizer.step(aliased)
    assert_unchanged(optimizer, params, before)
    optimizer.step(grads)  # the failed borrows were released


@each_optimizer
def test_non_contiguous_gradients_are_read_correctly(name):
    first, params_a, grads = setup(name)
    second, params_b, _ = setup(name)
    strided = [np.asfortranarray(grads[0]), np.repeat(grads[1], 2)[::2]]
    assert not strided[0].flags.c_contiguous and not strided[1].flags.c_contiguous
    first.step(grads)
    second.step(strided)
    assert all(np.array_equal(a, b) for a, b in zip(params_a, params_b))


@pytest.mark.parametrize(
    ("make_params", "error", "match"),
    [
        (lambda: [], ValueError, "params: expected at least one array, got an empty list"),
        (lambda: np.ones(3), TypeError, "got a single numpy.ndarray"),
        (lambda: None, TypeError, "params: expected a list of numpy arrays, got NoneType"),
        (lambda: [[1.0, 2.0]], TypeError, r"params\[0\]: expected a numpy.ndarray .* got list"),
        (lambda: [np.ones(3, np.int64)], TypeError, r"params\[0\]: expected dtype float32"),
        (lambda: [np.ones(3, np.float16)], TypeError, r"params\[0\]: expected dtype"),
        (lambda: [np.ones(6)[::2]], ValueError, r"params\[0\]: must be C-contiguous"),
        (lambda: [np.ones((3, 4), order="F")], ValueError, r"params\[0\]: must be C-contiguous"),
        (lambda: [read_only(np.ones(3))], ValueError, r"params\[0\]: is read-only"),
        (lambda: [misaligned()], ValueError, r"params\[0\]: must be aligned"),
        (lambda: same_twice(), ValueError, r"params\[1\]: is the same array as params\[0\]"),
        (lambda: overlapping(), ValueError, r"params\[1\]: shares memory with another array"),
    ],
)
@each_optimizer
def test_bad_params(name, make_params, error, match):
    with pytest.raises(error, match=match):
        make_ours(name, make_params(), {"lr": 0.1})


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def misaligned() -> np.ndarray:
    """A float64 array starting one byte into its buffer."""
    return np.frombuffer(bytearray(8 * 4 + 1), dtype=np.uint8)[1:].view(np.float64)


def same_twice():
    x = np.ones(3)
    return [x, x]


def overlapping():
    x = np.ones(6)
    return [x, x[2:]]


@each_optimizer
def test_params_may_be_any_iterable(name):
    params = (np.ones(2), np.ones(3, np.float32))
    optimizer = make_ours(name, (p for p in params), {"lr": 0.1})
    optimizer.step((np.ones(2), np.ones(3, np.float32)))
    assert params[0][0] != 1.0 and params[1][0] != 1.0


@each_optimizer
def test_params_changed_after_construction_are_refused(name):
    optimizer, params, grads = setup(name)
    params[1].flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[1\]: is read-only"):
        optimizer.step(grads)
    params[1].flags.writeable = True
    params[0].shape = (4, 3)
    with pytest.raises(ValueError, match=r"params\[0\]: changed shape from \(3, 4\) to \(4, 3\)"):
        optimizer.step(grads)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"lr": -0.1}, "lr: must be a finite number >= 0, got -0.1"),
        ({"lr": float("inf")}, "lr"),
        ({"lr": 0.1, "weight_decay": -1.0}, "weight_decay"),
        ({"lr": 0.1, "momentum": -0.5}, "momentum"),
        ({"lr": 0.1, "nesterov": True}, "nesterov: Nesterov momentum needs momentum > 0"),
        ({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "dampening == 0"),
        ({"lr": 0.1, "max_grad_norm": 0.0}, "max_grad_norm: must be a finite number > 0"),
        ({"lr": 0.1, "max_grad_norm": float("nan")}, "max_grad_norm"),
    ],
)
def test_bad_sgd_options(options, match):
    with pytest.raises(ValueError, match=match):
        rt.SGD([np.ones(3)], **options)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"lr": -1e-3}, ValueError, "lr"),
        ({"betas": (1.0, 0.999)}, ValueError, r"betas\[0\]: must be in \[0, 1\), got 1"),
        ({"betas": (0.9, -0.1)}, ValueError, r"betas\[1\]"),
        ({"betas": (0.9,)}, ValueError, "expected two values"),
        ({"betas": "ab"}, TypeError, "betas: expected a pair of floats"),
        ({"eps": -1e-8}, ValueError, "eps"),
        ({"weight_decay": -0.01}, ValueError, "weight_decay"),
        ({"max_grad_norm": -1.0}, ValueError, "max_grad_norm"),
    ],
)
def test_bad_adam_options(name, options, error, match):
    with pytest.raises(error, match=match):
        getattr(rt, name)([np.ones(3)], **options)


def test_lr_zero_is_allowed_as_in_torch():
    params = [np.ones(3)]
    rt.Adam(params, lr=0.0).step([np.ones(3)])
    assert np.array_equal(params[0], np.ones(3))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_default_learning_rate_is_torchs(name):
    """Every optimizer defaults to lr=1e-3, as ``torch.optim`` does."""
    optimizer = getattr(rt, name)([np.ones(3)])
    assert optimizer.lr == 1e-3
