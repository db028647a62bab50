"""Trajectories against ``torch.optim`` for every option combination, and ``clip_grad_norm``
against ``torch.nn.utils.clip_grad_norm_``. Skipped when PyTorch is not installed."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype
from optim_cases import (
    RTOL,
    Problem,
    assert_trajectories_close,
    each_adam,
    each_sgd,
    ours_trajectory,
)

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional extra 'torch')")

STEPS = 200

#: The NumPy reference's tolerances hold against torch too, although torch's vectorised CPU
#: kernels fuse multiply-adds and compute the clipping norm in the gradients' dtype (we do
#: neither): the worst deviation seen over the grid is 2.1e-7 (float32) and 4.3e-16 (float64)
#: of the parameters' scale after 200 steps.
TORCH_RTOL = RTOL


def run_torch(name: str, options: dict, problem: Problem, steps: int) -> list[np.ndarray]:
    """``torch.optim.<name>`` over the problem's starting point; clipping with
    ``clip_grad_norm_`` before each step when ``max_grad_norm`` is set."""
    options = dict(options)
    max_grad_norm = options.pop("max_grad_norm")
    params = [torch.tensor(p, requires_grad=True) for p in problem.fresh_params()]
    optimizer = getattr(torch.optim, name)(params, **options)
    for _ in range(steps):
        grads = problem.grads([p.detach().numpy() for p in params])
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g)
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
    return [p.detach().numpy() for p in params]


def check_against_torch(name: str, options: dict, dtype) -> None:
    ours_params, _, _ = ours_trajectory(name, options, dtype, STEPS)
    expected = run_torch(name, options, Problem(0, dtype), STEPS)
    context = f"torch.optim.{name} {options} {np.dtype(dtype).name}"
    rtol = TORCH_RTOL[np.dtype(dtype)]
    assert_trajectories_close(ours_params, expected, dtype, rtol=rtol, context=context)


@each_dtype
@each_sgd
def test_sgd_matches_torch(options, dtype):
    check_against_torch("SGD", options, dtype)


@each_dtype
@each_adam
def test_adam_matches_torch(name, options, dtype):
    check_against_torch(name, options, dtype)


@each_dtype
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(dtype, max_norm):
    rng = np.random.default_rng(0)
    grads = [np.array(rng.standard_normal(s), dtype=dtype) for s in ((1000,), (7, 3), ())]
    tensors = [torch.tensor(g, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.tensor(g)
    want = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm))
    got = rt.clip_grad_norm(grads, max_norm)
    rtol = TORCH_RTOL[np.dtype(dtype)]
    assert got == pytest.approx(want, rel=rtol)
    for g, t in zip(grads, tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=rtol, atol=rtol)
