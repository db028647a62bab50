"""Plain NumPy reference of late interaction (MaxSim), written for clarity, not speed: the full
``(Q, M, Lq, Ld)`` token-similarity tensor by einsum, a masked max, the InfoNCE loss over the
scores, and its gradients by the arg-max rule (lowest index on ties) and the chain rule."""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def all_real(x: np.ndarray) -> np.ndarray:
    return np.ones(x.shape[:-1], dtype=bool)


def unit(x: np.ndarray, similarity: str) -> np.ndarray:
    if similarity == "dot":
        return x
    norms = np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)
    return x / norms


def token_similarities(q, d, similarity):
    """``(Q, M, Lq, Ld)``: every query token against every document token."""
    return np.einsum("qtd,mud->qmtu", unit(q, similarity), unit(d, similarity))


def maxsim_scores(q, d, qm=None, dm=None, similarity="dot", normalize="none"):
    qm = all_real(q) if qm is None else qm
    dm = all_real(d) if dm is None else dm
    sims = token_similarities(q, d, similarity)
    sims = np.where(dm[None, :, None, :], sims, -np.inf)  # only real document tokens compete
    best = sims.max(axis=3)  # (Q, M, Lq)
    best = np.where(qm[:, None, :], best, 0.0)  # only real query tokens count
    scores = best.sum(axis=2)
    if normalize == "query_length":
        scores = scores / qm.sum(axis=1)[:, None]
    return scores


def loss_and_grads(
    q,
    d,
    n=None,
    qm=None,
    dm=None,
    nm=None,
    *,
    layout="in_batch",
    temperature=1.0,
    similarity="dot",
    normalize="none",
    symmetric=False,
    reduction="mean",
):
    """Returns ``(loss, row_losses, (gq, gd, gn))``."""
    qm = all_real(q) if qm is None else qm
    dm = all_real(d) if dm is None else dm
    if n is not None and nm is None:
        nm = all_real(n)
    b = q.shape[0]
    # Build, for every query, its candidate list as (array name, flat row) pairs.
    k = 0 if n is None else n.shape[1]
    if layout == "per_row":
        cands = [[("d", i)] + [("n", i * k + j) for j in range(k)] for i in range(b)]
        pos = [0] * b
    elif layout == "shared":
        shared = [("d", j) for j in range(b)] + [("n", r) for r in range(b * k)]
        cands = [shared] * b
        pos = list(range(b))
    else:
        cands = [[("d", j) for j in range(b)]] * b
        pos = list(range(b))
    flat_n = None if n is None else n.reshape(b * k, *n.shape[2:])
    flat_nm = None if n is None else nm.reshape(b * k, n.shape[2])
    arrays = {"d": (d, dm), "n": (flat_n, flat_nm)}
    uq = unit(q, similarity)
    factor = 1.0 / qm.sum(axis=1) if normalize == "query_length" else np.ones(b)

    def score(i, name, row):
        x, m = arrays[name]
        ux = unit(x[row], similarity)
        sims = uq[i] @ ux.T  # (Lq, L)
        sims = np.where(m[row][None, :], sims, -np.inf)
        best = sims.max(axis=1)
        return factor[i] * best[qm[i]].sum()

    scores = np.array([[score(i, *c) for c in cands[i]] for i in range(b)])
    z = scores / temperature
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    z_pos = z[np.arange(b), pos]
    p = np.exp(z - lse[:, None])
    if symmetric:
        col = z[:, :b]
        col_lse = np.log(np.exp(col - col.max(0)).sum(0)) + col.max(0)
        rows = 0.5 * ((lse - z_pos) + (col_lse - z_pos))
        w = 0.5 * p
        w[:, :b] += 0.5 * np.exp(col - col_lse[None, :])
        w[np.arange(b), pos] -= 1.0
    else:
        rows = lse - z_pos
        w = p.copy()
        w[np.arange(b), pos] -= 1.0
    weight = 1.0 / b if reduction == "mean" else 1.0
    loss = rows.mean() if reduction == "mean" else rows.sum()
    w = w * weight / temperature  # d loss / d score

    # Gradients w.r.t. the unit tokens: each max sends its weight to its arg-max token.
    gq = np.zeros_like(q, dtype=np.float64)
    gu = {"d": np.zeros_like(d, dtype=np.float64)}
    if n is not None:
        gu["n"] = np.zeros(flat_n.shape)
    for i in range(b):
        for c, (name, row) in enumerate(cands[i]):
            x, m = arrays[name]
            ux = unit(x[row], similarity)
            for t in np.flatnonzero(qm[i]):
                sims = np.where(m[row], ux @ uq[i, t], -np.inf)
                a = int(np.argmax(sims))  # first maximum: lowest index on ties
                g = w[i, c] * factor[i]
                gq[i, t] += g * ux[a]
                gu[name][row, a] += g * uq[i, t]

    def back(g, x):
        if similarity == "dot":
            return g
        norms = np.linalg.norm(x, axis=-1, keepdims=True)
        u = x / np.maximum(norms, EPS)
        proj = (u * g).sum(-1, keepdims=True)
        return np.where(norms > EPS, (g - u * proj) / np.maximum(norms, EPS), g / EPS)

    gq = back(gq, q) * qm[..., None]
    gd = back(gu["d"], d) * dm[..., None]
    gn = None
    if n is not None:
        gn = (back(gu["n"], flat_n) * flat_nm[..., None]).reshape(n.shape)
    return loss, rows, (gq, gd, gn)
