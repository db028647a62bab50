"""The one ``torch.autograd.Function`` behind every bridged loss: the forward runs a NumPy-level
loss (``forward(...) -> (loss, grads)``) on the tensors' memory, the backward scales the
returned gradients by the incoming gradient."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
import torch


def to_numpy(name: str, value: Any) -> Any:
    """The NumPy view of a CPU tensor (no copy, any strides); anything else unchanged.

    Raises:
        ValueError: ``value`` is a tensor on another device than the CPU.
        TypeError: its dtype has no NumPy equivalent (e.g. bfloat16).
    """
    if not isinstance(value, torch.Tensor):
        return value
    if value.device.type != "cpu":
        raise ValueError(
            f"{name}: expected a CPU tensor, got one on {value.device}; the Rust kernels read "
            "host memory: pass .cpu() (autograd moves the gradient back)"
        )
    try:
        return value.detach().resolve_conj().resolve_neg().numpy()
    except TypeError as error:
        raise TypeError(f"{name}: dtype {value.dtype} has no NumPy equivalent: {error}") from None


def _is_uniform(grad: torch.Tensor) -> bool:
    """Whether every element of ``grad`` is the same (the gradient of a sum or mean)."""
    flat = grad.reshape(-1)
    return flat.numel() == 0 or bool(torch.all(flat == flat[0]))


def _scale(grad: np.ndarray, grad_output: torch.Tensor, per_item: bool) -> torch.Tensor:
    """``grad`` as a tensor times ``grad_output`` (a scalar, or one value per item broadcast
    over the trailing axes of ``grad``)."""
    tensor = torch.from_numpy(grad)
    if not per_item:
        return tensor * grad_output.reshape(-1)[0].to(tensor.dtype)
    g = grad_output.to(tensor.dtype)
    return tensor * g.reshape(g.shape + (1,) * (tensor.dim() - g.dim()))


class LossCall:
    """What one call needs besides the tensors: the loss callable, keyword options, the input
    names (for messages) and whether the per-item losses are row-separable.

    Args:
        loss: ``loss(*arrays, **kwargs) -> (loss, grads)``, one gradient per input.
        names: one name per positional input.
        kwargs: keyword options for ``loss``.
        separable: item ``i`` of a ``"none"`` loss depends only on row ``i`` of every input
            that gets a gradient, so an arbitrary per-item ``grad_output`` scales gradient rows
            exactly. Otherwise only a uniform ``grad_output`` (from a sum or mean) is exact.
    """

    def __init__(
        self,
        loss: Callable[..., tuple[Any, tuple[Any, ...]]],
        names: Sequence[str],
        kwargs: dict[str, Any] | None = None,
        separable: bool = False,
    ) -> None:
        self.loss = loss
        self.names = tuple(names)
        self.kwargs = kwargs or {}
        self.separable = separable


class RustLossFunction(torch.autograd.Function):
    """``apply(call, *inputs)``: the loss as a tensor of the inputs' dtype; gradients for the
    tensor inputs that require them (None for the others and for inputs without a gradient)."""

    @staticmethod
    def forward(ctx, call: LossCall, *inputs: Any) -> torch.Tensor:  # noqa: D102
        arrays = [to_numpy(name, x) for name, x in zip(call.names, inputs)]
        loss, grads = call.loss(*arrays, **call.kwargs)
        ctx.grads = grads
        ctx.separable = call.separable
        ctx.names = call.names
        dtype = next(
            (x.dtype for x in inputs if isinstance(x, torch.Tensor) and x.is_floating_point()),
            torch.get_default_dtype(),
        )
        if isinstance(loss, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(loss))
        return torch.tensor(float(loss), dtype=dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # noqa: D102
        per_item = grad_output.dim() > 0 and not _is_uniform(grad_output)
        if per_item and not ctx.separable:
            raise RuntimeError(
                f"reduction='none': the loss over ({', '.join(ctx.names)}) couples items (its "
                "kernel returns the gradient of the sum of the items only), so a non-uniform "
                "weighting of the per-item losses has no exact gradient here; reduce with "
                ".sum() or .mean(), or use reduction='mean'/'sum'"
            )
        out: list[torch.Tensor | None] = []
        for needs, grad in zip(ctx.needs_input_grad[1:], ctx.grads):
            out.append(_scale(grad, grad_output, per_item) if needs and grad is not None else None)
        out.extend([None] * (len(ctx.needs_input_grad) - 1 - len(out)))
        return (None, *out)


def apply_loss(call: LossCall, *inputs: Any) -> torch.Tensor:
    """Runs :class:`RustLossFunction`; ``torch.compile`` falls back to eager around it (the
    kernel is opaque to dynamo), so a compiled model gets a graph break here."""
    return RustLossFunction.apply(call, *inputs)


if hasattr(torch, "compiler") and hasattr(torch.compiler, "disable"):
    apply_loss = torch.compiler.disable(apply_loss)
