"""Exact large-batch InfoNCE in the GradCache way (Gao, Zhang, Han & Callan, 2021): embed the
batch chunk by chunk without a graph, get the full-batch loss and embedding gradients from the
Rust kernel (memory ``O(B * D)``), then re-run the encoder chunk by chunk with the same random
state and back-propagate the cached gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import torch
from torch.utils.checkpoint import get_device_states, set_device_states

from ruvector_training.torch.losses import InfoNCELoss, MaxSimLoss

#: The keyword inputs of :meth:`InfoNCELoss.forward` that CachedInfoNCE passes through.
_EXTRAS = frozenset(
    ("anchor_ids", "candidate_ids", "guide_anchors", "guide_positives", "guide_negatives", "queue")
)


def _rows(inputs: Any) -> int:
    """Number of rows (dim 0) of a tensor or of a mapping of tensors."""
    if isinstance(inputs, torch.Tensor):
        return inputs.shape[0]
    if isinstance(inputs, Mapping):
        sizes = {v.shape[0] for v in inputs.values() if isinstance(v, torch.Tensor)}
        if len(sizes) != 1:
            raise ValueError(f"inputs: expected tensors with one common dim 0, got {sorted(sizes)}")
        return sizes.pop()
    raise TypeError(
        f"inputs: expected a tensor or a mapping of tensors, got {type(inputs).__name__}"
    )


def _chunk(inputs: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a tensor or of every tensor in a mapping."""
    if isinstance(inputs, torch.Tensor):
        return inputs[start:stop]
    return {k: v[start:stop] if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _tensors(inputs: Any) -> list[torch.Tensor]:
    if isinstance(inputs, torch.Tensor):
        return [inputs]
    return [v for v in inputs.values() if isinstance(v, torch.Tensor)]


class _RandomState:
    """The CPU generator's state and that of every CUDA device the inputs live on."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.cpu = torch.get_rng_state()
        self.devices, self.states = get_device_states(*tensors)

    def replay(self):
        """A context (forking the generators) in which the random draws repeat."""
        fork = torch.random.fork_rng(devices=self.devices)

        class _Context:
            def __enter__(ctx):  # noqa: N805
                fork.__enter__()
                torch.set_rng_state(self.cpu)
                set_device_states(self.devices, self.states)

            def __exit__(ctx, *exc):  # noqa: N805
                return fork.__exit__(*exc)

        return _Context()


class CachedInfoNCE:
    """InfoNCE over a batch too large for one graph, with exactly the full-batch loss and
    parameter gradients.

    ``loss = cached(anchor_inputs, positive_inputs)`` runs the encoder on chunks of
    ``chunk_size`` rows without a graph and evaluates the full-batch InfoNCE loss and its
    embedding gradients with the Rust kernel. ``loss.backward()`` then re-runs the encoder
    chunk by chunk (restoring the random state recorded before each chunk, so dropout draws the
    same masks) and back-propagates the cached embedding gradients, scaled by the incoming
    gradient, into the encoder's parameters. Peak memory: the ``(B, D)`` embeddings and their
    gradients, the kernel's ``O(B * D)`` workspace, and one chunk's activations.

    Args:
        encoder: ``encoder(inputs) -> (n, D)`` float tensor, for ``inputs`` a tensor or a
            mapping of tensors (e.g. a tokenizer's batch) whose dim 0 has ``n`` rows.
        loss: the InfoNCE options: an :class:`InfoNCELoss` module, or None for
            ``InfoNCELoss(**loss_options)``. With ``gather_across_ranks=True`` each rank embeds
            its own rows, the embeddings are all-gathered, and each rank back-propagates the
            gradient of its own rows (the convention of :class:`InfoNCELoss`: DDP's averaging
            gives the single-process gradient on the concatenated batch).
        chunk_size: rows per encoder call (>= 1).
        **loss_options: :class:`InfoNCELoss` arguments when ``loss`` is None.

    The loss is returned as a 0-d tensor that requires a gradient (``reduction`` must be
    ``"mean"`` or ``"sum"``). The same encoder state must be used for the call and its
    backward (do not step the optimizer in between).
    """

    def __init__(
        self,
        encoder: Callable[[Any], torch.Tensor],
        loss: InfoNCELoss | None = None,
        chunk_size: int = 64,
        **loss_options: Any,
    ) -> None:
        if loss is not None and loss_options:
            raise ValueError("loss: pass an InfoNCELoss or options, not both")
        self.loss = InfoNCELoss(**loss_options) if loss is None else loss
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size: expected an int >= 1, got {chunk_size!r}")
        self.encoder = encoder
        self.chunk_size = chunk_size

    def _embed(self, inputs: Any) -> tuple[torch.Tensor, list[_RandomState]]:
        """Embeddings of all rows without a graph, and the random state before each chunk."""
        n, states, pieces = _rows(inputs), [], []
        with torch.no_grad():
            for start in range(0, n, self.chunk_size):
                chunk = _chunk(inputs, start, min(start + self.chunk_size, n))
                states.append(_RandomState(_tensors(chunk)))
                pieces.append(self.encoder(chunk).detach())
        return torch.cat(pieces), states

    def __call__(
        self, anchors: Any, positives: Any, negatives: Any = None, *, in_batch=None, **extras: Any
    ):
        """The full-batch loss (0-d tensor, its backward runs the encoder again).

        Args:
            anchors: encoder inputs with B rows.
            positives: encoder inputs with B rows.
            negatives: optional encoder inputs with ``B * K`` rows (row ``i * K + k`` is
                negative ``k`` of anchor ``i``), reshaped to ``(B, K, D)``.
            in_batch: as :meth:`InfoNCELoss.forward`.
            **extras: ``anchor_ids``, ``candidate_ids``, ``guide_anchors``,
                ``guide_positives``, ``guide_negatives``, ``queue``, as
                :meth:`InfoNCELoss.forward` (ids and guide embeddings of the whole batch, the
                guides already embedded; none of them gets a gradient).
        """
        if self.loss.reduction == "none":
            raise ValueError("loss: reduction 'none' is not supported by CachedInfoNCE")
        for name in sorted(set(extras) - _EXTRAS):
            raise TypeError(f"{name}: not a keyword argument of InfoNCELoss.forward")
        groups = [anchors, positives] + ([] if negatives is None else [negatives])
        embedded = [self._embed(inputs) for inputs in groups]
        leaves = [e.requires_grad_() for e, _ in embedded]
        b = leaves[0].shape[0]
        views = list(leaves)
        if negatives is not None:
            if leaves[2].shape[0] % b:
                raise ValueError(
                    f"negatives: expected a multiple of B={b} rows, got {leaves[2].shape[0]}"
                )
            views[2] = leaves[2].view(b, -1, leaves[2].shape[1])
        with torch.enable_grad():
            loss = self.loss(*views, in_batch=in_batch, **extras)
            grads = torch.autograd.grad(loss, leaves)
        result = loss.detach().requires_grad_()
        result.register_hook(self._replay_hook(groups, [s for _, s in embedded], grads))
        return result

    def _replay_hook(self, groups, states, grads):
        """The hook that runs the cached backward when the returned loss gets its gradient."""

        def hook(grad_output: torch.Tensor) -> None:
            for inputs, group_states, group_grad in zip(groups, states, grads):
                n = group_grad.shape[0]
                for index, start in enumerate(range(0, n, self.chunk_size)):
                    stop = min(start + self.chunk_size, n)
                    with group_states[index].replay(), torch.enable_grad():
                        out = self._output(self.encoder(_chunk(inputs, start, stop)))
                    upstream = self._upstream(group_grad[start:stop], out)
                    out.backward(upstream.to(out.device, out.dtype) * grad_output)

        return hook

    def _output(self, out: Any) -> torch.Tensor:
        """The differentiable embedding tensor of one encoder call."""
        return out

    def _upstream(self, grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The cached gradient rows matching one chunk's embeddings ``out``."""
        return grad


def _tokens_and_mask(out: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A multi-vector encoder's output: ``(n, L, D)`` tokens and an optional ``(n, L)`` mask."""
    if isinstance(out, (tuple, list)):
        tokens, mask = out
        return tokens, mask
    return out, None


class CachedMaxSim(CachedInfoNCE):
    """:class:`MaxSimLoss` over a batch too large for one graph (GradCache, as
    :class:`CachedInfoNCE`): exactly the full-batch loss and parameter gradients, with memory
    for the ``(B, L, D)`` token embeddings, their gradients and one chunk's activations.

    Args:
        encoder: a multi-vector encoder, ``encoder(inputs) -> tokens`` (an ``(n, L, D)`` float
            tensor, every token real) or ``-> (tokens, mask)`` with a boolean ``(n, L)`` mask
            (True = real token). Chunks may return different ``L``: they are padded to the
            longest with masked tokens.
        loss: a :class:`MaxSimLoss` module, or None for ``MaxSimLoss(**loss_options)``.
        chunk_size: rows per encoder call (>= 1).
        **loss_options: :class:`MaxSimLoss` arguments when ``loss`` is None.

    Call it as ``cached(query_inputs, document_inputs, negative_inputs=None, *,
    in_batch=None)``: negatives have ``B * K`` rows (row ``i * K + k`` is negative ``k`` of
    query ``i``). The loss is a 0-d tensor (``reduction`` ``"mean"`` or ``"sum"``) whose
    backward re-runs the encoder chunk by chunk with the recorded random state.
    """

    def __init__(
        self,
        encoder: Callable[[Any], Any],
        loss: MaxSimLoss | None = None,
        chunk_size: int = 64,
        **loss_options: Any,
    ) -> None:
        if loss is not None and loss_options:
            raise ValueError("loss: pass a MaxSimLoss or options, not both")
        super().__init__(encoder, MaxSimLoss(**loss_options) if loss is None else loss, chunk_size)

    def _output(self, out: Any) -> torch.Tensor:
        return _tokens_and_mask(out)[0]

    def _upstream(self, grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return grad[:, : out.shape[1]]

    def _embed_tokens(self, inputs: Any):
        """Token embeddings of all rows (padded to the longest chunk), their mask, and the
        random state before each chunk."""
        n, states, pieces = _rows(inputs), [], []
        with torch.no_grad():
            for start in range(0, n, self.chunk_size):
                chunk = _chunk(inputs, start, min(start + self.chunk_size, n))
                states.append(_RandomState(_tensors(chunk)))
                tokens, mask = _tokens_and_mask(self.encoder(chunk))
                if mask is None:
                    mask = torch.ones(tokens.shape[:2], dtype=torch.bool)
                pieces.append((tokens.detach(), mask.detach().to(torch.bool)))
        length = max(t.shape[1] for t, _ in pieces)
        tokens = torch.cat(
            [torch.nn.functional.pad(t, (0, 0, 0, length - t.shape[1])) for t, _ in pieces]
        )
        mask = torch.cat(
            [torch.nn.functional.pad(m, (0, length - m.shape[1]), value=False) for _, m in pieces]
        )
        return tokens, mask.cpu(), states

    def __call__(self, queries: Any, documents: Any, negatives: Any = None, *, in_batch=None):
        """The full-batch loss (0-d tensor, its backward runs the encoder again)."""
        if self.loss.reduction == "none":
            raise ValueError("loss: reduction 'none' is not supported by CachedMaxSim")
        groups = [queries, documents] + ([] if negatives is None else [negatives])
        embedded = [self._embed_tokens(inputs) for inputs in groups]
        leaves = [tokens.requires_grad_() for tokens, _, _ in embedded]
        masks = [mask for _, mask, _ in embedded]
        b = leaves[0].shape[0]
        views, mask_views = list(leaves), list(masks)
        if negatives is not None:
            if leaves[2].shape[0] % b:
                raise ValueError(
                    f"negatives: expected a multiple of B={b} rows, got {leaves[2].shape[0]}"
                )
            views[2] = leaves[2].view(b, -1, *leaves[2].shape[1:])
            mask_views[2] = masks[2].view(b, -1, masks[2].shape[1])
        with torch.enable_grad():
            loss = self.loss(
                *views,
                query_mask=mask_views[0],
                document_mask=mask_views[1],
                negative_mask=mask_views[2] if negatives is not None else None,
                in_batch=in_batch,
            )
            grads = torch.autograd.grad(loss, leaves)
        result = loss.detach().requires_grad_()
        result.register_hook(self._replay_hook(groups, [s for _, _, s in embedded], grads))
        return result
