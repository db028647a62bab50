"""Shared pieces of the optimizer tests: random problems, the option grids, and runners."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import ruvector_training as rt
from reference_optim import AdamReference, SGDReference

#: Parameter shapes of the random problems: 1-D, 2-D, 3-D and a scalar.
SHAPES = ((7,), (3, 5), (2, 3, 4), ())

#: ``rtol`` per dtype against the NumPy reference (the issue's contract).
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}

#: Clipping threshold used by the grids: the random gradients' norm is about 5, so it clips.
MAX_NORM = 0.5


class Problem:
    """A random quadratic ``sum_i 0.5 * c_i (p_i - x_i)^2`` per array plus per-step noise.

    The gradient depends on the parameters, so a trajectory is a real optimisation run; the
    noise keeps every step's gradient different (and some components negative and positive).
    """

    def __init__(self, seed: int, dtype, shapes=SHAPES):
        rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.start = [np.array(rng.standard_normal(s), dtype=dtype) for s in shapes]
        self.target = [np.array(rng.standard_normal(s)) for s in shapes]
        self.curvature = [np.array(rng.uniform(0.5, 2.0, s)) for s in shapes]
        self.noise = np.random.default_rng(seed + 1)

    def fresh_params(self) -> list[np.ndarray]:
        """Copies of the starting point (``np.array`` so 0-d shapes stay arrays)."""
        return [np.array(p, copy=True) for p in self.start]

    def grads(self, params) -> list[np.ndarray]:
        """The gradient at ``params`` plus fresh noise, in the problem's dtype."""
        return [
            np.array(
                c * (np.asarray(p, np.float64) - x) + 0.3 * self.noise.standard_normal(x.shape),
                dtype=self.dtype,
            )
            for p, x, c in zip(params, self.target, self.curvature)
        ]


def sgd_options():
    """Every valid SGD option combination (Nesterov needs momentum and no dampening)."""
    grid = itertools.product((0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.05), (None, MAX_NORM))
    for momentum, dampening, nesterov, weight_decay, max_grad_norm in grid:
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        yield {
            "lr": 0.05,
            "momentum": momentum,
            "dampening": dampening,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
            "max_grad_norm": max_grad_norm,
        }


def adam_options():
    """Every Adam/AdamW option combination; ``betas[0] < 0.5`` takes torch's other lerp branch."""
    grid = itertools.product(
        ("Adam", "AdamW"), (0.0, 0.1), (False, True), (None, MAX_NORM), ((0.9, 0.999), (0.3, 0.9))
    )
    for name, weight_decay, amsgrad, max_grad_norm, betas in grid:
        yield (
            name,
            {
                "lr": 0.01,
                "betas": betas,
                "weight_decay": weight_decay,
                "amsgrad": amsgrad,
                "max_grad_norm": max_grad_norm,
            },
        )


def options_id(options: dict) -> str:
    """A short test id: the non-default options."""
    parts = [f"{k}={v}" for k, v in options.items() if k != "lr" and v not in (0.0, False, None)]
    return ",".join(parts) or "plain"


def make_ours(name: str, params, options: dict):
    """The library optimizer ``name`` (``"SGD"``, ``"Adam"``, ``"AdamW"``) over ``params``."""
    return getattr(rt, name)(params, **options)


def make_reference(name: str, params, options: dict):
    """The NumPy reference of ``make_ours(name, params, options)``."""
    if name == "SGD":
        return SGDReference(params, **options)
    if name == "AdamW":
        return AdamReference(params, decoupled=True, **{"weight_decay": 0.01, **options})
    return AdamReference(params, **options)


def run_trajectory(problem: Problem, optimizer, params, steps: int) -> list[float]:
    """Steps ``optimizer`` (over ``params``) ``steps`` times on ``problem``; returns the norms."""
    return [optimizer.step(problem.grads(params)) for _ in range(steps)]


def ours_trajectory(name: str, options: dict, dtype, steps: int, seed: int = 0):
    """``(params, optimizer, norms)`` after ``steps`` steps of our ``name`` on ``Problem(seed)``."""
    problem = Problem(seed, dtype)
    params = problem.fresh_params()
    optimizer = make_ours(name, params, options)
    norms = run_trajectory(problem, optimizer, params, steps)
    return params, optimizer, norms


def assert_trajectories_close(actual, expected, dtype, rtol=None, context=""):
    """Every array within ``rtol`` (default :data:`RTOL`) of the reference, relative to the
    array's largest magnitude (parameters cross zero, so a purely elementwise relative test
    would demand more than the dtype can give near zero)."""
    rtol = RTOL[np.dtype(dtype)] if rtol is None else rtol
    for i, (got, want) in enumerate(zip(actual, expected)):
        assert got.dtype == np.dtype(dtype), f"{context} params[{i}] dtype {got.dtype}"
        scale = max(float(np.max(np.abs(want), initial=0.0)), 1.0)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=context)


each_sgd = pytest.mark.parametrize("options", list(sgd_options()), ids=options_id)
each_adam = pytest.mark.parametrize(
    ("name", "options"),
    list(adam_options()),
    ids=[f"{name}-{options_id(o)}" for name, o in adam_options()],
)
