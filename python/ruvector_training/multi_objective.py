"""Combining several loss terms into one scalar: fixed weights, Kendall et al. (2018) uncertainty
weighting with learnable log-variances, and GradNorm (Chen et al., 2018) weight balancing.

This is scalar bookkeeping, so it is plain Python: each term's gradients come from its own loss
object, and :meth:`MultiObjectiveLoss.forward` says by how much to scale each of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Union

import numpy as np

from ._checks import check_float

#: The components, in the order of :attr:`MultiObjectiveLoss.log_vars`.
COMPONENTS = ("infonce", "local", "spectral", "reconstruction")

ComponentsLike = Union["LossComponents", dict]


def _check_number(arg: str, value: float, *, minimum: float | None = None) -> float:
    """``float(value)``, or a ``ValueError`` naming ``arg`` unless it is finite (and >= minimum)."""
    return check_float(arg, value, minimum=minimum)


#: Smallest log-variance whose precision ``exp(-s)`` is a finite float64 (``exp(709.78)``).
MIN_LOG_VAR = -math.log(np.finfo(np.float64).max)


def _check_log_vars(array: np.ndarray) -> None:
    """Refuses log-variances whose precision ``exp(-s)`` overflows float64."""
    low = np.flatnonzero(array < MIN_LOG_VAR)
    if low.size:
        i = int(low[0])
        raise ValueError(
            f"log_vars[{i}]: {float(array[i])!r} is too small: exp(-log_vars) overflows float64 "
            f"(must be >= {MIN_LOG_VAR:.2f})"
        )


@dataclass
class LossWeights:
    """Fixed weight of each component (finite, >= 0)."""

    infonce: float = 1.0
    local: float = 0.1
    spectral: float = 0.01
    reconstruction: float = 0.1

    def __post_init__(self) -> None:
        for name in COMPONENTS:
            setattr(self, name, _check_number(name, getattr(self, name), minimum=0.0))

    def as_array(self) -> np.ndarray:
        """The weights as a float64 array in :data:`COMPONENTS` order."""
        return np.array([getattr(self, name) for name in COMPONENTS])


@dataclass
class LossComponents:
    """The value of each loss term for one step; ``None`` for a term that is not used.

    Also used for per-component results (multipliers, gradient norms).
    """

    infonce: float | None = None
    local: float | None = None
    spectral: float | None = None
    reconstruction: float | None = None

    def __post_init__(self) -> None:
        for name in COMPONENTS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _check_number(name, value))

    @classmethod
    def coerce(cls, value: ComponentsLike) -> LossComponents:
        """A :class:`LossComponents` from itself or a dict with component names as keys."""
        if isinstance(value, cls):
            return cls(**{f.name: getattr(value, f.name) for f in fields(cls)})
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(COMPONENTS))
            if unknown:
                raise ValueError(f"components: unknown names {unknown}; expected {COMPONENTS}")
            return cls(**value)
        raise TypeError(f"components: expected LossComponents or dict, got {type(value).__name__}")

    def present(self) -> list[int]:
        """Indices (in :data:`COMPONENTS` order) of the terms that are not None."""
        return [i for i, name in enumerate(COMPONENTS) if getattr(self, name) is not None]


def gradnorm_step(
    weights: np.ndarray,
    grad_norms: np.ndarray,
    losses: np.ndarray,
    initial_losses: np.ndarray,
    alpha: float,
    lr: float,
) -> np.ndarray:
    """One GradNorm step (Chen et al. 2018) on ``weights``, the rule of
    :meth:`MultiObjectiveLoss.gradnorm_update` (also used by the sentence-transformers
    ``MultiObjectiveLoss``): ``G_i = w_i n_i``, rates ``r_i = (L_i / L_i(0)) / mean_j (L_j /
    L_j(0))``, ``w_i - lr * sign(G_i - mean(G) r_i^alpha) * n_i`` clipped at 0, then rescaled to
    the old sum. All arguments are float64 arrays of one entry per term (checked by the
    callers: norms >= 0, initial losses > 0)."""
    g = weights * grad_norms
    ratios = losses / initial_losses
    rates = ratios / ratios.mean()
    target = g.mean() * rates**alpha
    updated = np.maximum(weights - lr * np.sign(g - target) * grad_norms, 0.0)
    if updated.sum() > 0:
        updated *= weights.sum() / updated.sum()
    return updated


class MultiObjectiveLoss:
    """``total = sum_i w_i L_i`` over the components present, or with ``adaptive="uncertainty"``
    ``total = sum_i exp(-s_i) L_i + s_i`` (Kendall, Gal & Cipolla 2018) with learnable
    log-variances ``s_i`` (:attr:`log_vars`, a float64 array an optimizer can step in place).

    Args:
        weights: fixed weights (default ``LossWeights()``); also the weights GradNorm balances.
            Unused in the total with ``adaptive="uncertainty"``.
        adaptive: ``None`` (fixed weights) or ``"uncertainty"``.

    ``weights``, ``adaptive`` and ``log_vars`` are writable attributes.
    """

    def __init__(self, weights: LossWeights | None = None, adaptive: str | None = None) -> None:
        self.weights = LossWeights() if weights is None else weights
        self.adaptive = adaptive
        self._log_vars = np.zeros(len(COMPONENTS))
        self._last: LossComponents | None = None
        #: Loss values GradNorm measures training rates against (set by its first update).
        self.initial_losses: np.ndarray | None = None

    @property
    def weights(self) -> LossWeights:
        """The fixed (or GradNorm-balanced) weights."""
        return self._weights

    @weights.setter
    def weights(self, value: LossWeights) -> None:
        if not isinstance(value, LossWeights):
            raise TypeError(f"weights: expected LossWeights, got {type(value).__name__}")
        self._weights = LossWeights(**{name: getattr(value, name) for name in COMPONENTS})

    @property
    def adaptive(self) -> str | None:
        """``None`` or ``"uncertainty"``."""
        return self._adaptive

    @adaptive.setter
    def adaptive(self, value: str | None) -> None:
        if value not in (None, "uncertainty"):
            raise ValueError(f"adaptive: expected None or 'uncertainty', got {value!r}")
        self._adaptive = value

    @property
    def log_vars(self) -> np.ndarray:
        """The learnable ``s_i`` ``(4,)`` float64 in :data:`COMPONENTS` order (updated in place
        by an optimizer; assigning copies the values in)."""
        return self._log_vars

    @log_vars.setter
    def log_vars(self, value) -> None:
        try:
            array = np.asarray(value, dtype=np.float64)
        except OverflowError:
            raise ValueError("log_vars: a value is beyond the float64 range") from None
        if array.shape != (len(COMPONENTS),):
            raise ValueError(f"log_vars: expected shape (4,), got {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError("log_vars: contains NaN or infinity")
        _check_log_vars(array)
        self._log_vars[...] = array

    def forward(
        self, components: ComponentsLike
    ) -> tuple[float, tuple[LossComponents, np.ndarray | None]]:
        """The total and its gradients.

        Returns:
            ``(total, (multipliers, grad_log_vars))``: ``multipliers`` holds
            ``d total / d L_i`` for each present component (None for absent ones): scale that
            component's gradients by it. ``grad_log_vars`` is ``d total / d s`` ``(4,)`` (0 for
            absent components) with ``"uncertainty"``, None otherwise.

        Raises:
            TypeError / ValueError: ``components`` is not a LossComponents/dict, has unknown
                names or non-finite values, or holds no component at all.
        """
        values = LossComponents.coerce(components)
        present = values.present()
        if not present:
            raise ValueError("components: expected at least one loss value, got none")
        if not np.isfinite(self._log_vars).all():
            raise ValueError("log_vars: contains NaN or infinity")
        if self._adaptive == "uncertainty":
            _check_log_vars(self._log_vars)
        self._last = values
        multipliers = LossComponents()
        if self._adaptive == "uncertainty":
            grad_log_vars = np.zeros(len(COMPONENTS))
            total = 0.0
            for i in present:
                name, s = COMPONENTS[i], float(self._log_vars[i])
                loss, scale = getattr(values, name), math.exp(-s)
                total += scale * loss + s
                setattr(multipliers, name, scale)
                grad_log_vars[i] = 1.0 - scale * loss
            if not math.isfinite(total) or not np.isfinite(grad_log_vars).all():
                raise ValueError(
                    "log_vars: exp(-log_vars) * loss overflows float64 for these losses; "
                    "use larger log-variances or smaller losses"
                )
            return total, (multipliers, grad_log_vars)
        total = 0.0
        for i in present:
            name = COMPONENTS[i]
            weight = getattr(self._weights, name)
            total += weight * getattr(values, name)
            setattr(multipliers, name, weight)
        return total, (multipliers, None)

    __call__ = forward

    def gradnorm_update(
        self, grad_norms: ComponentsLike, alpha: float = 1.5, lr: float = 0.025
    ) -> LossWeights:
        """One GradNorm step (Chen et al. 2018) on :attr:`weights`; returns the new weights.

        With ``n_i`` the norm of the gradient of the *unweighted* loss ``L_i`` w.r.t. the shared
        parameters, ``G_i = w_i n_i``, ``G = mean_i G_i``, training rates
        ``r_i = (L_i / L_i(0)) / mean_j (L_j / L_j(0))`` and targets ``G r_i^alpha`` (held
        constant), the GradNorm loss ``sum_i |G_i - G r_i^alpha|`` has gradient
        ``sign(G_i - G r_i^alpha) n_i`` w.r.t. ``w_i``. The weights take one step of size
        ``lr``, are clipped at 0 and are rescaled so their sum over these components stays what
        it was. ``L_i`` are the values of the last :meth:`forward`; ``L_i(0)`` are those at the
        first update (:attr:`initial_losses`; set it to None to restart).

        Args:
            grad_norms: a norm (finite, >= 0) for each component to balance; each must have had
                a value (> 0 for the initial one) in the last forward.
            alpha: asymmetry, finite and >= 0 (0 equalises gradient norms).
            lr: step size, finite and > 0.
        """
        norms = LossComponents.coerce(grad_norms)
        alpha = _check_number("alpha", alpha, minimum=0.0)
        lr = _check_number("lr", lr, minimum=0.0)
        if lr == 0.0:
            raise ValueError("lr: expected a finite number > 0, got 0")
        if self._last is None:
            raise ValueError("grad_norms: call forward first; GradNorm needs the current losses")
        present = norms.present()
        if not present:
            raise ValueError("grad_norms: expected at least one component, got none")
        for i in present:
            name = COMPONENTS[i]
            _check_number(f"grad_norms.{name}", getattr(norms, name), minimum=0.0)
            if getattr(self._last, name) is None:
                raise ValueError(f"grad_norms: {name} had no loss value in the last forward")
        losses = np.array([getattr(self._last, COMPONENTS[i]) for i in present])
        if self.initial_losses is None:
            initial = np.full(len(COMPONENTS), np.nan)
            for i, loss in zip(present, losses):
                initial[i] = loss
            self.initial_losses = initial
        start = np.asarray(self.initial_losses, dtype=np.float64)[present]
        if not (np.isfinite(start) & (start > 0)).all():
            names = [COMPONENTS[i] for i in present]
            raise ValueError(
                f"grad_norms: initial losses {start.tolist()} of {names} must be recorded and > 0 "
                "(set initial_losses=None to restart)"
            )
        n = np.array([getattr(norms, COMPONENTS[i]) for i in present])
        updated = gradnorm_step(self._weights.as_array()[present], n, losses, start, alpha, lr)
        new = self._weights.as_array()
        new[present] = updated
        self._weights = LossWeights(**dict(zip(COMPONENTS, new.tolist())))
        return self._weights

    def __repr__(self) -> str:
        return f"MultiObjectiveLoss(weights={self._weights!r}, adaptive={self._adaptive!r})"
