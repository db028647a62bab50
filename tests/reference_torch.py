"""Pure-PyTorch (autograd) versions of the loss formulas in spec section 2, for the bridge's
gradient parity tests. Each returns the loss tensor; autograd gives the gradients."""

from __future__ import annotations

import torch

EPS = 1e-12


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Rows divided by ``max(||x||, 1e-12)``."""
    return x / torch.clamp(torch.linalg.vector_norm(x, dim=-1, keepdim=True), min=EPS)


def reduce(items: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return items.mean()
    if reduction == "sum":
        return items.sum()
    return items


def infonce(
    a,
    p,
    n=None,
    *,
    in_batch=None,
    temperature=0.07,
    similarity="cosine",
    symmetric=False,
    reduction="mean",
):
    """InfoNCE in the in-batch, per-row (``in_batch=False``) or shared layout."""
    if similarity == "cosine":
        a, p = normalise(a), normalise(p)
        n = None if n is None else normalise(n)
    b = a.shape[0]
    rows = torch.arange(b)
    layout = "in_batch" if n is None else ("shared" if in_batch else "per_row")
    if layout == "per_row":
        candidates = torch.cat([p[:, None, :], n], dim=1)  # (B, 1+K, D)
        logits = torch.einsum("bd,bjd->bj", a, candidates) / temperature
        items = torch.logsumexp(logits, 1) - logits[:, 0]
    else:
        pool = p if n is None else torch.cat([p, n.reshape(-1, n.shape[-1])])
        logits = a @ pool.T / temperature
        items = torch.logsumexp(logits, 1) - logits[rows, rows]
        if symmetric:
            reverse = p @ a.T / temperature
            items = 0.5 * (items + torch.logsumexp(reverse, 1) - reverse[rows, rows])
    return reduce(items, reduction)


def _euclidean(x, y):
    """``||x - y||`` with a zero gradient at distance 0 (as the kernels define it)."""
    squared = ((x - y) ** 2).sum(-1)
    safe = torch.where(squared > 0, squared, torch.ones_like(squared))
    return torch.where(squared > 0, torch.sqrt(safe), torch.zeros_like(squared))


def triplet(a, p, n, *, margin=1.0, distance="euclidean", reduction="mean"):
    """``max(0, d(a, p) - d(a, n) + margin)`` with ``(B, D)`` or ``(B, K, D)`` negatives."""
    n3 = n[:, None, :] if n.dim() == 2 else n
    if distance == "cosine":
        ua, up, un = normalise(a), normalise(p), normalise(n3)
        d_ap = 1 - (ua * up).sum(-1)
        d_an = 1 - torch.einsum("bd,bkd->bk", ua, un)
    else:
        d_ap = _euclidean(a, p)
        d_an = _euclidean(a[:, None, :], n3)
    items = torch.clamp(d_ap[:, None] - d_an + margin, min=0)
    return reduce(items.reshape(n.shape[:-1]), reduction)


def cosine_similarity(u, v, scores, *, reduction="mean"):
    """``(cos(u_i, v_i) - score_i)^2``."""
    return reduce(((normalise(u) * normalise(v)).sum(-1) - scores) ** 2, reduction)


def local_contrastive(z, edges, labels=None, *, margin=1.0, reduction="mean"):
    """``d^2`` for similar edges, ``max(0, margin - d)^2`` for dissimilar ones."""
    edges = torch.as_tensor(edges, dtype=torch.int64)
    d = _euclidean(z[edges[:, 0]], z[edges[:, 1]])
    similar = (
        torch.ones(len(edges), dtype=torch.bool) if labels is None else torch.as_tensor(labels)
    )
    items = torch.where(similar, d**2, torch.clamp(margin - d, min=0) ** 2)
    return reduce(items, reduction)


def spectral(z, edges, weights=None, *, lam=0.01, normalized=True):
    """``lam * sum_e w_e ||z_i / sqrt(d_i) - z_j / sqrt(d_j)||^2`` (self-loops dropped)."""
    edges = torch.as_tensor(edges, dtype=torch.int64)
    w = torch.ones(len(edges), dtype=z.dtype) if weights is None else torch.as_tensor(weights)
    keep = edges[:, 0] != edges[:, 1]
    edges, w = edges[keep], w[keep]
    if normalized:
        degree = torch.zeros(z.shape[0], dtype=z.dtype)
        degree.index_add_(0, edges[:, 0], w)
        degree.index_add_(0, edges[:, 1], w)
        z = z / torch.sqrt(torch.where(degree > 0, degree, torch.ones_like(degree)))[:, None]
    diff = z[edges[:, 0]] - z[edges[:, 1]]
    return lam * (w * (diff**2).sum(-1)).sum()


def matryoshka(base, dims, weights, *inputs, **kwargs):
    """``sum_k w_k base(inputs sliced to dims[k])`` (2-D+ float inputs are sliced)."""
    total = 0
    for d, w in zip(dims, weights):
        sliced = [
            x[..., :d]
            if isinstance(x, torch.Tensor) and x.dim() >= 2 and x.is_floating_point()
            else x
            for x in inputs
        ]
        total = total + w * base(*sliced, **kwargs)
    return total
