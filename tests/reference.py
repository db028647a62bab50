"""A plain NumPy reference for InfoNCE (``docs/losses.md``), written for clarity.

Everything is computed in float64 whatever the input dtype, so comparing the library's float32
results against this reference measures the library's float32 rounding only (float32 values are
exactly representable in float64). Gradients are analytic:

* ``d loss_i / d s_ij = softmax(s_i)_j - [j == correct_i]`` for each direction;
* ``s_ij = q_i . c_j / tau`` gives ``dq_i = sum_j ds_ij c_j / tau`` and
  ``dc_j = sum_i ds_ij q_i / tau``;
* for cosine similarity the rows are ``u = x / max(||x||, eps)``, so
  ``dx = (g - u (u . g)) / ||x||`` when ``||x|| > eps`` and ``dx = g / eps`` otherwise
  (the ``max`` clamps to the constant ``eps``, as ``torch.nn.functional.normalize`` does).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

#: The norm floor of cosine similarity: rows are divided by ``max(||x||, NORM_EPS)``.
NORM_EPS = 1e-12

#: Candidate layouts: in-batch, per-row negatives, shared negatives.
LAYOUTS = ("in_batch", "per_row", "shared")

Grads = tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]


def resolve_layout(negatives: np.ndarray | None, in_batch: bool | None) -> str:
    """The candidate layout selected by ``negatives`` and ``in_batch`` (one of :data:`LAYOUTS`).

    ``in_batch=None`` means in-batch exactly when ``negatives`` is None; ``in_batch=True`` with
    negatives is the shared layout; ``in_batch=False`` without negatives is a ``ValueError``.
    """
    if negatives is None:
        if in_batch is False:
            raise ValueError("in_batch: in_batch=False without negatives has no candidates")
        return "in_batch"
    return "shared" if in_batch else "per_row"


def layout_arguments(
    layout: str, negatives: np.ndarray | None
) -> tuple[np.ndarray | None, bool | None]:
    """The ``(negatives, in_batch)`` arguments that select ``layout``.

    ``in_batch`` is ``None`` for the in-batch layout (the default), ``False`` for per-row
    negatives and ``True`` for shared negatives; ``negatives`` is dropped for in-batch.
    """
    if layout == "in_batch":
        return None, None
    if negatives is None:
        raise ValueError(f"layout {layout!r} needs negatives")
    return negatives, layout == "shared"


def normalise_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalises ``x`` ``(N, D)`` float64.

    Returns ``(u, norms)``: ``u = x / max(||x||, NORM_EPS)`` row-wise ``(N, D)`` and the raw
    row norms ``(N,)``.
    """
    norms = np.sqrt(np.sum(x * x, axis=1))
    return x / np.maximum(norms, NORM_EPS)[:, None], norms


