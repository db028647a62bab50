"""sentence-transformers losses backed by the Rust kernels of :mod:`ruvector_training.torch`.

Every class takes the ``SentenceTransformer`` model first and implements sentence-transformers'
loss contract: ``forward(sentence_features, labels)`` receives one tokenized feature dict per
text column of the batch (in the dataset's column order, the label column excluded) and the
label tensor (or None), and returns a 0-d loss tensor (:class:`MultiObjectiveLoss` returns a
dict of named 0-d terms, which ``SentenceTransformerTrainer`` sums and logs one by one).

``forward`` is ``compute_loss_from_embeddings(embed(sentence_features), labels)``: ``embed``
runs the model on each column (``(B, D)`` ``"sentence_embedding"`` per column) and
``compute_loss_from_embeddings`` evaluates the loss on those embeddings with the Rust kernel.
Wrappers (:class:`MatryoshkaLoss`, :class:`MultiObjectiveLoss`) embed the batch once and call
their members' ``compute_loss_from_embeddings``; when any member is a cached loss, the batch is
embedded the GradCache way (``mini_batch_size`` rows per model call, the model re-run in the
backward), so a wrapper over a cached loss keeps its memory bound.

The kernels read host memory: embeddings on another device (or in half precision) are copied to
the CPU as float32 for the loss, and autograd routes the gradient back to the model's device and
dtype.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import ruvector_training.torch as rtt
from ruvector_training._checks import check_float
from ruvector_training.multi_objective import gradnorm_step
from ruvector_training.torch.cached import _RandomState

__all__ = [
    "CachedInfoNCELoss",
    "CosineSimilarityLoss",
    "InfoNCELoss",
    "MatryoshkaLoss",
    "MultiObjectiveLoss",
]


def _to_kernel(x: Tensor) -> Tensor:
    """``x`` on the CPU as float32/float64 (a no-op for such CPU tensors)."""
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    return x.to(device="cpu", dtype=dtype)


def _rows(features: Mapping[str, Any]) -> int:
    """Number of rows of a tokenized feature dict (dim 0 of its ``input_ids``, or of its first
    tensor with at least one dimension)."""
    if isinstance(features.get("input_ids"), Tensor):
        return features["input_ids"].shape[0]
    for value in features.values():
        if isinstance(value, Tensor) and value.dim() >= 1:
            return value.shape[0]
    raise ValueError("sentence_features: a feature dict holds no tensor with rows")


def _chunk(features: Mapping[str, Any], start: int, stop: int, n: int) -> dict[str, Any]:
    """Rows ``start:stop`` of every tensor of ``features`` whose dim 0 has the ``n`` rows."""
    return {
        k: v[start:stop] if isinstance(v, Tensor) and v.dim() >= 1 and v.shape[0] == n else v
        for k, v in features.items()
    }


def _embed_plain(model: nn.Module, sentence_features: list[dict[str, Any]]) -> list[Tensor]:
    """One model call per column, with the autograd graph."""
    return [model(features)["sentence_embedding"] for features in sentence_features]


def _embed_cached(
    model: nn.Module, sentence_features: list[dict[str, Any]], mini_batch_size: int
) -> list[Tensor]:
    """GradCache embeddings (Gao, Zhang, Han & Callan 2021): each column is embedded in chunks
    of ``mini_batch_size`` rows without a graph; the returned ``(B, D)`` tensors are leaves that
    require a gradient, and when their gradient arrives (once, summed over every use) a hook
    re-runs the model on each chunk with the random state recorded before it (dropout draws
    the same masks) and back-propagates that chunk's rows of the gradient into the model."""
    grad = torch.is_grad_enabled()
    leaves = []
    for features in sentence_features:
        n = _rows(features)
        states, pieces, bounds = [], [], []
        with torch.no_grad():
            for start in range(0, n, mini_batch_size):
                stop = min(start + mini_batch_size, n)
                chunk = _chunk(features, start, stop, n)
                tensors = [v for v in chunk.values() if isinstance(v, Tensor)]
                states.append(_RandomState(tensors))
                bounds.append((start, stop))
                pieces.append(model(chunk)["sentence_embedding"].detach())
        leaf = torch.cat(pieces)
        if grad:
            leaf.requires_grad_()
            leaf.register_hook(_replay_hook(model, features, n, bounds, states))
        leaves.append(leaf)
    return leaves


