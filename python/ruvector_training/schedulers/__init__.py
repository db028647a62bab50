"""Schedules for training hyper-parameters, stepped once per epoch (or per batch):

- :class:`TemperatureScheduler` over an :class:`AnnealingSchedule` (linear, exponential,
  cosine or step) for a loss's temperature;
- :class:`CurriculumScheduler` over :class:`CurriculumStage` s (temperature, number of
  negatives, loss weights and a difficulty threshold per stage);
- :class:`LossWeightScheduler`: a linear warm-up of :class:`~ruvector_training.LossWeights`.

All three follow one contract (:class:`~ruvector_training.schedulers.base.Scheduler`):

- ``step_count``: how far ``step()`` advanced since construction or ``reset()`` (one per call;
  ``num_samples`` per call for a curriculum counted in samples).
- ``step()`` returns: :class:`TemperatureScheduler` the *current* temperature, then advances;
  :class:`LossWeightScheduler` the *current* weights, then advances;
  :class:`CurriculumScheduler` advances, then returns whether the stage changed.
- ``reset()`` goes back to step 0.
- ``state_dict()`` is a plain JSON-able dict tagged like the optimizers' (``"scheduler"``: the
  class name, as an optimizer's ``"optimizer"``; ``"step"``: ``step_count``; then the
  configuration). ``from_state_dict(state_dict)`` (a class method) and ``load_state_dict`` check
  it as strictly as constructor arguments (another class's state, a missing or unknown key, a
  negative step or an invalid value is an error naming the key) and still read the state dicts
  of earlier versions (tagged ``"type"``, counter under ``"epoch"`` / ``"position"``).
"""

from ruvector_training.schedulers.base import Scheduler
from ruvector_training.schedulers.curriculum import CurriculumScheduler, CurriculumStage
from ruvector_training.schedulers.loss_weights import LossWeightScheduler
from ruvector_training.schedulers.temperature import AnnealingSchedule, TemperatureScheduler

__all__ = [
    "AnnealingSchedule",
    "CurriculumScheduler",
    "CurriculumStage",
    "LossWeightScheduler",
    "Scheduler",
    "TemperatureScheduler",
]
