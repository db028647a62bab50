"""MultiObjectiveLoss: fixed weights, Kendall uncertainty weighting (values and gradients, by
finite differences), GradNorm against a hand computation of Chen et al.'s update, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import ruvector_training as rt
from ruvector_training.multi_objective import COMPONENTS

VALUES = {"infonce": 2.0, "local": 0.5, "spectral": 3.0, "reconstruction": 1.25}


def test_fixed_weights_default_and_custom():
    total, (multipliers, grad_log_vars) = rt.MultiObjectiveLoss()(rt.LossComponents(**VALUES))
    assert total == pytest.approx(2.0 + 0.1 * 0.5 + 0.01 * 3.0 + 0.1 * 1.25)
    assert grad_log_vars is None
    assert (multipliers.infonce, multipliers.local, multipliers.spectral) == (1.0, 0.1, 0.01)
    loss = rt.MultiObjectiveLoss(rt.LossWeights(infonce=0.5, local=2.0))
    total, (multipliers, _) = loss({"infonce": 2.0, "local": 0.5})
    assert total == 0.5 * 2.0 + 2.0 * 0.5
    assert multipliers.spectral is None and multipliers.reconstruction is None


def test_uncertainty_values_and_gradients():
    loss = rt.MultiObjectiveLoss(adaptive="uncertainty")
    loss.log_vars = [0.3, -0.7, 1.1, 0.0]
    values = {"infonce": 2.0, "local": 0.5, "spectral": 3.0}
    total, (multipliers, grad) = loss(values)
    s = loss.log_vars.copy()
    expected = sum(math.exp(-s[i]) * VALUES[n] + s[i] for i, n in enumerate(COMPONENTS[:3]))
    assert total == pytest.approx(expected, rel=1e-14)
    assert multipliers.local == pytest.approx(math.exp(0.7))
    assert grad[3] == 0.0  # absent component
    h = 1e-6
    for i in range(4):
        plus, minus = s.copy(), s.copy()
        plus[i] += h
        minus[i] -= h
        loss.log_vars = plus
        f_plus = loss(values)[0]
        loss.log_vars = minus
        f_minus = loss(values)[0]
        loss.log_vars = s
        assert grad[i] == pytest.approx((f_plus - f_minus) / (2 * h), abs=1e-8)
    # d total / d L_i by finite differences, too.
    for name in values:
        bumped = dict(values, **{name: values[name] + h})
        lowered = dict(values, **{name: values[name] - h})
        numeric = (loss(bumped)[0] - loss(lowered)[0]) / (2 * h)
        assert getattr(multipliers, name) == pytest.approx(numeric, rel=1e-7)


def test_uncertainty_stationary_point_is_log_loss():
    """At s_i = log L_i the log-variance gradient vanishes (the Kendall optimum)."""
    loss = rt.MultiObjectiveLoss(adaptive="uncertainty")
    loss.log_vars = np.log([VALUES[n] for n in COMPONENTS])
    _, (_, grad) = loss(VALUES)
    np.testing.assert_allclose(grad, 0.0, atol=1e-15)
    # an optimizer can step the array in place
    opt = rt.SGD([loss.log_vars], lr=0.1)
    loss.log_vars = np.zeros(4)
    before = loss(VALUES)[0]
    for _ in range(20):
        opt.step([loss(VALUES)[1][1]])
    assert loss(VALUES)[0] < before


def reference_gradnorm(weights, norms, losses, initial, alpha, lr):
    """Chen et al. 2018, written out for a set of tasks (all arrays over those tasks)."""
    g = weights * norms
    ratio = losses / initial
    r = ratio / ratio.mean()
    target = g.mean() * r**alpha
    grad = np.sign(g - target) * norms
    new = np.maximum(weights - lr * grad, 0.0)
    return new * weights.sum() / new.sum()


def test_gradnorm_matches_reference_and_keeps_the_sum():
    loss = rt.MultiObjectiveLoss()
    first = {"infonce": 4.0, "local": 1.0, "spectral": 2.0}
    loss(first)
    norms = {"infonce": 1.0, "local": 5.0, "spectral": 0.3}
    w0 = loss.weights.as_array()[:3]
    updated = loss.gradnorm_update(norms, alpha=1.5, lr=0.05)
    np.testing.assert_array_equal(loss.initial_losses[:3], [4.0, 1.0, 2.0])
    want = reference_gradnorm(
        w0,
        np.array([1.0, 5.0, 0.3]),
        np.array([4.0, 1.0, 2.0]),
        np.array([4.0, 1.0, 2.0]),
        1.5,
        0.05,
    )
    np.testing.assert_allclose(updated.as_array()[:3], want, rtol=1e-14)
    assert updated.reconstruction == 0.1  # not balanced: untouched
    assert updated.as_array()[:3].sum() == pytest.approx(w0.sum(), rel=1e-14)
    # second step: training rates relative to the first losses
    loss({"infonce": 2.0, "local": 0.9, "spectral": 0.5})
    w1 = updated.as_array()[:3]
    second = loss.gradnorm_update(norms, alpha=0.5, lr=0.05)
    want = reference_gradnorm(
        w1,
        np.array([1.0, 5.0, 0.3]),
        np.array([2.0, 0.9, 0.5]),
        np.array([4.0, 1.0, 2.0]),
        0.5,
        0.05,
    )
    np.testing.assert_allclose(second.as_array()[:3], want, rtol=1e-14)
    assert loss.weights == second


def test_attributes_and_bad_inputs():
    loss = rt.MultiObjectiveLoss()
    assert loss.adaptive is None and loss.weights == rt.LossWeights()
    loss.adaptive = "uncertainty"
    loss.weights = rt.LossWeights(local=0.5)
    assert loss.weights.local == 0.5
    with pytest.raises(ValueError, match=r"^adaptive\b"):
        loss.adaptive = "gradnorm"
    with pytest.raises(TypeError, match=r"^weights\b"):
        loss.weights = {"local": 1.0}
    with pytest.raises(ValueError, match=r"^local\b"):
        rt.LossWeights(local=-1.0)
    with pytest.raises(ValueError, match=r"^log_vars\b"):
        loss.log_vars = [0.0, 1.0]
    with pytest.raises(ValueError, match=r"^log_vars\b"):
        loss.log_vars = [0.0, np.nan, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^spectral\b"):
        loss({"spectral": float("nan")})
    with pytest.raises(ValueError, match=r"^components\b"):
        loss({"triplet": 1.0})
    with pytest.raises(ValueError, match=r"^components\b"):
        loss({})
    with pytest.raises(TypeError, match=r"^components\b"):
        loss([1.0])
    fresh = rt.MultiObjectiveLoss()
    with pytest.raises(ValueError, match=r"^grad_norms\b"):
        fresh.gradnorm_update({"infonce": 1.0})
    fresh({"infonce": 1.0, "local": 0.0})
    with pytest.raises(ValueError, match=r"^grad_norms\b"):
        fresh.gradnorm_update({"spectral": 1.0})
    with pytest.raises(ValueError, match=r"^grad_norms\b"):
        fresh.gradnorm_update({"infonce": 1.0, "local": 1.0})  # initial local loss 0
    fresh.initial_losses = None
    with pytest.raises(ValueError, match=r"^grad_norms.infonce\b"):
        fresh.gradnorm_update({"infonce": -1.0})
    with pytest.raises(ValueError, match=r"^alpha\b"):
        fresh.gradnorm_update({"infonce": 1.0}, alpha=-1)
    with pytest.raises(ValueError, match=r"^lr\b"):
        fresh.gradnorm_update({"infonce": 1.0}, lr=0)