def _replay_hook(model, features, n, bounds, states):
    """The hook that back-propagates a column's embedding gradient through the model."""

    def hook(grad_output: Tensor) -> None:
        for (start, stop), state in zip(bounds, states):
            with state.replay(), torch.enable_grad():
                out = model(_chunk(features, start, stop, n))["sentence_embedding"]
            out.backward(grad_output[start:stop].to(device=out.device, dtype=out.dtype))

    return hook


class _ColumnLoss(nn.Module):
    """Shared machinery: ``forward = compute_loss_from_embeddings(embed(features), labels)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def grad_cache_size(self) -> int | None:
        """Rows per model call when the batch is embedded the GradCache way, else None."""
        return None

    def embed(self, sentence_features: Iterable[dict[str, Any]]) -> list[Tensor]:
        """One ``(B, D)`` embedding tensor per column (GradCache leaves for cached losses)."""
        features = list(sentence_features)
        size = self.grad_cache_size
        if size is None:
            return _embed_plain(self.model, features)
        return _embed_cached(self.model, features, size)

    def forward(self, sentence_features: Iterable[dict[str, Any]], labels: Tensor | None):
        """The loss of one batch: ``sentence_features`` holds one tokenized dict per column."""
        return self.compute_loss_from_embeddings(self.embed(sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None):
        """The loss given one ``(B, D)`` embedding tensor per column."""
        raise NotImplementedError


class InfoNCELoss(_ColumnLoss):
    """InfoNCE with in-batch negatives: sentence-transformers' MultipleNegativesRankingLoss
    computed by the Rust kernel (:class:`ruvector_training.torch.InfoNCELoss`).

    Columns: ``(anchor, positive, negative_1, ..., negative_k)`` with any ``k >= 0``; labels
    are ignored. Anchor ``i`` is scored against every positive and every hard negative of the
    batch (the shared layout, ``in_batch=True``), exactly as MultipleNegativesRankingLoss does:
    ``loss = mean_i [logsumexp_j(s_ij / t) - s_ii / t]`` over the ``B * (1 + k)`` candidates.
    With ``similarity="cosine"`` this equals ``MultipleNegativesRankingLoss(model,
    scale=1 / temperature)`` in value and gradients.

    Args:
        model: the ``SentenceTransformer`` to train.
        temperature: softmax temperature (> 0); sentence-transformers' default ``scale=20`` is
            ``temperature=0.05``.
        similarity: ``"cosine"`` or ``"dot"``.
        symmetric: add the reverse direction (positive ``i`` as the query against all ``B``
            anchors, correct class ``i``) and average the two, as the NumPy class; with hard
            negatives the forward direction still scores them.
    """

    def __init__(
        self,
        model: nn.Module,
        temperature: float = 0.05,
        similarity: str = "cosine",
        symmetric: bool = False,
    ) -> None:
        super().__init__(model)
        self.infonce = rtt.InfoNCELoss(
            temperature=temperature, similarity=similarity, symmetric=symmetric
        )

    @property
    def temperature(self) -> float:
        """The softmax temperature (``1 / scale``)."""
        return self.infonce.temperature

    @property
    def similarity(self) -> str:
        """``"cosine"`` or ``"dot"``."""
        return self.infonce.similarity

    @property
    def symmetric(self) -> bool:
        """Whether both directions are averaged."""
        return self.infonce.symmetric

    def compute_loss_from_embeddings(
        self, embeddings: list[Tensor], labels: Tensor | None = None
    ) -> Tensor:
        """The loss (0-d tensor) of ``[anchors, positives, *negatives]``, each ``(B, D)``."""
        if len(embeddings) < 2:
            raise ValueError(
                f"sentence_features: {type(self).__name__} expects at least 2 columns "
                f"(anchor, positive), got {len(embeddings)}"
            )
        device = embeddings[0].device
        columns = [_to_kernel(e) for e in embeddings]
        if len(columns) == 2:
            loss = self.infonce(columns[0], columns[1])
        else:
            negatives = torch.stack(columns[2:], dim=1)  # (B, k, D)
            loss = self.infonce(columns[0], columns[1], negatives, in_batch=True)
        return loss.to(device)

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments (after ``model``)."""
        return {
            "temperature": self.temperature,
            "similarity": self.similarity,
            "symmetric": self.symmetric,
        }

    @property
    def citation(self) -> str:
        """BibTeX of the loss."""
        return """
@misc{oord2018representation,
    title={Representation Learning with Contrastive Predictive Coding},
    author={Aaron van den Oord and Yazhe Li and Oriol Vinyals},
    year={2018},
    eprint={1807.03748},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""


class CachedInfoNCELoss(InfoNCELoss):
    """:class:`InfoNCELoss` with GradCache (Gao et al. 2021): the exact full-batch loss and
    parameter gradients while holding only the ``(B, D)`` embeddings of each column and one
    chunk's activations, so the batch size is bounded by memory for embeddings, not for the
    model's activations (sentence-transformers' CachedMultipleNegativesRankingLoss).

    Each column is embedded ``mini_batch_size`` rows at a time without a graph; in the backward
    the model is re-run on each chunk with the random state recorded before it (dropout draws
    the same masks) and the cached embedding gradients are back-propagated. Same columns,
    arguments and value as :class:`InfoNCELoss`.

    Args:
        model: the ``SentenceTransformer`` to train.
        mini_batch_size: rows per model call (int >= 1).
        temperature, similarity, symmetric: as :class:`InfoNCELoss`.
    """

    def __init__(
        self,
        model: nn.Module,
        mini_batch_size: int = 32,
        temperature: float = 0.05,
        similarity: str = "cosine",
        symmetric: bool = False,
    ) -> None:
        if (
            isinstance(mini_batch_size, bool)
            or not isinstance(mini_batch_size, int)
            or mini_batch_size < 1
        ):
            raise ValueError(f"mini_batch_size: expected an int >= 1, got {mini_batch_size!r}")
        super().__init__(model, temperature, similarity, symmetric)
        self.mini_batch_size = mini_batch_size

    @property
    def grad_cache_size(self) -> int | None:  # noqa: D102
        return self.mini_batch_size

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments (after ``model``)."""
        return {"mini_batch_size": self.mini_batch_size, **super().get_config_dict()}

    @property
    def citation(self) -> str:
        """BibTeX of GradCache."""
        return """
@inproceedings{gao2021scaling,
    title={Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
    author={Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},
    booktitle={Proceedings of the 6th Workshop on Representation Learning for NLP},
    year={2021}
}
"""


