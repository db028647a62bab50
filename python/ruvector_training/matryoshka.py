"""Matryoshka representation learning: one loss applied to nested prefixes of the embeddings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _is_embedding(x: Any) -> bool:
    """Inputs that carry an embedding axis (last axis D): floating ndarrays with ndim >= 2.

    Scores, weights (1-D), edges and labels (integer / bool) are passed through unchanged.
    """
    return isinstance(x, np.ndarray) and x.ndim >= 2 and np.issubdtype(x.dtype, np.floating)


def _prefix(x: Any, d: int) -> Any:
    """The first ``d`` columns of an embedding input; anything else unchanged."""
    return x[..., :d] if _is_embedding(x) else x


class MatryoshkaLoss:
    """Applies ``base_loss`` to the first ``d`` columns of every embedding input for each ``d`` in
    ``dims`` and returns the weighted sum of the losses and of the zero-padded gradients.

    Embedding inputs are the floating-point arrays with at least 2 dimensions (their last axis is
    D); other arguments (scores, weights, edges, labels, keyword options) are passed to every call
    unchanged. A cosine-based base loss re-normalises each prefix itself, because it normalises
    whatever rows it is given.

    Args:
        base_loss: any loss object of this package (``InfoNCELoss``, ``TripletLoss``,
            ``CosineSimilarityLoss``, ``LocalContrastiveLoss``, ``SpectralRegularization``) or
            any callable returning ``(loss, grads)`` with one gradient per array input, in
            argument order, None for inputs without one (only embedding inputs have one).
        dims: distinct prefix sizes, each an int >= 1 (checked against D at call time).
        weights: one finite weight >= 0 per dim; default ``1 / len(dims)`` each (the mean).

    ``base_loss``, ``dims`` and ``weights`` are writable attributes (validated on assignment).
    """

    def __init__(
        self, base_loss: Any, dims: Sequence[int], weights: Sequence[float] | None = None
    ) -> None:
        self.base_loss = base_loss
        self._dims: tuple[int, ...] = ()
        self._weights: tuple[float, ...] | None = None
        self.dims = dims
        self.weights = weights

    @property
    def dims(self) -> tuple[int, ...]:
        """The prefix sizes, in the order given."""
        return self._dims

    @dims.setter
    def dims(self, value: Sequence[int]) -> None:
        dims = tuple(value)
        if not dims:
            raise ValueError("dims: expected at least one prefix size, got none")
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
                raise ValueError(f"dims: expected integers >= 1, got {d!r}")
        if len(set(dims)) != len(dims):
            raise ValueError(f"dims: expected distinct sizes, got {dims}")
        if self._weights is not None and len(self._weights) != len(dims):
            raise ValueError(
                f"dims: {len(dims)} sizes do not match the {len(self._weights)} weights; "
                "set weights first (or to None)"
            )
        self._dims = tuple(int(d) for d in dims)

    @property
    def weights(self) -> tuple[float, ...]:
        """One weight per dim (``1 / len(dims)`` each unless set)."""
        if self._weights is None:
            return tuple(1.0 / len(self._dims) for _ in self._dims)
        return self._weights

    @weights.setter
    def weights(self, value: Sequence[float] | None) -> None:
        if value is None:
            self._weights = None
            return
        weights = tuple(float(w) for w in value)
        if len(weights) != len(self._dims):
            raise ValueError(
                f"weights: expected one weight per dim ({len(self._dims)}), got {len(weights)}"
            )
        for w in weights:
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"weights: expected finite numbers >= 0, got {w}")
        self._weights = weights

    def forward(self, *args: Any, **kwargs: Any) -> tuple[Any, tuple[Any, ...]]:
        """``(sum_k w_k loss_k, grads)`` where ``loss_k`` is ``base_loss`` on the ``dims[k]``
        prefixes and each gradient is the weighted sum of the prefix gradients, zero-padded to
        the input's shape; the tuple has the base loss's layout (None where it gives None).
        Embedding inputs passed by keyword are sliced too.

        Raises:
            ValueError: no embedding input, embedding inputs of different D, or a dim > D;
                anything the base loss raises for its inputs.
        """
        inputs = list(args) + list(kwargs.values())
        widths = {x.shape[-1] for x in inputs if _is_embedding(x)}
        if not widths:
            raise ValueError("dims: no embedding input (a float array with ndim >= 2) to slice")
        if len(widths) > 1:
            raise ValueError(f"dims: embedding inputs differ in D: {sorted(widths)}")
        full = widths.pop()
        too_large = [d for d in self._dims if d > full]
        if too_large:
            raise ValueError(f"dims: {too_large} exceed the embedding dimension D={full}")
        total: Any = 0.0
        grads: list[Any] = []
        for d, w in zip(self._dims, self.weights):
            sliced = [_prefix(x, d) for x in args]
            loss, prefix_grads = self.base_loss(
                *sliced, **{name: _prefix(x, d) for name, x in kwargs.items()}
            )
            total = total + w * loss
            grads.extend([None] * (len(prefix_grads) - len(grads)))
            for position, grad in enumerate(prefix_grads):
                if grad is None:
                    continue
                if grads[position] is None:
                    grads[position] = np.zeros(grad.shape[:-1] + (full,), grad.dtype)
                grads[position][..., :d] += w * grad
        return total, tuple(grads)

    __call__ = forward

    def __repr__(self) -> str:
        return f"MatryoshkaLoss({self.base_loss!r}, dims={self._dims}, weights={self.weights})"
