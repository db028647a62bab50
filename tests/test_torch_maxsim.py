"""The torch bridge of late interaction: ruvector_training.torch.MaxSimLoss against the same loss
written in PyTorch (einsum, masked max, cross-entropy, autograd), and CachedMaxSim against the
uncached loss on the whole batch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ruvector_training.torch import CachedMaxSim, MaxSimLoss  # noqa: E402


def torch_maxsim_loss(q, d, qm, dm, temperature, symmetric, normalize):
    """In-batch MaxSim InfoNCE in plain PyTorch: the full (B, B, Lq, Ld) tensor."""
    sims = torch.einsum("itx,jux->ijtu", q, d)
    sims = sims.masked_fill(~dm[None, :, None, :], float("-inf"))
    best = sims.max(dim=3).values.masked_fill(~qm[:, None, :], 0.0)
    scores = best.sum(dim=2)
    if normalize == "query_length":
        scores = scores / qm.sum(dim=1, keepdim=True)
    logits = scores / temperature
    labels = torch.arange(q.shape[0])
    loss = torch.nn.functional.cross_entropy(logits, labels)
    if symmetric:
        loss = 0.5 * (loss + torch.nn.functional.cross_entropy(logits.T, labels))
    return loss


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", ["none", "query_length"])
def test_matches_pytorch_autograd(dtype, symmetric, normalize):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(6, 5, 8, generator=gen, dtype=dtype, requires_grad=True)
    d = torch.randn(6, 9, 8, generator=gen, dtype=dtype, requires_grad=True)
    qm = torch.rand(6, 5, generator=gen) < 0.7
    dm = torch.rand(6, 9, generator=gen) < 0.7
    qm[:, 0] = dm[:, 0] = True
    loss = MaxSimLoss(temperature=0.3, symmetric=symmetric, normalize=normalize)
    ours = loss(q, d, query_mask=qm, document_mask=dm)
    ours.backward()
    ours_grads = (q.grad.clone(), d.grad.clone())
    q.grad = d.grad = None
    theirs = torch_maxsim_loss(q, d, qm, dm, 0.3, symmetric, normalize)
    theirs.backward()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, theirs, **tol)
    torch.testing.assert_close(ours_grads[0], q.grad, **tol)
    torch.testing.assert_close(ours_grads[1], d.grad, **tol)


def test_per_row_none_reduction_weights_items_exactly():
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    d = torch.randn(3, 6, 5, generator=gen, dtype=torch.float64)
    n = torch.randn(3, 2, 6, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    loss = MaxSimLoss(reduction="none")
    items = loss(q, d, n, in_batch=False)
    weights = torch.tensor([0.5, 2.0, -1.0], dtype=torch.float64)
    (items * weights).sum().backward()
    for i in range(3):
        q_i = q.detach()[i : i + 1].clone().requires_grad_()
        single = MaxSimLoss(reduction="sum")(q_i, d[i : i + 1], n.detach()[i : i + 1])
        single.backward()
        torch.testing.assert_close(q.grad[i], weights[i] * q_i.grad[0])
    assert loss.numpy_loss.reduction == "none"


class TokenEncoder(torch.nn.Module):
    """A tiny multi-vector encoder with dropout: features (n, L, F) -> tokens (n, L, D)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(7, 4, dtype=torch.float64)
        self.drop = torch.nn.Dropout(0.2)

    def forward(self, inputs):
        tokens = self.drop(self.proj(inputs["x"]))
        return tokens, inputs["mask"]


@pytest.mark.parametrize("layout", ["in_batch", "per_row", "shared"])
def test_cached_maxsim_equals_the_uncached_full_batch(layout):
    gen = torch.Generator().manual_seed(2)
    b, k = 10, 2

    def batch(rows, length):
        mask = torch.rand(rows, length, generator=gen) < 0.7
        mask[:, 0] = True
        return {"x": torch.randn(rows, length, 7, generator=gen, dtype=torch.float64), "mask": mask}

    queries, documents, negatives = batch(b, 4), batch(b, 6), batch(b * k, 5)
    extra = () if layout == "in_batch" else (negatives,)
    in_batch = {"in_batch": layout == "shared"} if layout != "in_batch" else {}
    encoder = TokenEncoder()
    cached = CachedMaxSim(encoder, chunk_size=3, temperature=0.5, symmetric=layout == "shared")
    torch.manual_seed(5)
    value = cached(queries, documents, *extra, **in_batch)
    value.backward()
    cached_grads = [p.grad.clone() for p in encoder.parameters()]
    encoder.zero_grad()

    # The same computation in one graph, with the dropout draws the chunks made.
    torch.manual_seed(5)
    outs = []
    for inputs in (queries, documents, *extra):
        rows = inputs["x"].shape[0]
        pieces = [
            encoder({"x": inputs["x"][s : s + 3], "mask": None})[0] for s in range(0, rows, 3)
        ]
        outs.append(torch.cat(pieces))
    loss = MaxSimLoss(temperature=0.5, symmetric=layout == "shared")
    masks = {"query_mask": queries["mask"], "document_mask": documents["mask"]}
    if extra:
        outs[2] = outs[2].view(b, k, 5, 4)
        masks["negative_mask"] = negatives["mask"].view(b, k, 5)
    full = loss(*outs, **masks, **in_batch)
    full.backward()
    torch.testing.assert_close(value.detach(), full.detach())
    for got, want in zip(cached_grads, (p.grad for p in encoder.parameters())):
        torch.testing.assert_close(got, want)


def test_cached_maxsim_rejects_bad_options():
    with pytest.raises(ValueError, match="^loss"):
        CachedMaxSim(lambda x: x, loss=MaxSimLoss(), temperature=0.5)
    with pytest.raises(ValueError, match="^chunk_size"):
        CachedMaxSim(lambda x: x, chunk_size=0)
    cached = CachedMaxSim(lambda x: x, reduction="none")
    with pytest.raises(ValueError, match="^loss"):
        cached(torch.zeros(2, 2, 2), torch.zeros(2, 2, 2))


def test_cuda_style_and_mask_errors_surface_from_the_kernel():
    q = torch.randn(2, 3, 4)
    with pytest.raises(TypeError, match="^query_mask"):
        MaxSimLoss()(q, q, query_mask=torch.ones(2, 3))
    assert np.isfinite(float(MaxSimLoss()(q, q)))
