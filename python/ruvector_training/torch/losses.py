"""``torch.nn.Module`` versions of the Rust losses and of :class:`MultiObjectiveLoss`.

Each module owns the NumPy-level loss object of the same name (:attr:`numpy_loss`), takes its
constructor arguments, forwards its configuration attributes (readable and writable between
calls, so a scheduler can change them) and returns the loss as a tensor of the inputs' dtype:
0-d for ``"mean"``/``"sum"``, per item for ``"none"``.

For ``reduction="none"`` the gradient is exact for any per-item weighting when the items are
row-separable (:class:`CosineSimilarityLoss`, :class:`TripletLoss` with ``(B, D)`` negatives,
:class:`InfoNCELoss` and :class:`MaxSimLoss` with per-row negatives and ``in_batch=False``);
for the other layouts the kernels couple items and return the gradient of their sum only, so
the backward accepts a uniform incoming gradient (``.sum()``, ``.mean()``) and raises
``RuntimeError`` otherwise.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import ruvector_training as rt
from ruvector_training.multi_objective import COMPONENTS
from ruvector_training.torch._function import LossCall, apply_loss, to_numpy
from ruvector_training.torch.distributed import gather_rows


def _forwarded(name: str, doc: str) -> property:
    """A property reading and writing ``self.numpy_loss.<name>``."""

    def get(self):
        return getattr(self.numpy_loss, name)

    def set_(self, value):
        setattr(self.numpy_loss, name, value)

    return property(get, set_, doc=doc)


class _BridgedLoss(nn.Module):
    """Common machinery: build the NumPy loss, run it through :class:`RustLossFunction`.

    A subclass of a Rust-backed loss gets one forwarded property per entry of the NumPy class's
    ``config_fields`` (documented by the NumPy class's property), so a field added to the Rust
    field table needs no edit here.
    """

    numpy_class: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in getattr(cls.numpy_class, "config_fields", ()):
            if name not in cls.__dict__:
                setattr(cls, name, _forwarded(name, getattr(cls.numpy_class, name).__doc__))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.numpy_loss = self.numpy_class(*args, **kwargs)

    def _run(self, names, inputs, kwargs=None, separable=False) -> torch.Tensor:
        return apply_loss(LossCall(self.numpy_loss, names, kwargs, separable), *inputs)

    def extra_repr(self) -> str:  # noqa: D102
        return repr(self.numpy_loss)


class InfoNCELoss(_BridgedLoss):
    """InfoNCE / NT-Xent / MultipleNegativesRankingLoss over tensors
    (:class:`ruvector_training.InfoNCELoss` for the formula and arguments).

    Args:
        temperature, similarity, symmetric, reduction, logits_budget_bytes: as the NumPy class.
        gather_across_ranks: on an initialised ``torch.distributed`` group with more than one
            rank, all-gather anchors, positives (and negatives) so every anchor is contrasted
            with the global batch. Every rank then evaluates the global-batch loss (the same
            value on every rank, equal to one process on the concatenated batch) and keeps the
            gradient of its own rows, multiplied by the world size: summed over ranks the
            parameter gradients are ``world_size`` times the single-process gradient, so DDP's
            gradient averaging (or an explicit all-reduce divided by the world size) reproduces
            single-process training exactly. Each rank evaluates the
            ``O(B_global^2 D)`` kernel itself; the backward needs no communication. With
            ``reduction="none"`` the per-item losses of the global batch are returned.
    """

    numpy_class = rt.InfoNCELoss

    def __init__(self, *args: Any, gather_across_ranks: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gather_across_ranks = bool(gather_across_ranks)

    def forward(
        self,
        anchors: torch.Tensor,
        positives: torch.Tensor,
        negatives: torch.Tensor | None = None,
        *,
        in_batch: bool | None = None,
        anchor_ids: Any = None,
        candidate_ids: Any = None,
        guide_anchors: Any = None,
        guide_positives: Any = None,
        guide_negatives: Any = None,
        queue: rt.EmbeddingQueue | None = None,
    ) -> torch.Tensor:
        """The loss of ``anchors (B, D)``, ``positives (B, D)`` and optional per-row
        ``negatives (B, K, D)`` (float32/float64 CPU tensors of one dtype); ``in_batch``, the
        ids (false-negative masking), the guide embeddings (GIST filtering) and ``queue`` as
        in the NumPy class. The keyword arrays get no gradient (guide tensors are detached).

        With ``gather_across_ranks`` the ids and guide embeddings are all-gathered like the
        embeddings (ids and guides must then be tensors); the queue is used as is."""
        extras = {
            "anchor_ids": anchor_ids,
            "candidate_ids": candidate_ids,
            "guide_anchors": guide_anchors,
            "guide_positives": guide_positives,
            "guide_negatives": guide_negatives,
        }
        if self.gather_across_ranks:
            extras = self._gather_extras(extras, anchors.shape[0], negatives, in_batch)
            anchors, positives = gather_rows(anchors), gather_rows(positives)
            if negatives is not None:
                negatives = gather_rows(negatives)
        kwargs = {k: to_numpy(k, v) for k, v in extras.items() if v is not None}
        if queue is not None:
            kwargs["queue"] = queue
        per_row = negatives is not None and in_batch is not True
        return self._run(
            ("anchors", "positives", "negatives"),
            (anchors, positives, negatives),
            {"in_batch": in_batch, **kwargs},
            separable=per_row,
        )

    @staticmethod
    def _gather_extras(extras: dict, b: int, negatives: Any, in_batch: bool | None) -> dict:
        """All-gathers the ids and guide embeddings into the gathered batch's layout (the
        shared layout's candidate ids are gathered as positives then negatives)."""
        out: dict[str, torch.Tensor | None] = {}
        for name, value in extras.items():
            if value is None:
                out[name] = None
                continue
            t = torch.as_tensor(value).detach()
            if name == "candidate_ids" and negatives is not None and in_batch is True:
                out[name] = torch.cat([gather_rows(t[:b]), gather_rows(t[b:])])
            else:
                out[name] = gather_rows(t)
        return out


class MaxSimLoss(_BridgedLoss):
    """Late-interaction (ColBERT MaxSim) contrastive loss over token tensors
    (:class:`ruvector_training.MaxSimLoss` for the formula and arguments).

    Args:
        temperature, similarity, normalize, symmetric, reduction, argmax_budget_bytes: as the
            NumPy class.
    """

    numpy_class = rt.MaxSimLoss

    temperature = _forwarded("temperature", "Softmax temperature (> 0).")
    similarity = _forwarded("similarity", '``"dot"`` or ``"cosine"``.')
    normalize = _forwarded("normalize", '``"none"`` or ``"query_length"``.')
    symmetric = _forwarded("symmetric", "Add the documents-as-queries direction.")
    reduction = _forwarded("reduction", '``"mean"``, ``"sum"`` or ``"none"``.')
    argmax_budget_bytes = _forwarded("argmax_budget_bytes", "Largest arg-max table kept.")

    def forward(
        self,
        queries: torch.Tensor,
        documents: torch.Tensor,
        negatives: torch.Tensor | None = None,
        *,
        query_mask: torch.Tensor | None = None,
        document_mask: torch.Tensor | None = None,
        negative_mask: torch.Tensor | None = None,
        in_batch: bool | None = None,
    ) -> torch.Tensor:
        """The loss of ``queries (B, Lq, D)``, ``documents (B, Ld, D)`` and optional
        ``negatives (B, K, Ln, D)`` (float32/float64 CPU tensors of one dtype), with optional
        boolean masks ``(B, Lq)``, ``(B, Ld)``, ``(B, K, Ln)`` (True = real token; masks get no
        gradient); ``in_batch`` as in the NumPy class."""
        masks = {
            "query_mask": to_numpy("query_mask", query_mask),
            "document_mask": to_numpy("document_mask", document_mask),
            "negative_mask": to_numpy("negative_mask", negative_mask),
        }
        per_row = negatives is not None and in_batch is not True
        return self._run(
            ("queries", "documents", "negatives"),
            (queries, documents, negatives),
            {"in_batch": in_batch, **masks},
            separable=per_row,
        )


class TripletLoss(_BridgedLoss):
    """Triplet margin loss over tensors (:class:`ruvector_training.TripletLoss`)."""

    numpy_class = rt.TripletLoss

    def forward(
        self, anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """The loss of ``anchors (B, D)``, ``positives (B, D)`` and ``negatives (B, D)`` or
        ``(B, K, D)``; ``"none"`` gives ``(B,)`` or ``(B, K)``."""
        return self._run(
            ("anchors", "positives", "negatives"),
            (anchors, positives, negatives),
            separable=negatives.dim() == 2,
        )


class CosineSimilarityLoss(_BridgedLoss):
    """``(cos(u_i, v_i) - score_i)^2`` over tensors
    (:class:`ruvector_training.CosineSimilarityLoss`); ``scores`` gets no gradient."""

    numpy_class = rt.CosineSimilarityLoss

    def forward(self, u: torch.Tensor, v: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """The loss of ``u (B, D)``, ``v (B, D)`` against target cosines ``scores (B,)`` (same
        dtype)."""
        return self._run(("u", "v", "scores"), (u, v, scores), separable=True)


class CoSENTLoss(_BridgedLoss):
    """CoSENT over tensors (:class:`ruvector_training.CoSENTLoss`); ``scores`` gets no gradient."""

    numpy_class = rt.CoSENTLoss

    scale = _forwarded("scale", "Inverse temperature (> 0).")

    def forward(self, u: torch.Tensor, v: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """The 0-d loss of ``u (B, D)``, ``v (B, D)`` against target ``scores (B,)``."""
        return self._run(("u", "v", "scores"), (u, v, scores))


class AnglELoss(CoSENTLoss):
    """AnglE over tensors (:class:`ruvector_training.AnglELoss`); ``scores`` gets no gradient."""

    numpy_class = rt.AnglELoss


class SupConLoss(_BridgedLoss):
    """Supervised contrastive loss over tensors (:class:`ruvector_training.SupConLoss`);
    ``labels`` (integer tensor or array) gets no gradient."""

    numpy_class = rt.SupConLoss

    temperature = _forwarded("temperature", "Softmax temperature (> 0).")
    similarity = _forwarded("similarity", '``"cosine"`` or ``"dot"``.')
    reduction = _forwarded("reduction", '``"mean"``, ``"sum"`` or ``"none"``.')
    logits_budget_bytes = _forwarded("logits_budget_bytes", "Largest logits block kept whole.")

    def forward(self, embeddings: torch.Tensor, labels: Any) -> torch.Tensor:
        """The loss of ``embeddings (B, D)`` with integer ``labels (B,)``; ``"none"`` gives
        ``(B,)`` (the anchors are coupled: only a uniform weighting of them is exact)."""
        return self._run(("embeddings", "labels"), (embeddings, labels))


class MarginMSELoss(_BridgedLoss):
    """MarginMSE over tensors (:class:`ruvector_training.MarginMSELoss`);
    ``teacher_margins`` gets no gradient."""

    numpy_class = rt.MarginMSELoss

    similarity = _forwarded("similarity", '``"dot"`` or ``"cosine"``.')
    reduction = _forwarded("reduction", '``"mean"``, ``"sum"`` or ``"none"``.')

    def forward(
        self,
        queries: torch.Tensor,
        positives: torch.Tensor,
        negatives: torch.Tensor,
        teacher_margins: torch.Tensor,
    ) -> torch.Tensor:
        """The loss of ``queries (B, D)``, ``positives (B, D)``, ``negatives (B, D)`` or
        ``(B, K, D)`` against ``teacher_margins (B,)`` or ``(B, K)``."""
        return self._run(
            ("queries", "positives", "negatives", "teacher_margins"),
            (queries, positives, negatives, teacher_margins),
            separable=negatives.dim() == 2,
        )


class DistillKLDivLoss(_BridgedLoss):
    """KL distillation over tensors (:class:`ruvector_training.DistillKLDivLoss`);
    ``teacher_scores`` gets no gradient."""

    numpy_class = rt.DistillKLDivLoss

    temperature = _forwarded("temperature", "Temperature of both sides (> 0).")
    student_temperature = _forwarded("student_temperature", "Student temperature (> 0).")
    teacher_temperature = _forwarded("teacher_temperature", "Teacher temperature (> 0).")
    similarity = _forwarded("similarity", '``"dot"`` or ``"cosine"``.')
    reduction = _forwarded("reduction", '``"mean"``, ``"sum"`` or ``"none"``.')

    def forward(
        self, queries: torch.Tensor, candidates: torch.Tensor, teacher_scores: torch.Tensor
    ) -> torch.Tensor:
        """The loss of ``queries (B, D)`` and ``candidates (B, C, D)`` against
        ``teacher_scores (B, C)``; ``"none"`` gives ``(B,)``."""
        return self._run(
            ("queries", "candidates", "teacher_scores"),
            (queries, candidates, teacher_scores),
            separable=True,
        )


class BatchTripletLoss(_BridgedLoss):
    """Batch triplet loss from labels over tensors (:class:`ruvector_training.BatchTripletLoss`);
    ``labels`` gets no gradient."""

    numpy_class = rt.BatchTripletLoss

    mining = _forwarded("mining", '``"hardest"``, ``"semi_hard"`` or ``"all"``.')
    margin = _forwarded("margin", "Margin (>= 0).")
    distance = _forwarded("distance", '``"euclidean"`` or ``"cosine"``.')
    soft_margin = _forwarded("soft_margin", "Softplus instead of the hinge (hardest only).")
    logits_budget_bytes = _forwarded("logits_budget_bytes", "Largest distance block kept whole.")

    def forward(self, embeddings: torch.Tensor, labels: Any) -> torch.Tensor:
        """The 0-d loss of ``embeddings (B, D)`` with integer ``labels (B,)``."""
        return self._run(("embeddings", "labels"), (embeddings, labels))


class LocalContrastiveLoss(_BridgedLoss):
    """Neighbourhood preservation on a graph (:class:`ruvector_training.LocalContrastiveLoss`).
    ``edges``/``labels`` may be tensors or NumPy arrays and get no gradient."""

    numpy_class = rt.LocalContrastiveLoss

    def forward(self, embeddings: torch.Tensor, edges: Any, labels: Any = None) -> torch.Tensor:
        """The loss of ``embeddings (N, D)`` over integer ``edges (E, 2)`` with optional bool
        ``labels (E,)``; ``"none"`` gives ``(E,)``."""
        return self._run(("embeddings", "edges", "labels"), (embeddings, edges, labels))


class SpectralRegularization(_BridgedLoss):
    """``lam * tr(Z^T L Z)`` over tensors (:class:`ruvector_training.SpectralRegularization`).
    ``edges``/``weights`` may be tensors or NumPy arrays and get no gradient."""

    numpy_class = rt.SpectralRegularization

    def forward(self, embeddings: torch.Tensor, edges: Any, weights: Any = None) -> torch.Tensor:
        """The (0-d) loss of ``embeddings (N, D)`` over ``edges (E, 2)`` with optional
        ``weights (E,)``."""
        return self._run(("embeddings", "edges", "weights"), (embeddings, edges, weights))


class MatryoshkaLoss(_BridgedLoss):
    """A loss over nested embedding prefixes (:class:`ruvector_training.MatryoshkaLoss`).

    Args:
        base_loss: one of this module's losses (its NumPy loss is used) or a NumPy-level loss.
        dims, weights: as the NumPy class.

    ``forward`` takes the base loss's tensors (and keyword options) in its order.
    """

    numpy_class = rt.MatryoshkaLoss

    dims = _forwarded("dims", "The prefix sizes.")
    weights = _forwarded("weights", "One weight per prefix size.")

    def __init__(self, base_loss: Any, dims, weights=None) -> None:
        bridged = isinstance(base_loss, _BridgedLoss)
        if bridged and getattr(base_loss, "gather_across_ranks", False):
            raise ValueError("base_loss: gather_across_ranks is not supported inside Matryoshka")
        super().__init__(base_loss.numpy_loss if bridged else base_loss, dims, weights)

    def forward(self, *inputs: Any, **kwargs: Any) -> torch.Tensor:
        """``sum_k w_k base_loss(prefixes of the inputs to dims[k])`` as a tensor."""
        names = tuple(f"input {i}" for i in range(len(inputs)))
        separable = _matryoshka_separable(self.numpy_loss.base_loss, inputs, kwargs)
        return self._run(names, inputs, kwargs, separable=separable)


def _matryoshka_separable(base: Any, inputs: tuple, kwargs: dict) -> bool:
    """Row-separability of the base loss for these inputs (see the module docstring)."""
    if isinstance(base, rt.CosineSimilarityLoss):
        return True
    if isinstance(base, rt.TripletLoss):
        return len(inputs) >= 3 and inputs[2].dim() == 2
    if isinstance(base, rt.InfoNCELoss):
        has_negatives = len(inputs) >= 3 and inputs[2] is not None
        return has_negatives and kwargs.get("in_batch") is not True
    return False


class _WeightedTotal(torch.autograd.Function):
    """``apply(loss, log_vars, *values)``: the total of :meth:`rt.MultiObjectiveLoss.forward`
    with gradients (its multipliers) for each value and for ``log_vars``."""

    @staticmethod
    def forward(ctx, loss, names, log_vars, *values):  # noqa: D102
        if loss.adaptive == "uncertainty":
            loss.log_vars = log_vars.detach().cpu().numpy()
        components = {name: float(v) for name, v in zip(names, values)}
        total, (multipliers, grad_log_vars) = loss.forward(components)
        ctx.multipliers = [getattr(multipliers, name) for name in names]
        ctx.grad_log_vars = grad_log_vars
        return torch.tensor(total, dtype=values[0].dtype, device=values[0].device)

    @staticmethod
    def backward(ctx, grad_output):  # noqa: D102
        grads_values = [grad_output * m for m in ctx.multipliers]
        grad_log_vars = None
        if ctx.grad_log_vars is not None:
            grad_log_vars = grad_output * torch.from_numpy(ctx.grad_log_vars)
        return (None, None, grad_log_vars, *grads_values)


class MultiObjectiveLoss(nn.Module):
    """Combines 0-d loss tensors into one (:class:`ruvector_training.MultiObjectiveLoss`):
    fixed weights, or ``adaptive="uncertainty"`` (Kendall et al. 2018) with the log-variances
    as the learnable ``nn.Parameter`` :attr:`log_vars` ``(4,)`` float64, which a torch
    optimizer steps along with the model.

    Args:
        weights: a :class:`ruvector_training.LossWeights` (default ``LossWeights()``).
        adaptive: ``None`` or ``"uncertainty"``.

    ``forward`` takes a dict (or keywords) with the component names ``infonce``, ``local``,
    ``spectral`` and ``reconstruction`` as keys and 0-d tensors as values. GradNorm stays with
    :attr:`numpy_loss` (``gradnorm_update``).
    """

    def __init__(self, weights: rt.LossWeights | None = None, adaptive: str | None = None):
        super().__init__()
        self.numpy_loss = rt.MultiObjectiveLoss(weights, adaptive)
        self.log_vars = nn.Parameter(torch.zeros(4, dtype=torch.float64))

    def forward(self, components: dict | None = None, **values: torch.Tensor) -> torch.Tensor:
        """The weighted total as a 0-d tensor (gradients flow to each component and, with
        ``"uncertainty"``, to :attr:`log_vars`)."""
        values = {**(components or {}), **values}
        unknown = sorted(set(values) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"components: unknown names {unknown}")
        if not values:
            raise ValueError("components: expected at least one loss value, got none")
        names = tuple(values)
        tensors = [torch.as_tensor(values[n]) for n in names]
        for name, t in zip(names, tensors):
            if t.numel() != 1:
                raise ValueError(f"{name}: expected a 0-d loss tensor, got shape {tuple(t.shape)}")
        return _WeightedTotal.apply(self.numpy_loss, names, self.log_vars, *tensors)


__all__ = [
    "CosineSimilarityLoss",
    "InfoNCELoss",
    "LocalContrastiveLoss",
    "MatryoshkaLoss",
    "MultiObjectiveLoss",
    "SpectralRegularization",
    "TripletLoss",
]
