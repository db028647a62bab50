"""A plain NumPy reference for the optimizers (``docs/optimizers.md``).

Each class mirrors ``torch.optim``'s single-tensor implementation operation for operation:
scalars are Python floats computed as torch computes them, then rounded once to the array's
dtype (``t(x)``), and every element-wise operation runs in that dtype in torch's order (NumPy 2
keeps ``float32`` arrays ``float32`` when combined with ``float32`` scalars). Parameters are
updated in place, like the library's optimizers.
"""

from __future__ import annotations

import numpy as np

#: Added to the norm before dividing, as ``torch.nn.utils.clip_grad_norm_``.
CLIP_EPS = 1e-6


def global_norm(grads) -> float:
    """L2 norm of all arrays as one vector, in float64."""
    return float(np.sqrt(sum(np.sum(np.square(g.astype(np.float64))) for g in grads)))


def clip_coefficient(norm: float, max_norm: float | None) -> float:
    """``min(max_norm / (norm + 1e-6), 1)``, or 1 without clipping."""
    if max_norm is None:
        return 1.0
    return min(max_norm / (norm + CLIP_EPS), 1.0)


def clip_grad_norm(grads, max_norm: float) -> float:
    """Clips ``grads`` in place like ``torch.nn.utils.clip_grad_norm_``; returns the norm."""
    norm = global_norm(grads)
    coefficient = clip_coefficient(norm, max_norm)
    if coefficient < 1.0:
        for g in grads:
            g *= g.dtype.type(coefficient)
    return norm


class SGDReference:
    """``torch.optim.SGD`` (momentum, dampening, Nesterov, weight decay) plus fused clipping."""

    def __init__(
        self,
        params,
        lr,
        momentum=0.0,
        dampening=0.0,
        nesterov=False,
        weight_decay=0.0,
        max_grad_norm=None,
    ):
        self.params = params
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.nesterov, self.weight_decay, self.max_grad_norm = nesterov, weight_decay, max_grad_norm
        self.buffers = [None] * len(params)

    def step(self, grads) -> float:
        """One update of every parameter; returns the gradient norm before clipping."""
        norm = global_norm(grads)
        scale = clip_coefficient(norm, self.max_grad_norm)
        for i, (p, g) in enumerate(zip(self.params, grads)):
            t = p.dtype.type
            d = g * t(scale)
            if self.weight_decay != 0:
                d = d + t(self.weight_decay) * p
            if self.momentum != 0:
                d = self._momentum(i, d, t)
            p += t(-self.lr) * d
        return norm

    def _momentum(self, i, d, t):
        """Updates buffer ``i`` with ``d`` and returns the step direction."""
        if self.buffers[i] is None:
            self.buffers[i] = d.copy()
        else:
            self.buffers[i] = self.buffers[i] * t(self.momentum) + t(1 - self.dampening) * d
        if self.nesterov:
            return d + t(self.momentum) * self.buffers[i]
        return self.buffers[i]


class AdamReference:
    """``torch.optim.Adam`` (``decoupled=False``) or ``AdamW`` (``True``), AMSGrad, clipping."""

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        decoupled=False,
        max_grad_norm=None,
    ):
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.amsgrad, self.decoupled, self.max_grad_norm = amsgrad, decoupled, max_grad_norm
        self.exp_avg = [np.zeros_like(p) for p in params]
        self.exp_avg_sq = [np.zeros_like(p) for p in params]
        self.max_exp_avg_sq = [np.zeros_like(p) for p in params]
        self.steps = 0

    def step(self, grads) -> float:
        """One update of every parameter; returns the gradient norm before clipping."""
        norm = global_norm(grads)
        scale = clip_coefficient(norm, self.max_grad_norm)
        self.steps += 1
        for i, (p, g) in enumerate(zip(self.params, grads)):
            self._update(i, p, g, scale)
        return norm

    def _update(self, i, p, g, scale):
        beta1, beta2 = self.betas
        t = p.dtype.type
        bias_correction1 = 1 - beta1**self.steps
        bias_correction2 = 1 - beta2**self.steps
        step_size = self.lr / bias_correction1
        grad = g * t(scale)
        if not self.decoupled and self.weight_decay != 0:
            grad = grad + t(self.weight_decay) * p
        decay = 1 - self.lr * self.weight_decay if self.decoupled else 1.0
        decayed = p * t(decay)
        m = self._lerp(self.exp_avg[i], grad, t(1 - beta1))
        v = self.exp_avg_sq[i] * t(beta2) + t(1 - beta2) * grad * grad
        self.exp_avg[i], self.exp_avg_sq[i] = m, v
        if self.amsgrad:
            self.max_exp_avg_sq[i] = np.maximum(self.max_exp_avg_sq[i], v)
            v = self.max_exp_avg_sq[i]
        denom = np.sqrt(v) / t(bias_correction2**0.5) + t(self.eps)
        p[...] = decayed + t(-step_size) * m / denom

    @staticmethod
    def _lerp(start, end, weight):
        """``torch.lerp``: ``start + w (end - start)`` for ``|w| < 0.5``, else from ``end``."""
        if weight < 0.5:
            return start + weight * (end - start)
        return end + (weight - weight.dtype.type(1)) * (end - start)
