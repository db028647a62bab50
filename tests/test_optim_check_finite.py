"""``check_finite=False``: the opt-in fast path checks gradients inside the update pass. It must
give bit-identical trajectories and norms, and still raise on NaN/Inf (after the step)."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype

OPTIMIZERS = {
    "AdamW": lambda p, **kw: rt.AdamW(p, lr=1e-2, **kw),
    "Adam-amsgrad": lambda p, **kw: rt.Adam(p, lr=1e-2, amsgrad=True, weight_decay=0.1, **kw),
    "SGD": lambda p, **kw: rt.SGD(p, lr=0.1, **kw),
    "SGD-nesterov": lambda p, **kw: rt.SGD(p, lr=0.1, momentum=0.9, nesterov=True, **kw),
}


def make_params(rng, dtype):
    # Several chunks (the optimizers work in 65,536-element chunks) and a tiny array.
    return [rng.standard_normal((3, 70_001)).astype(dtype), rng.standard_normal(3).astype(dtype)]


@each_dtype
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fast_path_is_bit_identical_with_the_same_norms(dtype, name):
    rng = np.random.default_rng(0)
    checked = make_params(rng, dtype)
    fast = [p.copy() for p in checked]
    slow_opt = OPTIMIZERS[name](checked)
    fast_opt = OPTIMIZERS[name](fast, check_finite=False)
    assert slow_opt.check_finite and not fast_opt.check_finite
    for _ in range(4):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in checked]
        assert fast_opt.step(grads) == slow_opt.step(grads)
        assert fast_opt.last_grad_norm == slow_opt.last_grad_norm
    for a, b in zip(checked, fast):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fast_path_still_raises_on_nan_after_applying_the_step(name):
    rng = np.random.default_rng(1)
    params = make_params(rng, np.float32)
    opt = OPTIMIZERS[name](params, check_finite=False)
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    grads[1][2] = np.inf
    before = params[0].copy()
    applied = (
        r"grads\[1\]: contains a non-finite value \(inf\) at flat index 2; check_finite=False, so"
    )
    with pytest.raises(ValueError, match=applied + " the step was applied"):
        opt.step(grads)
    assert opt.step_count == 1
    assert not np.array_equal(params[0], before)


def test_clipping_always_checks_first_even_with_check_finite_off():
    params = [np.ones(10, dtype=np.float32)]
    opt = rt.AdamW(params, max_grad_norm=1.0, check_finite=False)
    grads = [np.full(10, np.nan, dtype=np.float32)]
    with pytest.raises(
        ValueError, match=r"grads\[0\]: contains a non-finite value \(NaN\) at flat index 0$"
    ):
        opt.step(grads)
    np.testing.assert_array_equal(params[0], 1.0)
    assert opt.step_count == 0


def test_attribute_is_writable_between_steps():
    params = [np.ones(4)]
    opt = rt.SGD(params, lr=0.1)
    opt.check_finite = False
    assert not opt.check_finite
    opt.check_finite = True
    with pytest.raises(ValueError, match=r"grads\[0\]: contains a non-finite"):
        opt.step([np.array([1.0, np.nan, 0.0, 0.0])])
    np.testing.assert_array_equal(params[0], 1.0)
