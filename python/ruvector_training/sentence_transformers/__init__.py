"""sentence-transformers integration: the Rust losses as sentence-transformers losses.

Install with ``pip install "ruvector-training[sentence-transformers]"``. The classes in
:mod:`ruvector_training.sentence_transformers.losses` follow that library's loss contract
(``__init__(model, ...)``, ``forward(sentence_features, labels)``, ``get_config_dict()``,
``citation``), so they go wherever its own losses go, in particular ``SentenceTransformerTrainer``
with ``datasets.Dataset`` columns:

- :class:`InfoNCELoss`: MultipleNegativesRankingLoss's columns (anchor, positive, any number
  of hard-negative columns), ``scale = 1 / temperature``.
- :class:`CachedInfoNCELoss`: the same loss with GradCache (``mini_batch_size`` rows per
  encoder call), the exact full-batch loss and gradients.
- :class:`CosineSimilarityLoss`: ``(cos(u, v) - label)^2``, averaged.
- :class:`MatryoshkaLoss`: any of these over nested embedding prefixes.
- :class:`MultiObjectiveLoss`: several of these on one batch, fixed or uncertainty weights,
  each weighted term reported in the trainer's logs.

:func:`mine_hard_negatives` is sentence-transformers' ``mine_hard_negatives`` on the Rust
:func:`ruvector_training.topk` kernel, from a model or from precomputed embeddings.

Nothing else in ``ruvector_training`` imports this subpackage.
"""

try:
    import sentence_transformers as _st  # noqa: F401
    import torch as _torch  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "ruvector_training.sentence_transformers needs sentence-transformers and PyTorch: "
        'pip install "ruvector-training[sentence-transformers]"'
    ) from error

from ruvector_training.sentence_transformers.losses import (
    CachedInfoNCELoss,
    CosineSimilarityLoss,
    InfoNCELoss,
    MatryoshkaLoss,
    MultiObjectiveLoss,
)
from ruvector_training.sentence_transformers.mining import mine_hard_negatives, mining_corpus

__all__ = [
    "CachedInfoNCELoss",
    "CosineSimilarityLoss",
    "InfoNCELoss",
    "MatryoshkaLoss",
    "MultiObjectiveLoss",
    "mine_hard_negatives",
    "mining_corpus",
]
