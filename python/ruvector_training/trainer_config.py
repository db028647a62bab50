"""The hyper-parameters of a :class:`~ruvector_training.Trainer`, with general defaults."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ruvector_training._checks import check_float, check_int
from ruvector_training.multi_objective import LossWeights

#: Optimizers a trainer can use (``torch.optim`` semantics, see :class:`~ruvector_training.Adam`).
OPTIMIZERS = ("adamw", "adam", "sgd")
#: Hard-negative mining strategies (those of the Rust ``HardNegativeMiner``).
MINING_STRATEGIES = ("hardest", "semi_hard", "weighted", "distance_weighted", "random", "mixed")
#: Learning-rate schedules over ``epochs``.
LR_SCHEDULES = ("constant", "cosine")
#: Parameter dtypes.
DTYPES = ("float32", "float64")


def _default_weights() -> LossWeights:
    return LossWeights(infonce=1.0, local=0.0, spectral=0.0, reconstruction=0.0)


@dataclass
class TrainerConfig:
    """Hyper-parameters of a :class:`~ruvector_training.Trainer`.

    The defaults are general settings for unsupervised node embeddings of sparse graphs
    (thousands to tens of thousands of nodes): random-walk co-occurrence positives within
    DeepWalk's usual window of 10, in-batch negatives over batches of 1024, InfoNCE at
    temperature 0.3, AdamW at lr 0.05 with a cosine decay over 200 epochs. They were chosen by
    the mean over three random edge splits of Cora and checked on the Facebook page graph; they
    are not tuned to one split.

    Args:
        dim: embedding dimension.
        epochs: epochs :meth:`Trainer.fit` runs by default. Each epoch draws one positive for
            every node that has an edge.
        batch_size: anchors per optimizer step; every other anchor's positive (and, with
            ``num_negatives``, every mined negative) in the batch is a negative. An epoch's
            anchors are split into ``ceil(n / batch_size)`` near-equal batches.
        window: a node's positive is where a uniform random walk of ``L`` steps from it ends,
            ``L`` uniform in ``1 .. window`` (DeepWalk-style co-occurrence); 1 means a uniformly
            chosen graph neighbour.
        temperature: InfoNCE temperature (unless a schedule or curriculum sets it).
        similarity: ``"cosine"`` or ``"dot"``, for InfoNCE and mining.
        symmetric: also contrast positives against all anchors (in-batch layout only).
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"`` (SGD with momentum 0.9).
        lr: learning rate (the peak of the schedule).
        lr_schedule: ``"cosine"``: epoch ``e`` uses ``lr * (1 + cos(pi * min(e, epochs) /
            epochs)) / 2``, decaying to 0 at ``epochs``; ``"constant"``: always ``lr``.
        weight_decay: AdamW's decoupled decay (L2 for Adam and SGD).
        max_grad_norm: clip the global gradient norm inside each step (None: no clipping).
        init_scale: parameters start as ``N(0, init_scale^2)`` (a table) or
            ``N(0, init_scale^2 / F)`` (an adapter over F input features).
        num_negatives: hard negatives mined per anchor from the current embeddings (0: in-batch
            negatives only; a curriculum overrides it). The anchor, its graph neighbours and its
            positive are never mined (false-negative filter).
        mining_strategy: the miner's strategy, one of :data:`MINING_STRATEGIES`.
        mine_every: re-mine every this many epochs (negatives are kept in between).
        loss_weights: weights of the InfoNCE, local-contrastive and spectral terms (a term with
            weight 0 is not computed; ``reconstruction`` is unused). Default: InfoNCE only.
        spectral_normalized: the spectral term uses the normalised Laplacian.
        dtype: ``"float32"`` or ``"float64"`` parameters.
        seed: seeds initialisation, walks, batches and mining.

    Raises:
        TypeError / ValueError: a field of the wrong type or out of range (the message names it).
    """

    dim: int = 128
    epochs: int = 200
    batch_size: int = 1024
    window: int = 10
    temperature: float = 0.3
    similarity: str = "cosine"
    symmetric: bool = False
    optimizer: str = "adamw"
    lr: float = 0.05
    lr_schedule: str = "cosine"
    weight_decay: float = 0.01
    max_grad_norm: float | None = None
    init_scale: float = 0.1
    num_negatives: int = 0
    mining_strategy: str = "mixed"
    mine_every: int = 1
    loss_weights: LossWeights = field(default_factory=_default_weights)
    spectral_normalized: bool = True
    dtype: str = "float32"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dim", "epochs", "batch_size", "window", "mine_every"):
            setattr(self, name, check_int(name, getattr(self, name), minimum=1))
        self.batch_size = check_int("batch_size", self.batch_size, minimum=2)
        for name in ("num_negatives", "seed"):
            setattr(self, name, check_int(name, getattr(self, name), minimum=0))
        for name in ("temperature", "lr", "init_scale"):
            setattr(self, name, check_float(name, getattr(self, name), positive=True))
        self.weight_decay = check_float("weight_decay", self.weight_decay)
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay: expected a number >= 0, got {self.weight_decay}")
        if self.max_grad_norm is not None:
            self.max_grad_norm = check_float("max_grad_norm", self.max_grad_norm, positive=True)
        for name, allowed in (
            ("similarity", ("cosine", "dot")),
            ("optimizer", OPTIMIZERS),
            ("lr_schedule", LR_SCHEDULES),
            ("mining_strategy", MINING_STRATEGIES),
            ("dtype", DTYPES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        for name in ("symmetric", "spectral_normalized"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(
                    f"{name}: expected a bool, got {type(getattr(self, name)).__name__}"
                )
        if isinstance(self.loss_weights, dict):
            self.loss_weights = LossWeights(**self.loss_weights)
        if not isinstance(self.loss_weights, LossWeights):
            raise TypeError(
                f"loss_weights: expected LossWeights, got {type(self.loss_weights).__name__}"
            )

    def lr_at(self, epoch: int) -> float:
        """The learning rate of (0-based) epoch ``epoch`` under :attr:`lr_schedule`."""
        if self.lr_schedule == "constant":
            return self.lr
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(epoch, self.epochs) / self.epochs))

    def to_dict(self) -> dict:
        """The config as a plain JSON-able dict (``TrainerConfig(**d)`` rebuilds it)."""
        return asdict(self)
