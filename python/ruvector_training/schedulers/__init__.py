"""Schedules for training hyper-parameters, stepped once per epoch (or per batch):

- :class:`TemperatureScheduler` over an :class:`AnnealingSchedule` (linear, exponential,
  cosine or step) for a loss's temperature;
- :class:`CurriculumScheduler` over :class:`CurriculumStage` s (temperature, number of
  negatives, loss weights and a difficulty threshold per stage);
- :class:`LossWeightScheduler`: a linear warm-up of :class:`~ruvector_training.LossWeights`.

Each has ``state_dict()`` / ``load_state_dict()`` with plain JSON-able dicts for checkpoints.
"""

from ruvector_training.schedulers.curriculum import CurriculumScheduler, CurriculumStage
from ruvector_training.schedulers.loss_weights import LossWeightScheduler
from ruvector_training.schedulers.temperature import AnnealingSchedule, TemperatureScheduler

__all__ = [
    "AnnealingSchedule",
    "CurriculumScheduler",
    "CurriculumStage",
    "LossWeightScheduler",
    "TemperatureScheduler",
]
