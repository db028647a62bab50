"""ruvector-training: Rust-accelerated contrastive training for embeddings.

The compiled kernels live in :mod:`ruvector_training._core`; this package re-exports them.

- :class:`InfoNCELoss`: InfoNCE / NT-Xent / MultipleNegativesRankingLoss with exact gradients
  for float32 and float64 NumPy arrays.
- :class:`MaxSimLoss`, :func:`maxsim_scores`, :func:`maxsim_topk`: late interaction (ColBERT's
  MaxSim) over padded ``(N, L, D)`` token arrays with boolean masks: scores, exact streaming
  top-k and an InfoNCE loss with exact gradients, never materialising the token-pair tensor.
- :class:`TripletLoss` (Euclidean or cosine distance) and :class:`CosineSimilarityLoss`.
- :class:`Graph`: an undirected graph built once in Rust (edge list as given, CSR
  neighbourhoods), accepted wherever an edge array is.
- :class:`LocalContrastiveLoss` and :class:`SpectralRegularization`: graph losses over an
  ``(E, 2)`` edge list.
- :class:`MatryoshkaLoss`: any of these losses over nested embedding prefixes.
- :class:`MultiObjectiveLoss` with :class:`LossWeights` / :class:`LossComponents`: fixed,
  uncertainty-weighted (Kendall et al. 2018) or GradNorm-balanced combination of loss terms.
- :class:`SGD`, :class:`Adam`, :class:`AdamW` (subclasses of :class:`Optimizer`):
  ``torch.optim``'s update rules applied in place to lists of NumPy arrays, with optional fused
  gradient clipping and exact state dicts;
  :func:`clip_grad_norm` clips a list of gradient arrays to a global L2 norm.
- :func:`topk`: exact blocked top-k search (cosine or dot), the kernel the miners and metrics
  share; :class:`HardNegativeMiner` (hardest, semi-hard, weighted, distance-weighted, random,
  mixed; label / exclude / similarity filters in the same pass) and
  :class:`GraphHardNegativeMiner` (k-hop graph neighbourhoods).
- :class:`TemperatureScheduler` (over an :class:`AnnealingSchedule`), :class:`CurriculumScheduler`
  (over :class:`CurriculumStage` s) and :class:`LossWeightScheduler`: per-epoch schedules with
  JSON-able state dicts (:mod:`ruvector_training.schedulers`).
- :mod:`ruvector_training.metrics`: MRR@k, recall@k and nDCG@k over :func:`topk`, Spearman
  correlation and link-prediction ROC AUC.
- :class:`Trainer` (configured by :class:`TrainerConfig`, reporting :class:`TrainingMetrics`,
  with the :class:`Evaluation` and :class:`EarlyStopping` callbacks): contrastive node
  embeddings from a graph's structure, with exact checkpoint/resume; the ``ruvector-train``
  command (:mod:`ruvector_training.cli`) runs it on a demo graph or a user's edge list.
- :mod:`ruvector_training.datasets`: the public data sets shipped with the package (Cora, the
  Facebook page graph, STS Benchmark), loaded as NumPy arrays without network access.

The full contract (formulas, conventions, bad-input rules) is in the repository's ``docs/``.
"""

from ruvector_training import datasets, metrics
from ruvector_training._core import (
    DEFAULT_LOGITS_BUDGET_BYTES,
    SGD,
    Adam,
    AdamW,
    AnglELoss,
    BatchTripletLoss,
    CoSENTLoss,
    CosineSimilarityLoss,
    DistillKLDivLoss,
    Graph,
    GraphHardNegativeMiner,
    HardNegativeMiner,
    InfoNCELoss,
    LocalContrastiveLoss,
    MarginMSELoss,
    MaxSimLoss,
    Optimizer,
    SpectralRegularization,
    SupConLoss,
    TripletLoss,
    __version__,
    clip_grad_norm,
    maxsim_scores,
    maxsim_topk,
    topk,
)
from ruvector_training.callbacks import EarlyStopping, Evaluation
from ruvector_training.matryoshka import MatryoshkaLoss
from ruvector_training.multi_objective import LossComponents, LossWeights, MultiObjectiveLoss
from ruvector_training.queue import EmbeddingQueue
from ruvector_training.schedulers import (
    AnnealingSchedule,
    CurriculumScheduler,
    CurriculumStage,
    LossWeightScheduler,
    TemperatureScheduler,
)
from ruvector_training.trainer import Trainer, TrainingDivergedError
from ruvector_training.trainer_config import TrainerConfig
from ruvector_training.training_metrics import TrainingMetrics

__all__ = [
    "Adam",
    "AdamW",
    "AnglELoss",
    "BatchTripletLoss",
    "CoSENTLoss",
    "AnnealingSchedule",
    "CosineSimilarityLoss",
    "DistillKLDivLoss",
    "CurriculumScheduler",
    "EmbeddingQueue",
    "CurriculumStage",
    "DEFAULT_LOGITS_BUDGET_BYTES",
    "Graph",
    "GraphHardNegativeMiner",
    "HardNegativeMiner",
    "EarlyStopping",
    "Evaluation",
    "InfoNCELoss",
    "LocalContrastiveLoss",
    "MarginMSELoss",
    "LossComponents",
    "LossWeightScheduler",
    "LossWeights",
    "MatryoshkaLoss",
    "MaxSimLoss",
    "MultiObjectiveLoss",
    "Optimizer",
    "SGD",
    "SpectralRegularization",
    "SupConLoss",
    "TemperatureScheduler",
    "Trainer",
    "TrainerConfig",
    "TrainingDivergedError",
    "TrainingMetrics",
    "TripletLoss",
    "__version__",
    "clip_grad_norm",
    "datasets",
    "maxsim_scores",
    "maxsim_topk",
    "metrics",
    "topk",
]