class CosineSimilarityLoss(_ColumnLoss):
    """``mean_i (cos(u_i, v_i) - label_i)^2`` (:class:`ruvector_training.torch.
    CosineSimilarityLoss`): sentence-transformers' CosineSimilarityLoss with its default MSE.

    Columns: ``(sentence_1, sentence_2)`` (further columns are ignored) and a float label column
    holding the target cosine of each pair (e.g. a 0-5 similarity score divided by 5).

    Args:
        model: the ``SentenceTransformer`` to train.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.cosine = rtt.CosineSimilarityLoss()

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None):
        """The loss (0-d tensor) of ``[u, v, ...]``, each ``(B, D)``, against ``labels (B,)``."""
        if len(embeddings) < 2:
            raise ValueError(
                f"sentence_features: CosineSimilarityLoss expects 2 columns, got {len(embeddings)}"
            )
        if labels is None:
            raise ValueError("labels: CosineSimilarityLoss needs a label column (target cosines)")
        u, v = _to_kernel(embeddings[0]), _to_kernel(embeddings[1])
        if labels.numel() != u.shape[0]:
            raise ValueError(
                f"labels: expected {u.shape[0]} labels (one per pair), got shape "
                f"{tuple(labels.shape)}"
            )
        scores = labels.detach().reshape(-1).to(device="cpu", dtype=u.dtype)
        return self.cosine(u, v, scores).to(embeddings[0].device)

    def get_config_dict(self) -> dict[str, Any]:
        """The constructor arguments (after ``model``): none."""
        return {}

    @property
    def citation(self) -> str:
        """BibTeX of Sentence-BERT."""
        return """
@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of EMNLP-IJCNLP 2019",
    year = "2019",
    url = "https://arxiv.org/abs/1908.10084",
}
"""


def _check_member(name: str, loss: Any, model: nn.Module) -> None:
    """A wrapped loss must be one of this module's losses built on the same model."""
    if not isinstance(loss, _ColumnLoss):
        raise TypeError(
            f"{name}: expected a loss of ruvector_training.sentence_transformers.losses, "
            f"got {type(loss).__name__}"
        )
    if loss.model is not model:
        raise ValueError(f"{name}: was built on another model than the wrapper")


