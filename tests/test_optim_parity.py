"""Trajectories of every optimizer option combination against the NumPy reference, fused
clipping against explicit clipping, mixed dtypes, and convergence on least squares."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype
from optim_cases import (
    Problem,
    assert_trajectories_close,
    each_adam,
    each_sgd,
    make_ours,
    make_reference,
    ours_trajectory,
    run_trajectory,
)

STEPS = 200


def check_against_reference(name: str, options: dict, dtype, seed: int = 0) -> None:
    """Runs ours and the reference for :data:`STEPS` steps on the same problem and compares
    parameters, returned norms and (for Adam) the moment buffers."""
    ours_params, ours, ours_norms = ours_trajectory(name, options, dtype, STEPS, seed)
    ref_problem = Problem(seed, dtype)
    ref_params = ref_problem.fresh_params()
    reference = make_reference(name, ref_params, options)
    ref_norms = run_trajectory(ref_problem, reference, ref_params, STEPS)
    context = f"{name} {options} {np.dtype(dtype).name}"
    assert_trajectories_close(ours_params, ref_params, dtype, context=context)
    np.testing.assert_allclose(ours_norms, ref_norms, rtol=1e-9, err_msg=context)
    assert ours.step_count == STEPS
    assert ours.last_grad_norm == ours_norms[-1]
    if name != "SGD":
        state = ours.state_dict()["state"]
        moments = [s["exp_avg"] for s in state]
        assert_trajectories_close(moments, reference.exp_avg, dtype, context=context)


@each_dtype
@each_sgd
def test_sgd_matches_reference(options, dtype):
    check_against_reference("SGD", options, dtype)


@each_dtype
@each_adam
def test_adam_matches_reference(name, options, dtype):
    check_against_reference(name, options, dtype)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_large_arrays_span_several_chunks(name):
    """Arrays longer than one 64K-element parallel chunk, float32, with clipping."""
    options = {"lr": 0.01, "max_grad_norm": 1.0}
    if name == "SGD":
        options.update(momentum=0.9, nesterov=True)
    else:
        options.update(amsgrad=True)
    shapes = ((300, 700), (5,))
    ours_problem, ref_problem = (Problem(3, np.float32, shapes) for _ in range(2))
    ours_params, ref_params = ours_problem.fresh_params(), ref_problem.fresh_params()
    ours = make_ours(name, ours_params, options)
    reference = make_reference(name, ref_params, options)
    run_trajectory(ours_problem, ours, ours_params, 10)
    run_trajectory(ref_problem, reference, ref_params, 10)
    assert_trajectories_close(ours_params, ref_params, np.float32, context=name)


BIT_EXACT_CASES = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "betas": (0.3, 0.9)}),
]


@pytest.mark.parametrize(("name", "options"), BIT_EXACT_CASES)
@each_dtype
def test_multi_chunk_steps_are_bit_identical_to_the_reference(name, options, dtype):
    """Without clipping every element-wise operation is torch's, in torch's order, so whole
    arrays spanning several parallel chunks (plus ragged tails and a scalar) match the reference
    bit for bit, including the bias-correction division done by multiply and FMA corrections."""
    shapes = ((3, 70_001), (1, 63), ())
    ours_problem, ref_problem = (Problem(11, dtype, shapes) for _ in range(2))
    ours_params, ref_params = ours_problem.fresh_params(), ref_problem.fresh_params()
    ours = make_ours(name, ours_params, options)
    reference = make_reference(name, ref_params, options)
    run_trajectory(ours_problem, ours, ours_params, 5)
    run_trajectory(ref_problem, reference, ref_params, 5)
    for got, want in zip(ours_params, ref_params):
        np.testing.assert_array_equal(got, want, err_msg=f"{name} {options}")


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
@each_dtype
def test_fused_clipping_equals_clipping_first(name, dtype):
    """``max_grad_norm=c`` is bit-identical to ``clip_grad_norm(grads, c)`` then a step, and
    leaves the gradient arrays untouched."""
    base = {"lr": 0.05, "momentum": 0.9} if name == "SGD" else {"lr": 0.05}
    problem = Problem(5, dtype)
    fused_params, explicit_params = problem.fresh_params(), problem.fresh_params()
    fused = make_ours(name, fused_params, {**base, "max_grad_norm": 0.5})
    explicit = make_ours(name, explicit_params, base)
    for _ in range(30):
        grads = problem.grads(fused_params)
        kept = [g.copy() for g in grads]
        norm = fused.step(grads)
        assert all(np.array_equal(g, k) for g, k in zip(grads, kept))
        assert rt.clip_grad_norm(grads, 0.5) == norm
        explicit.step(grads)
        assert all(np.array_equal(a, b) for a, b in zip(fused_params, explicit_params))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_mixed_dtypes_in_one_optimizer(name):
    """float32 and float64 parameters side by side: each follows its own dtype's reference,
    and clipping uses the norm over all of them."""
    options = {"lr": 0.02, "max_grad_norm": 0.5}
    if name == "SGD":
        options["momentum"] = 0.9
    problems = [Problem(11, np.float32, ((4, 3),)), Problem(12, np.float64, ((6,),))]
    ours_params = [p.fresh_params()[0] for p in problems]
    ref_params = [p.fresh_params()[0] for p in problems]
    ours = make_ours(name, ours_params, options)
    reference = make_reference(name, ref_params, options)
    for _ in range(50):
        grads = [p.grads([x])[0] for p, x in zip(problems, ours_params)]
        ours.step(grads)
        reference.step([g.copy() for g in grads])
    assert [p.dtype for p in ours_params] == [np.float32, np.float64]
    assert_trajectories_close(ours_params[:1], ref_params[:1], np.float32)
    assert_trajectories_close(ours_params[1:], ref_params[1:], np.float64)


def least_squares(seed: int = 0):
    """``(A, b, x*)``: a well-conditioned 200 x 10 problem and its closed-form solution."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((200, 10))
    b = a @ rng.standard_normal(10) + 0.1 * rng.standard_normal(200)
    return a, b, np.linalg.lstsq(a, b, rcond=None)[0]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("SGD", {"lr": 0.2, "momentum": 0.9}),
        ("Adam", {"lr": 0.05}),
        ("AdamW", {"lr": 0.05, "weight_decay": 0.0}),
    ],
)
def test_least_squares_converges_to_closed_form(name, options):
    """Full-batch gradient of ``||Ax - b||^2 / (2n)``; Adam's lr decays (set between steps,
    as a scheduler would) so it settles instead of hovering."""
    a, b, solution = least_squares()
    x = np.zeros(10)
    optimizer = make_ours(name, [x], options)
    for step in range(2000):
        if name != "SGD":
            optimizer.lr = options["lr"] * 0.997**step
        optimizer.step([a.T @ (a @ x - b) / len(b)])
    np.testing.assert_allclose(x, solution, atol=1e-6)
