"""What a :class:`~ruvector_training.Trainer` reports after each epoch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TrainingMetrics:
    """One epoch of training.

    Attributes:
        epoch: the epoch number, counted from 1.
        loss: the mean over the epoch's optimizer steps of the weighted total loss.
        components: the mean unweighted value of each loss term computed this epoch
            (``"infonce"``, and ``"local"`` / ``"spectral"`` when their weight was > 0).
        temperature: the InfoNCE temperature used.
        num_negatives: hard negatives mined per anchor (0: in-batch negatives only).
        lr: the optimizer's learning rate.
        seconds: wall time of the epoch (excluding callbacks).
        stage: the curriculum stage's name, or None without a curriculum.
        extra: values callbacks recorded (for example evaluation scores).
    """

    epoch: int
    loss: float
    components: dict[str, float]
    temperature: float
    num_negatives: int
    lr: float
    seconds: float
    stage: str | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A plain JSON-able dict (``TrainingMetrics(**d)`` rebuilds it)."""
        return asdict(self)
