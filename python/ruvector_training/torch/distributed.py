"""Rows gathered across ``torch.distributed`` ranks, with the gradient routed back to the rank
that owns each row."""

from __future__ import annotations

import torch
import torch.distributed as dist


def _world() -> int:
    """The default group's size, or 1 when ``torch.distributed`` is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _GatherRows(torch.autograd.Function):
    """All-gather along dim 0 (ranks may hold different row counts); the backward keeps the
    gradient of the caller's own rows, times ``scale``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # noqa: D102
        world, rank = dist.get_world_size(), dist.get_rank()
        count = torch.tensor([x.shape[0]], dtype=torch.int64, device=x.device)
        counts = [torch.zeros_like(count) for _ in range(world)]
        dist.all_gather(counts, count)
        sizes = [int(c.item()) for c in counts]
        largest = max(sizes)
        padded = x.new_zeros((largest,) + tuple(x.shape[1:]))
        padded[: x.shape[0]] = x
        pieces = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(pieces, padded.contiguous())
        ctx.start = sum(sizes[:rank])
        ctx.count = x.shape[0]
        ctx.scale = scale
        return torch.cat([piece[:n] for piece, n in zip(pieces, sizes)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        return grad[ctx.start : ctx.start + ctx.count] * ctx.scale, None


def gather_rows(x: torch.Tensor, *, scale: float | None = None) -> torch.Tensor:
    """``x (n_r, ...)`` of every rank concatenated in rank order (ranks may differ in ``n_r``).

    The backward returns this rank's slice of the incoming gradient times ``scale`` (default:
    the world size) and exchanges nothing. It is meant for a loss that every rank evaluates
    identically on the gathered rows, as :class:`InfoNCELoss` with ``gather_across_ranks=True``
    does: each rank keeps the gradient of the rows it owns, and the default scale makes DDP's
    averaging of parameter gradients over ranks equal the single-process gradient on the
    concatenated batch (pass ``scale=1.0`` to have their *sum* equal it). Without an
    initialised process group, or with one rank, ``x`` is returned unchanged.
    """
    world = _world()
    if world == 1:
        return x
    return _GatherRows.apply(x, float(world if scale is None else scale))