class MatryoshkaLoss(_ColumnLoss):
    """``sum_k w_k loss(embeddings truncated to their first d_k dimensions)`` over any loss of
    this module (Kusupati et al. 2022), so the leading dimensions of the embedding work alone.

    The batch is embedded once (the GradCache way when ``loss`` is cached) and ``loss`` is
    evaluated on the prefixes of every column. Differences from sentence-transformers'
    MatryoshkaLoss: prefixes are not re-normalised (the cosine losses normalise whatever rows
    they get, so with ``similarity="cosine"`` the two agree; with ``"dot"`` ours scores the raw
    prefixes), every dim is used at every step (no ``n_dims_per_step``), and the dims keep
    their given order.

    Args:
        model: the ``SentenceTransformer`` to train.
        loss: a loss of this module built on ``model`` (a :class:`MultiObjectiveLoss` gives a
            dict of terms, each summed over the dims).
        matryoshka_dims: distinct prefix sizes, ints in ``[1, D]``.
        matryoshka_weights: one finite weight >= 0 per dim; default 1 each (sentence-transformers'
            default; :class:`ruvector_training.MatryoshkaLoss` defaults to the mean).
    """

    def __init__(
        self,
        model: nn.Module,
        loss: _ColumnLoss,
        matryoshka_dims: Iterable[int],
        matryoshka_weights: Iterable[float] | None = None,
    ) -> None:
        super().__init__(model)
        _check_member("loss", loss, model)
        if isinstance(loss, MatryoshkaLoss):
            raise ValueError("loss: a MatryoshkaLoss cannot wrap another MatryoshkaLoss")
        self.loss = loss
        dims = tuple(matryoshka_dims)
        if not dims:
            raise ValueError("matryoshka_dims: expected at least one dim, got none")
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                raise ValueError(f"matryoshka_dims: expected ints >= 1, got {d!r}")
        if len(set(dims)) != len(dims):
            raise ValueError(f"matryoshka_dims: expected distinct dims, got {dims}")
        size = getattr(model, "get_embedding_dimension", lambda: None)()
        if size is not None and max(dims) > size:
            raise ValueError(
                f"matryoshka_dims: {max(dims)} exceeds the model's embedding dimension {size}"
            )
        if matryoshka_weights is None:
            weights = (1.0,) * len(dims)
        else:
            weights = tuple(float(w) for w in matryoshka_weights)
        if len(weights) != len(dims):
            raise ValueError(
                f"matryoshka_weights: expected {len(dims)} weights (one per dim), "
                f"got {len(weights)}"
            )
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(f"matryoshka_weights: expected finite weights >= 0, got {weights}")
        self.matryoshka_dims = dims
        self.matryoshka_weights = weights

    @property
    def grad_cache_size(self) -> int | None:  # noqa: D102
        return self.loss.grad_cache_size

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None):
        """The weighted sum over the dims (a dict of sums when ``loss`` returns a dict)."""
        width = embeddings[0].shape[-1]
        if max(self.matryoshka_dims) > width:
            raise ValueError(
                f"matryoshka_dims: {max(self.matryoshka_dims)} exceeds the embedding dimension "
                f"{width}"
            )
        total: Any = None
        for d, w in zip(self.matryoshka_dims, self.matryoshka_weights):
            value = self.loss.compute_loss_from_embeddings([e[..., :d] for e in embeddings], labels)
            if isinstance(value, dict):
                scaled = {k: w * v for k, v in value.items()}
                total = scaled if total is None else {k: total[k] + scaled[k] for k in total}
            else:
                total = w * value if total is None else total + w * value
        return total

    def get_config_dict(self) -> dict[str, Any]:
        """``loss`` (its class name), ``loss_config`` and the dims and weights."""
        return {
            "loss": type(self.loss).__name__,
            "loss_config": self.loss.get_config_dict(),
            "matryoshka_dims": self.matryoshka_dims,
            "matryoshka_weights": self.matryoshka_weights,
        }

    @property
    def citation(self) -> str:
        """BibTeX of Matryoshka representation learning."""
        return """
@misc{kusupati2024matryoshka,
    title={Matryoshka Representation Learning},
    author={Aditya Kusupati and Gantavya Bhatt and Aniket Rege and others},
    year={2024},
    eprint={2205.13147},
    archivePrefix={arXiv},
    primaryClass={cs.LG}
}
"""


