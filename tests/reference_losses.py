"""Plain NumPy references for the triplet, cosine-similarity and graph losses (spec section 2).

Like :mod:`reference`, everything is float64 and the gradients are analytic:

* Euclidean distance ``d = ||x - y||``: ``dd/dx = (x - y) / d``, taken as 0 at ``d = 0``;
* cosine distance ``1 - u . v`` on normalised rows: ``d/du = -v``, then back through the
  normalisation with :func:`reference.normalise_rows_backward`;
* graph losses scatter each edge's gradient into both endpoints with ``np.add.at`` (so duplicate
  edges add up), and the spectral loss is also given densely as ``lam * trace(Z^T L Z)``.
"""

from __future__ import annotations

import numpy as np
from reference import normalise_rows, normalise_rows_backward

REDUCTIONS = ("mean", "sum", "none")


def _reduce(items: np.ndarray, reduction: str):
    """The reduced loss and d(loss)/d(item) (one value for every item)."""
    if reduction == "mean":
        return float(items.mean()), 1.0 / items.size
    return (float(items.sum()) if reduction == "sum" else items), 1.0


def _euclidean(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise distances ``(...,)`` and their gradients w.r.t. ``x`` ``(..., D)`` (0 at d=0)."""
    diff = x - y
    dist = np.sqrt(np.sum(diff * diff, axis=-1))
    safe = np.where(dist > 0, dist, 1.0)
    return dist, np.where((dist > 0)[..., None], diff / safe[..., None], 0.0)


def triplet_reference(
    anchors, positives, negatives, *, margin=1.0, distance="euclidean", reduction="mean"
):
    """TripletLoss: returns ``(loss, (g_anchors, g_positives, g_negatives))``.

    ``negatives`` is ``(B, D)`` or ``(B, K, D)``; for ``"none"`` the loss has its shape minus D.
    """
    a, p = np.asarray(anchors, np.float64), np.asarray(positives, np.float64)
    n_in = np.asarray(negatives, np.float64)
    n = n_in[:, None, :] if n_in.ndim == 2 else n_in
    b, k, d = n.shape
    if distance == "cosine":
        ua, na = normalise_rows(a)
        up, np_ = normalise_rows(p)
        un, nn = normalise_rows(n.reshape(b * k, d))
        un = un.reshape(b, k, d)
        d_ap = 1.0 - np.sum(ua * up, axis=1)
        d_an = 1.0 - np.einsum("bd,bkd->bk", ua, un)
    else:
        d_ap, e_ap = _euclidean(a, p)
        d_an, e_an = _euclidean(a[:, None, :], n)
    hinge = d_ap[:, None] - d_an + margin
    items = np.maximum(hinge, 0.0)
    loss, weight = _reduce(items, reduction)
    active = (hinge > 0) * weight  # (B, K)
    c_ap = active.sum(axis=1)[:, None]
    if distance == "cosine":
        g_ua = -c_ap * up + np.einsum("bk,bkd->bd", active, un)
        g_up = -c_ap * ua
        g_un = active[:, :, None] * ua[:, None, :]
        ga = normalise_rows_backward(g_ua, ua, na)
        gp = normalise_rows_backward(g_up, up, np_)
        gn = normalise_rows_backward(g_un.reshape(b * k, d), un.reshape(b * k, d), nn)
        gn = gn.reshape(b, k, d)
    else:
        ga = c_ap * e_ap - np.einsum("bk,bkd->bd", active, e_an)
        gp = -c_ap * e_ap
        gn = active[:, :, None] * e_an
    if reduction == "none":
        loss = loss.reshape(n_in.shape[:-1])
    return loss, (ga, gp, gn.reshape(n_in.shape))


def cosine_similarity_reference(u, v, scores, *, reduction="mean"):
    """CosineSimilarityLoss: returns ``(loss, (g_u, g_v, None))``."""
    uu, nu = normalise_rows(np.asarray(u, np.float64))
    uv, nv = normalise_rows(np.asarray(v, np.float64))
    residual = np.sum(uu * uv, axis=1) - np.asarray(scores, np.float64)
    loss, weight = _reduce(residual**2, reduction)
    c = (2.0 * weight * residual)[:, None]
    return loss, (
        normalise_rows_backward(c * uv, uu, nu),
        normalise_rows_backward(c * uu, uv, nv),
        None,
    )


def local_contrastive_reference(embeddings, edges, labels=None, *, margin=1.0, reduction="mean"):
    """LocalContrastiveLoss: returns ``(loss, (g_embeddings, None, None))``."""
    z = np.asarray(embeddings, np.float64)
    edges = np.asarray(edges, np.int64).reshape(-1, 2)
    similar = np.ones(len(edges), bool) if labels is None else np.asarray(labels, bool)
    zi, zj = z[edges[:, 0]], z[edges[:, 1]]
    dist, unit = _euclidean(zi, zj)
    gap = margin - dist
    items = np.where(similar, dist**2, np.maximum(gap, 0.0) ** 2)
    loss, weight = _reduce(items, reduction)
    # gradient w.r.t. z_i of each edge term; z_j gets its negative.
    g_edge = (
        np.where(
            similar[:, None],
            2.0 * (zi - zj),
            np.where((gap > 0)[:, None], -2.0 * gap[:, None] * unit, 0.0),
        )
        * weight
    )
    grad = np.zeros_like(z)
    np.add.at(grad, edges[:, 0], g_edge)
    np.add.at(grad, edges[:, 1], -g_edge)
    return loss, (grad, None, None)


def laplacian(num_nodes: int, edges, weights=None, *, normalized=True) -> np.ndarray:
    """The dense ``(N, N)`` Laplacian ``D - W`` or ``I - D^-1/2 W D^-1/2`` (zero rows for isolated
    nodes), self-loops dropped and duplicate edges summed."""
    edges = np.asarray(edges, np.int64).reshape(-1, 2)
    w = np.ones(len(edges)) if weights is None else np.asarray(weights, np.float64)
    keep = edges[:, 0] != edges[:, 1]
    edges, w = edges[keep], w[keep]
    adjacency = np.zeros((num_nodes, num_nodes))
    np.add.at(adjacency, (edges[:, 0], edges[:, 1]), w)
    np.add.at(adjacency, (edges[:, 1], edges[:, 0]), w)
    degree = adjacency.sum(axis=1)
    if not normalized:
        return np.diag(degree) - adjacency
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0)), 0.0)
    return np.diag((degree > 0).astype(float)) - scale[:, None] * adjacency * scale[None, :]


def spectral_reference(embeddings, edges, weights=None, *, lam=0.01, normalized=True):
    """SpectralRegularization, densely: ``lam * trace(Z^T L Z)`` and its gradient
    ``2 lam L Z``; returns ``(loss, (g_embeddings, None, None))``."""
    z = np.asarray(embeddings, np.float64)
    lap = laplacian(len(z), edges, weights, normalized=normalized)
    return float(lam * np.trace(z.T @ lap @ z)), (2.0 * lam * lap @ z, None, None)
