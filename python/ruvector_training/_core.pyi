"""Type stubs for the compiled module ``ruvector_training._core``."""

from typing import Literal

import numpy as np
import numpy.typing as npt

__version__: str
DEFAULT_LOGITS_BUDGET_BYTES: int

_FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]

class InfoNCELoss:
    """InfoNCE (NT-Xent, MultipleNegativesRankingLoss) with exact gradients.

    For anchor ``i`` with candidates ``c_j`` (its positive first),
    ``s_ij = sim(a_i, c_j) / temperature`` and ``loss_i = logsumexp_j s_ij - s_i,pos``.

    Args:
        temperature: softmax temperature, a finite float > 0.
        similarity: ``"cosine"`` (rows normalised by ``max(||x||, 1e-12)``, gradients flow
            through the normalisation) or ``"dot"`` (raw inner products).
        symmetric: average with the reverse direction (positives as queries against all
            anchors). Needs an in-batch layout.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-row losses; gradients are those of
            their sum).
        logits_budget_bytes: the largest logits matrix kept whole (default 256 MiB). Above it
            the kernel streams panels of rows and never holds the full matrix.

    All attributes are readable and writable between calls. Bad values raise ``ValueError``.
    """

    temperature: float
    similarity: Literal["cosine", "dot"]
    symmetric: bool
    reduction: Literal["mean", "sum", "none"]
    logits_budget_bytes: int

    def __init__(
        self,
        temperature: float = 0.07,
        similarity: Literal["cosine", "dot"] = "cosine",
        symmetric: bool = False,
        reduction: Literal["mean", "sum", "none"] = "mean",
        logits_budget_bytes: int = ...,
    ) -> None: ...
    def forward(
        self,
        anchors: _FloatArray,
        positives: _FloatArray,
        negatives: _FloatArray | None = None,
        *,
        in_batch: bool | None = None,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray | None]]:
        """Loss and gradients for one batch.

        Args:
            anchors: ``(B, D)`` float32 or float64.
            positives: ``(B, D)``, same dtype; row ``i`` is the positive of anchor ``i``.
            negatives: optional ``(B, K, D)``, same dtype.
            in_batch: ``None`` means in-batch negatives exactly when ``negatives`` is None.
                ``True`` with negatives: every row's positives and negatives are candidates
                for every anchor (shared layout). ``False`` with negatives: each anchor sees
                its positive and its own K negatives. ``False`` without negatives is an error.

        Returns:
            ``(loss, (grad_anchors, grad_positives, grad_negatives))``: ``loss`` is a float for
            ``"mean"``/``"sum"`` and a ``(B,)`` array for ``"none"``; each gradient has its
            input's shape and dtype (``None`` where the input was ``None``).

        Raises:
            TypeError: an argument is not a float32/float64 ndarray, or dtypes differ.
            ValueError: wrong shapes, an empty batch, NaN/Inf values, or a bad option mix.
        """
    def __call__(
        self,
        anchors: _FloatArray,
        positives: _FloatArray,
        negatives: _FloatArray | None = None,
        *,
        in_batch: bool | None = None,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray | None]]:
        """Same as :meth:`forward`."""