class MultiObjectiveLoss(_ColumnLoss):
    """Several losses of this module on one batch, combined with the weighting options of
    :class:`ruvector_training.MultiObjectiveLoss` (under the same names), each term logged.

    **Column rule.** The batch is embedded once (the GradCache way, with the smallest
    ``mini_batch_size``, when any member is cached) and every member receives the same
    embeddings (all text columns, in the dataset's order) and the same labels, then reads what
    it needs: :class:`InfoNCELoss` takes column 0 as anchors, column 1 as positives and any
    further columns as hard negatives (it ignores labels); :class:`CosineSimilarityLoss` takes
    columns 0 and 1 and the labels as target cosines. So a dataset ``(anchor, positive, label)``
    trains InfoNCE and a cosine regression on the same pairs.

    **Weighting.** ``adaptive=None``: term ``i`` is ``w_i * L_i``. ``adaptive="uncertainty"``
    (Kendall, Gal & Cipolla 2018): term ``i`` is ``exp(-s_i) * L_i + s_i`` with learnable
    log-variances :attr:`log_vars` (an ``nn.Parameter`` ``(n,)`` float32, initially 0, which
    ``SentenceTransformerTrainer`` puts in its optimizer with the model); ``weights`` is then
    unused. ``adaptive="gradnorm"`` (Chen et al. 2018): term ``i`` is ``w_i * L_i`` with the
    current :attr:`weights`, and every training forward (gradients enabled) then takes one
    GradNorm step on them with ``alpha`` and ``lr``, the rule and option names of
    :meth:`ruvector_training.MultiObjectiveLoss.gradnorm_update`: ``n_i`` is the norm of the
    gradient of the unweighted ``L_i`` with respect to the sentence embeddings of the batch
    (every column: the last layer all terms share, so GradNorm costs no extra pass through the
    model and works with cached members), ``L_i(0)`` the values at the first step
    (:attr:`initial_losses`; set it to None to restart). The new weights apply from the next
    batch; the sum of the weights stays what it was.

    ``forward`` returns a dict ``{name: term}`` of 0-d tensors: ``SentenceTransformerTrainer``
    back-propagates their sum and logs each term under its name. Call :meth:`total` for the
    sum outside the trainer.

    Args:
        model: the ``SentenceTransformer`` to train.
        losses: ``{name: loss}``, at least one, each a loss of this module built on ``model``
            (not a :class:`MultiObjectiveLoss`); names are non-empty strings without ``"."``.
        weights: ``{name: weight}`` for every name (finite, >= 0); default 1 each; the
            initial weights with ``"gradnorm"``.
        adaptive: ``None``, ``"uncertainty"`` or ``"gradnorm"``.
        alpha: GradNorm's asymmetry (finite, >= 0; 0 equalises the gradient norms).
        lr: GradNorm's step size on the weights (finite, > 0).
    """

    #: The weighting options (``adaptive``).
    ADAPTIVE = (None, "uncertainty", "gradnorm")

    def __init__(
        self,
        model: nn.Module,
        losses: Mapping[str, _ColumnLoss],
        weights: Mapping[str, float] | None = None,
        adaptive: str | None = None,
        alpha: float = 1.5,
        lr: float = 0.025,
    ) -> None:
        super().__init__(model)
        if not isinstance(losses, Mapping) or not losses:
            raise ValueError("losses: expected a non-empty dict {name: loss}")
        for name, loss in losses.items():
            if not isinstance(name, str) or not name or "." in name:
                raise ValueError(
                    f"losses: names must be non-empty strings without '.', got {name!r}"
                )
            _check_member(f"losses[{name!r}]", loss, model)
            if isinstance(loss, MultiObjectiveLoss):
                raise ValueError(f"losses[{name!r}]: a MultiObjectiveLoss cannot be a member")
        self.losses = nn.ModuleDict(dict(losses))
        if weights is None:
            weights = {name: 1.0 for name in losses}
        if not isinstance(weights, Mapping) or set(weights) != set(losses):
            got = sorted(weights) if isinstance(weights, Mapping) else type(weights).__name__
            raise ValueError(
                f"weights: expected one weight per loss name {sorted(losses)}, got {got}"
            )
        self.weights = {name: float(weights[name]) for name in losses}
        if not all(math.isfinite(w) and w >= 0 for w in self.weights.values()):
            raise ValueError(f"weights: expected finite weights >= 0, got {self.weights}")
        if adaptive not in self.ADAPTIVE:
            raise ValueError(f"adaptive: expected one of {self.ADAPTIVE}, got {adaptive!r}")
        self.adaptive = adaptive
        self.alpha = check_float("alpha", alpha, minimum=0.0)
        self.lr = check_float("lr", lr, positive=True)
        #: ``{name: L_i(0)}``: the unweighted losses GradNorm measures training rates against
        #: (set by its first step; None to restart).
        self.initial_losses: dict[str, float] | None = None
        if adaptive == "uncertainty":
            self.log_vars = nn.Parameter(torch.zeros(len(losses), dtype=torch.float32))
        else:
            self.register_parameter("log_vars", None)

    @property
    def grad_cache_size(self) -> int | None:  # noqa: D102
        sizes = [s for s in (m.grad_cache_size for m in self.losses.values()) if s is not None]
        return min(sizes) if sizes else None

    def compute_loss_from_embeddings(
        self, embeddings: list[Tensor], labels: Tensor | None
    ) -> dict[str, Tensor]:
        """``{name: weighted term}`` (0-d tensors) given one ``(B, D)`` tensor per column."""
        terms, values = {}, {}
        for index, (name, loss) in enumerate(self.losses.items()):
            value = loss.compute_loss_from_embeddings(embeddings, labels)
            if isinstance(value, dict):
                raise ValueError(f"losses[{name!r}]: returned a dict; expected a 0-d tensor")
            values[name] = value
            if self.adaptive == "uncertainty":
                s = self.log_vars[index].to(device=value.device, dtype=value.dtype)
                terms[name] = torch.exp(-s) * value + s
            else:
                terms[name] = self.weights[name] * value
        if self.adaptive == "gradnorm" and torch.is_grad_enabled():
            self._gradnorm_step(values, embeddings, labels)
        return terms

    def _gradnorm_step(
        self, values: dict[str, Tensor], embeddings: list[Tensor], labels: Tensor | None
    ) -> None:
        """One GradNorm step on :attr:`weights` from this batch's unweighted losses and the
        norms of their gradients with respect to the embeddings, measured on detached copies
        (so the trainer's backward and GradCache's hooks see only the weighted sum)."""
        leaves = [e.detach().requires_grad_(True) for e in embeddings]
        norms = []
        for name in values:
            with torch.enable_grad():
                value = self.losses[name].compute_loss_from_embeddings(leaves, labels)
            grads = torch.autograd.grad(value, leaves, allow_unused=True)
            squares = sum(float(g.double().pow(2).sum()) for g in grads if g is not None)
            norms.append(math.sqrt(squares))
        losses = np.array([float(v.detach()) for v in values.values()])
        if not np.isfinite(losses).all() or not np.isfinite(norms).all():
            raise ValueError(f"losses: GradNorm needs finite losses and gradients, got {losses}")
        if self.initial_losses is None:
            self.initial_losses = dict(zip(values, losses.tolist()))
        start = np.array([self.initial_losses.get(name, math.nan) for name in values])
        if not (np.isfinite(start) & (start > 0)).all():
            raise ValueError(
                f"initial_losses: {self.initial_losses} must hold a value > 0 for every loss "
                "(set initial_losses=None to restart)"
            )
        weights = np.array([self.weights[name] for name in values])
        updated = gradnorm_step(weights, np.array(norms), losses, start, self.alpha, self.lr)
        self.weights = dict(zip(values, updated.tolist()))

    @staticmethod
    def total(terms: Mapping[str, Tensor]) -> Tensor:
        """The sum of the terms (what the trainer back-propagates)."""
        return torch.stack(list(terms.values())).sum()

    def get_config_dict(self) -> dict[str, Any]:
        """``losses`` (``{name: {"class": ..., **config}}``), ``weights``, ``adaptive``,
        ``alpha`` and ``lr``."""
        return {
            "losses": {
                name: {"class": type(loss).__name__, **loss.get_config_dict()}
                for name, loss in self.losses.items()
            },
            "weights": dict(self.weights),
            "adaptive": self.adaptive,
            "alpha": self.alpha,
            "lr": self.lr,
        }

    @property
    def citation(self) -> str:
        """BibTeX of the weighting: GradNorm with ``adaptive="gradnorm"``, uncertainty
        weighting otherwise."""
        if self.adaptive == "gradnorm":
            return """
@inproceedings{chen2018gradnorm,
    title={GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks},
    author={Zhao Chen and Vijay Badrinarayanan and Chen-Yu Lee and Andrew Rabinovich},
    booktitle={Proceedings of the 35th International Conference on Machine Learning},
    year={2018}
}
"""
        return """
@inproceedings{kendall2018multi,
    title={Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics},
    author={Alex Kendall and Yarin Gal and Roberto Cipolla},
    booktitle={Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition},
    year={2018}
}
"""