def normalise_rows_backward(grad: np.ndarray, u: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Back-propagates ``grad`` w.r.t. ``u = x / max(||x||, eps)`` to ``x``; all ``(N, D)``.

    Rows above the floor: ``(g - u (u . g)) / ||x||``; rows at or below it: ``g / eps``.
    """
    above = norms > NORM_EPS
    projected = (grad - u * np.sum(u * grad, axis=1, keepdims=True)) / np.where(above, norms, 1.0)[
        :, None
    ]
    return np.where(above[:, None], projected, grad / NORM_EPS)


def candidate_indices(layout: str, b: int, k: int) -> tuple[np.ndarray | None, np.ndarray]:
    """Which pool rows anchor ``i`` is contrasted with, and which of them is correct.

    The pool is ``concat(positives (B, D), negatives.reshape(B*K, D))``. Returns
    ``(candidates, correct (B,) int)``: candidate ``j`` of anchor ``i`` is pool row
    ``candidates[i, j]`` (``candidates`` is ``(B, J)`` int, or None when every anchor sees every
    pool row) and column ``correct[i]`` is its positive.

    * in-batch (pool = positives): every pool row, correct ``i``;
    * per-row: ``p_i`` then ``n_i,1..K``, correct 0;
    * shared: every pool row (all B positives, then all B*K negatives row-major), correct ``i``.
    """
    rows = np.arange(b)
    if layout in ("in_batch", "shared"):
        return None, rows
    if layout == "per_row":
        own_negatives = b + rows[:, None] * k + np.arange(k)[None, :]
        return np.concatenate([rows[:, None], own_negatives], axis=1), np.zeros(b, dtype=int)
    raise ValueError(f"unknown layout {layout!r}")


def contrast(
    queries: np.ndarray,
    pool: np.ndarray,
    candidates: np.ndarray | None,
    correct: np.ndarray,
    temperature: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One direction of InfoNCE, with gradients of the SUM of the row losses.

    Args:
        queries: ``(Q, D)`` float64 (already normalised for cosine).
        pool: ``(M, D)`` float64 candidate rows.
        candidates: ``(Q, J)`` distinct pool indices per query, or None for all M pool rows.
        correct: ``(Q,)`` column (of ``candidates``, or pool row) holding each query's positive.
        temperature: ``tau > 0``.

    Returns:
        ``(losses (Q,), grad_queries (Q, D), grad_pool (M, D))``, all float64.
    """
    if candidates is None:
        logits = queries @ pool.T / temperature  # (Q, M)
    else:
        gathered = pool[candidates]  # (Q, J, D): candidate j of query i
        logits = np.einsum("qd,qjd->qj", queries, gathered) / temperature
    row_max = logits.max(axis=1, keepdims=True)
    log_sum_exp = row_max[:, 0] + np.log(np.sum(np.exp(logits - row_max), axis=1))
    rows = np.arange(len(queries))
    losses = log_sum_exp - logits[rows, correct]

    grad_logits = np.exp(logits - log_sum_exp[:, None])  # softmax
    grad_logits[rows, correct] -= 1.0  # minus one-hot
    if candidates is None:
        grad_queries = grad_logits @ pool / temperature
        grad_pool = grad_logits.T @ queries / temperature
    else:
        grad_queries = np.einsum("qj,qjd->qd", grad_logits, gathered) / temperature
        grad_pool = np.zeros_like(pool)
        np.add.at(
            grad_pool, candidates, grad_logits[:, :, None] * queries[:, None, :] / temperature
        )
    return losses, grad_queries, grad_pool


def infonce_reference(
    anchors: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray | None = None,
    *,
    in_batch: bool | None = None,
    temperature: float = 0.07,
    similarity: str = "cosine",
    symmetric: bool = False,
    reduction: str = "mean",
) -> tuple[float | np.ndarray, Grads]:
    """InfoNCE loss and analytic gradients, computed in float64.

    Args:
        anchors: ``(B, D)`` float array.
        positives: ``(B, D)``; row ``i`` is the positive of anchor ``i``.
        negatives: optional ``(B, K, D)``.
        in_batch: as in ``InfoNCELoss.forward`` (see :func:`resolve_layout`).
        temperature: ``tau > 0``.
        similarity: ``"cosine"`` or ``"dot"``.
        symmetric: average each row's loss with the reverse direction (positive ``i`` as the
            query against all B anchors, correct ``i``); in-batch and shared layouts only.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        ``(loss, (grad_anchors, grad_positives, grad_negatives))``. ``loss`` is a Python float
        for ``"mean"``/``"sum"`` and a ``(B,)`` float64 array for ``"none"``. The gradients are
        float64 arrays shaped like the inputs (``grad_negatives`` is None without negatives);
        for ``"none"`` they are the gradients of the sum of the row losses. Results stay in
        float64 (not cast back to the input dtype) so that they are the exact target.
    """
    layout = resolve_layout(negatives, in_batch)
    if symmetric and layout == "per_row":
        raise ValueError("symmetric: needs the in-batch or shared layout")
    a = np.asarray(anchors, dtype=np.float64)
    p = np.asarray(positives, dtype=np.float64)
    b, d = a.shape
    k = 0 if negatives is None else negatives.shape[1]
    n = np.zeros((0, d)) if negatives is None else np.asarray(negatives, np.float64).reshape(-1, d)

    # The rows the similarity sees: unit rows for cosine, raw rows for dot.
    raw = {"a": a, "p": p, "n": n}
    if similarity == "cosine":
        seen, norms = {}, {}
        for name, x in raw.items():
            seen[name], norms[name] = normalise_rows(x)
    elif similarity == "dot":
        seen = raw
    else:
        raise ValueError(f"similarity: unknown {similarity!r}")

    # Forward direction: anchors against their candidates from the pool.
    pool = np.concatenate([seen["p"], seen["n"]])
    candidates, correct = candidate_indices(layout, b, k)
    losses, grad_a, grad_pool = contrast(seen["a"], pool, candidates, correct, temperature)
    if symmetric:
        # Reverse direction: positive i against all B anchors, correct i.
        reverse_candidates, reverse_correct = candidate_indices("in_batch", b, 0)
        reverse_losses, reverse_grad_p, reverse_grad_a = contrast(
            seen["p"], seen["a"], reverse_candidates, reverse_correct, temperature
        )
        losses = 0.5 * (losses + reverse_losses)
        grad_a = 0.5 * (grad_a + reverse_grad_a)
        grad_pool = 0.5 * grad_pool
        grad_pool[:b] += 0.5 * reverse_grad_p
    grads = {"a": grad_a, "p": grad_pool[:b], "n": grad_pool[b:]}

    if similarity == "cosine":
        grads = {
            name: normalise_rows_backward(g, seen[name], norms[name]) for name, g in grads.items()
        }

    if reduction == "mean":
        loss: float | np.ndarray = float(np.mean(losses))
        grads = {name: g / b for name, g in grads.items()}
    elif reduction == "sum":
        loss = float(np.sum(losses))
    elif reduction == "none":
        loss = losses
    else:
        raise ValueError(f"reduction: unknown {reduction!r}")
    grad_n = None if negatives is None else grads["n"].reshape(b, k, d)
    return loss, (grads["a"], grads["p"], grad_n)


def finite_difference_grad(
    fn: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central finite differences ``(fn(x + h e) - fn(x - h e)) / 2h`` for every element of ``x``.

    ``x`` is any-shape float64; ``fn`` maps an array shaped like ``x`` to a float. Returns a
    float64 array shaped like ``x``. ``x`` itself is not modified.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = fn(x.copy())
        x[index] = original - h
        minus = fn(x.copy())
        x[index] = original
        grad[index] = (plus - minus) / (2.0 * h)
    return grad
