"""ruvector-training: Rust-accelerated contrastive training for embeddings.

The compiled kernels live in :mod:`ruvector_training._core`; this package re-exports them.

- :class:`InfoNCELoss`: InfoNCE / NT-Xent / MultipleNegativesRankingLoss with exact gradients
  for float32 and float64 NumPy arrays.
"""

from ruvector_training._core import DEFAULT_LOGITS_BUDGET_BYTES, InfoNCELoss, __version__

__all__ = ["DEFAULT_LOGITS_BUDGET_BYTES", "InfoNCELoss", "__version__"]
