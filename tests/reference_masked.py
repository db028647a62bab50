"""A plain NumPy reference for InfoNCE with removed candidates (ids, GIST guide) and a queue
of extra negatives, written for clarity: full logits matrices, an explicit boolean matrix of
removed candidates, float64 throughout. See ``docs/losses.md``.

For anchor ``i`` with candidates ``C_i`` (its positive first in the per-row layout, column
``i`` in the dense layouts, queue entries last), a candidate ``c`` other than the positive is
removed when

* ids: ``id(c) == candidate_ids[positive of i]`` or ``id(c) == anchor_ids[i]``;
* guide: ``cos(ga_i, g_c) > t`` with ``t = s - margin`` (absolute) or ``s - |s| * margin``
  (relative, sentence-transformers 6.2's formula), ``s = cos(ga_i, gp_i)`` (queue entries
  have no guide embedding).

A removed logit is ``-inf``: it leaves the log-sum-exp and its softmax weight (hence its
gradient) is 0. ``symmetric``: positive ``j`` as the query against the anchors, with the roles
swapped (anchor ``i != j`` removed when ``anchor_ids[i]`` equals ``anchor_ids[j]`` or
``candidate_ids[j]``, or when ``cos(gp_j, ga_i) > t(cos(gp_j, ga_j))``).
"""

from __future__ import annotations

import numpy as np
from reference import candidate_indices, normalise_rows, normalise_rows_backward, resolve_layout


def _threshold(score: np.ndarray, margin: float, strategy: str) -> np.ndarray:
    return score - margin if strategy == "absolute" else score - np.abs(score) * margin


def _softmax_terms(logits: np.ndarray, correct: np.ndarray, removed: np.ndarray):
    """Per-row losses and d(sum of losses)/d(logits) with ``removed`` entries at -inf."""
    logits = np.where(removed, -np.inf, logits)
    rows = np.arange(len(logits))
    row_max = logits.max(axis=1, keepdims=True)
    lse = row_max[:, 0] + np.log(np.sum(np.exp(logits - row_max), axis=1))
    losses = lse - logits[rows, correct]
    grad = np.exp(logits - lse[:, None])
    grad[rows, correct] -= 1.0
    return losses, grad


