"""Plain NumPy references of the issue-16 losses, written for clarity (full matrices, loops),
in float64, and a central finite-difference helper."""

from __future__ import annotations

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    """Rows divided by ``max(||x||, 1e-12)``."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def angle_similarity(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``|cos + sin|`` of the unit rows split in halves (odd D padded by a zero)."""
    a, b = unit(u), unit(v)
    if a.shape[1] % 2:
        a = np.pad(a, ((0, 0), (0, 1)))
        b = np.pad(b, ((0, 0), (0, 1)))
    h = a.shape[1] // 2
    cos = np.sum(a * b, axis=1)
    sin = np.sum(a[:, h:] * b[:, :h] - a[:, :h] * b[:, h:], axis=1)
    return np.abs(cos + sin)


def cosent_reference(u, v, scores, *, scale=20.0, angle=False) -> float:
    """``log(1 + sum_{y_i < y_j} exp(scale (sim_i - sim_j)))`` over the full pair matrix."""
    sim = angle_similarity(u, v) if angle else np.sum(unit(u) * unit(v), axis=1)
    s = scale * sim
    y = np.asarray(scores, dtype=np.float64)
    terms = [0.0]
    for i in range(len(y)):
        for j in range(len(y)):
            if y[i] < y[j]:
                terms.append(s[i] - s[j])
    terms = np.array(terms)
    m = terms.max()
    return float(m + np.log(np.exp(terms - m).sum()))


def finite_differences(f, arrays, index, eps=1e-6) -> np.ndarray:
    """Central differences of the scalar ``f(*arrays)`` w.r.t. ``arrays[index]`` (float64)."""
    base = [np.array(a, dtype=np.float64) for a in arrays]
    x = base[index]
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + eps
        plus = f(*base)
        x[k] = old - eps
        minus = f(*base)
        x[k] = old
        grad[k] = (plus - minus) / (2 * eps)
    return grad


def supcon_reference(z, labels, *, temperature=0.1, similarity="cosine", reduction="mean"):
    """Per anchor ``logsumexp_{j != i} s_ij - mean_{p in P(i)} s_ip`` over the full matrix; 0
    without a positive, and 0 for every anchor when the batch has no positive or no negative
    pair (pytorch-metric-learning's rule). Mean over anchors with a positive."""
    x = unit(z) if similarity == "cosine" else np.asarray(z, dtype=np.float64)
    labels = np.asarray(labels)
    b = len(labels)
    s = x @ x.T / temperature
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(b, dtype=bool)
    positive = same & off_diagonal
    losses = np.zeros(b)
    if positive.any() and (~same).any():
        for i in range(b):
            if positive[i].any():
                row = s[i][off_diagonal[i]]
                m = row.max()
                losses[i] = m + np.log(np.exp(row - m).sum()) - s[i][positive[i]].mean()
    if reduction == "none":
        return losses
    if reduction == "sum":
        return float(losses.sum())
    count = positive.any(axis=1).sum()
    return float(losses.sum() / count) if count and (~same).any() else 0.0


def _sim(q, x, similarity):
    """Row-wise similarity of ``q (B, D)`` with ``x (B, D)`` or ``(B, K, D)``."""
    if similarity == "cosine":
        q, x = unit(q), unit(x)
    q = np.asarray(q, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return np.sum(q * x, axis=-1) if x.ndim == 2 else np.einsum("bd,bkd->bk", q, x)


def _reduce(items, reduction, count):
    if reduction == "none":
        return items
    return float(items.sum() / (count if reduction == "mean" else 1))


def margin_mse_reference(q, p, n, margins, *, similarity="dot", reduction="mean"):
    """``(sim(q, p) - sim(q, n) - margin)^2`` per (query, negative)."""
    sp = _sim(q, p, similarity)
    sn = _sim(q, n, similarity)
    student = sp - sn if sn.ndim == 1 else sp[:, None] - sn
    items = (student - np.asarray(margins, dtype=np.float64)) ** 2
    return _reduce(items, reduction, items.size)


def distill_kl_reference(
    q,
    c,
    teacher,
    *,
    temperature=1.0,
    student_temperature=None,
    teacher_temperature=None,
    similarity="dot",
    reduction="mean",
):
    """``T_s^2 * KL(softmax(teacher / T_t) || softmax(sim / T_s))`` per query."""
    ts = temperature if student_temperature is None else student_temperature
    tt = temperature if teacher_temperature is None else teacher_temperature
    s = _sim(q, c, similarity) / ts
    t = np.asarray(teacher, dtype=np.float64) / tt
    log_q = s - s.max(1, keepdims=True)
    log_q = log_q - np.log(np.exp(log_q).sum(1, keepdims=True))
    log_p = t - t.max(1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
    p = np.exp(log_p)
    items = ts * ts * np.sum(np.where(p > 0, p * (log_p - log_q), 0.0), axis=1)
    return _reduce(items, reduction, len(items))