def masked_infonce_reference(
    anchors,
    positives,
    negatives=None,
    *,
    in_batch=None,
    temperature=0.07,
    similarity="cosine",
    symmetric=False,
    reduction="mean",
    anchor_ids=None,
    candidate_ids=None,
    guide=None,
    guide_margin=0.0,
    guide_margin_strategy="absolute",
    queue=None,
    queue_ids=None,
):
    """Loss and gradients ``(loss, (grad_anchors, grad_positives, grad_negatives))`` like
    ``InfoNCELoss.forward``; ``guide`` is ``(guide_anchors, guide_positives, guide_negatives)``,
    ``queue`` ``(Q, D)`` and ``queue_ids`` ``(Q,)`` with ``None`` for entries without an id."""
    layout = resolve_layout(negatives, in_batch)
    a = np.asarray(anchors, np.float64)
    p = np.asarray(positives, np.float64)
    b, d = a.shape
    k = 0 if negatives is None else negatives.shape[1]
    n = np.zeros((0, d)) if negatives is None else np.asarray(negatives, np.float64).reshape(-1, d)
    q = np.zeros((0, d)) if queue is None else np.asarray(queue, np.float64)
    nq = len(q)
    raw = {"a": a, "p": p, "n": n, "q": q}
    if similarity == "cosine":
        seen, norms = {}, {}
        for name, x in raw.items():
            seen[name], norms[name] = normalise_rows(x)
    else:
        seen = raw
    pool = np.concatenate([seen["p"], seen["n"], seen["q"]])  # (B + B*K + Q, D)

    # Pool ids (None: no id) and guide embeddings of the batch's pool rows.
    pool_ids: list = [None] * len(pool)
    if candidate_ids is not None:
        flat = np.asarray(candidate_ids).reshape(-1)
        if layout == "per_row":  # (B, 1 + K): positive i then negatives of row i
            rows = np.asarray(candidate_ids).reshape(b, 1 + k)
            pool_ids[:b] = list(rows[:, 0])
            pool_ids[b : b + b * k] = list(rows[:, 1:].reshape(-1))
        else:
            pool_ids[: b + b * k] = list(flat)
        if queue_ids is not None:
            pool_ids[b + b * k :] = list(queue_ids)
    if guide is not None:
        ga, gp, gn = (None if g is None else np.asarray(g, np.float64) for g in guide)
        gn = np.zeros((0, ga.shape[1])) if gn is None else gn.reshape(-1, ga.shape[1])
        ga, gpool = normalise_rows(ga)[0], normalise_rows(np.concatenate([gp, gn]))[0]
        guide_scores = ga @ gpool.T  # (B, B + B*K)

    candidates, correct = candidate_indices(layout, b, k)
    if candidates is None:
        candidates = np.tile(np.arange(len(pool)), (b, 1))
    else:  # per-row: the queue is shared by every row
        queue_cols = np.tile(b + b * k + np.arange(nq), (b, 1))
        candidates = np.concatenate([candidates, queue_cols], axis=1)
    removed = np.zeros(candidates.shape, bool)
    for i in range(b):
        own = candidates[i, correct[i]]
        for col, c in enumerate(candidates[i]):
            if c == own:
                continue
            if anchor_ids is not None and pool_ids[c] is not None:
                if pool_ids[c] in (pool_ids[own], anchor_ids[i]):
                    removed[i, col] = True
            if guide is not None and c < b + b * k:
                limit = _threshold(guide_scores[i, own], guide_margin, guide_margin_strategy)
                if guide_scores[i, c] > limit:
                    removed[i, col] = True

    gathered = pool[candidates]  # (B, J, D)
    logits = np.einsum("bd,bjd->bj", seen["a"], gathered) / temperature
    losses, grad_logits = _softmax_terms(logits, correct, removed)
    grad_a = np.einsum("bj,bjd->bd", grad_logits, gathered) / temperature
    grad_pool = np.zeros_like(pool)
    np.add.at(grad_pool, candidates, grad_logits[:, :, None] * seen["a"][:, None, :] / temperature)

    if symmetric:
        reverse_removed = np.zeros((b, b), bool)  # [query j, anchor i]
        for j in range(b):
            for i in range(b):
                if i == j:
                    continue
                if anchor_ids is not None and anchor_ids[i] in (anchor_ids[j], pool_ids[j]):
                    reverse_removed[j, i] = True
                if guide is not None:
                    limit = _threshold(guide_scores[j, j], guide_margin, guide_margin_strategy)
                    if guide_scores[i, j] > limit:
                        reverse_removed[j, i] = True
        reverse_logits = seen["p"] @ seen["a"].T / temperature
        reverse_losses, reverse_grad = _softmax_terms(reverse_logits, np.arange(b), reverse_removed)
        losses = 0.5 * (losses + reverse_losses)
        grad_a = 0.5 * (grad_a + reverse_grad.T @ seen["p"] / temperature)
        grad_pool = 0.5 * grad_pool
        grad_pool[:b] += 0.5 * reverse_grad @ seen["a"] / temperature

    grads = {"a": grad_a, "p": grad_pool[:b], "n": grad_pool[b : b + b * k]}
    if similarity == "cosine":
        grads = {
            name: normalise_rows_backward(g, seen[name], norms[name]) for name, g in grads.items()
        }
    if reduction == "mean":
        loss = float(np.mean(losses))
        grads = {name: g / b for name, g in grads.items()}
    elif reduction == "sum":
        loss = float(np.sum(losses))
    else:
        loss = losses
    grad_n = None if negatives is None else grads["n"].reshape(b, k, d)
    return loss, (grads["a"], grads["p"], grad_n)
