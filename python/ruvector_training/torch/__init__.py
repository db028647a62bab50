"""PyTorch bridge: the Rust losses as ``torch.nn.Module`` s, GradCache-style cached InfoNCE for
batches PyTorch alone cannot hold, and in-batch negatives gathered across
``torch.distributed`` ranks.

Install with ``pip install "ruvector-training[torch]"``. Every module wraps the NumPy-level loss
of the same name (constructor arguments are the same) in a ``torch.autograd.Function``: the
forward hands the tensors' memory to the Rust kernel (zero-copy for CPU tensors, whatever their
strides), the backward scales the kernel's exact gradients by the incoming gradient.

- :class:`InfoNCELoss` (optionally ``gather_across_ranks=True``), :class:`TripletLoss`,
  :class:`CosineSimilarityLoss`, :class:`CoSENTLoss`, :class:`AnglELoss`,
  :class:`SupConLoss`, :class:`MarginMSELoss`, :class:`DistillKLDivLoss`, :class:`BatchTripletLoss`,
  :class:`MatryoshkaLoss`, :class:`LocalContrastiveLoss`,
  :class:`SpectralRegularization`: ``forward`` takes tensors in the NumPy order and returns a
  loss tensor (0-d, or per item for ``reduction="none"``).
- :class:`MultiObjectiveLoss`: combines loss tensors with fixed or uncertainty weights
  (``log_vars`` is an ``nn.Parameter``).
- :class:`CachedInfoNCE`: exact full-batch InfoNCE over any encoder with memory ``O(B * D)``
  plus one chunk's activations (GradCache, Gao et al. 2021).
- :class:`MaxSimLoss` (late interaction over ``(B, L, D)`` token tensors with boolean masks)
  and :class:`CachedMaxSim` (its GradCache version for multi-vector encoders).
- :func:`gather_rows`: an all-gather of ``(n, ...)`` rows across ranks whose backward routes the
  gradient to the rank that owns each row.

Tensors must live on the CPU (the kernels read host memory): a CUDA tensor is refused with a
``ValueError``; pass ``x.cpu()`` and autograd moves the gradient back to the device.
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        'ruvector_training.torch needs PyTorch: pip install "ruvector-training[torch]"'
    ) from error

from ruvector_training.torch.cached import CachedInfoNCE, CachedMaxSim
from ruvector_training.torch.distributed import gather_rows
from ruvector_training.torch.losses import (
    AnglELoss,
    BatchTripletLoss,
    CoSENTLoss,
    CosineSimilarityLoss,
    DistillKLDivLoss,
    InfoNCELoss,
    LocalContrastiveLoss,
    MarginMSELoss,
    MatryoshkaLoss,
    MaxSimLoss,
    MultiObjectiveLoss,
    SpectralRegularization,
    SupConLoss,
    TripletLoss,
)

__all__ = [
    "AnglELoss",
    "BatchTripletLoss",
    "CoSENTLoss",
    "CachedInfoNCE",
    "CachedMaxSim",
    "CosineSimilarityLoss",
    "DistillKLDivLoss",
    "InfoNCELoss",
    "LocalContrastiveLoss",
    "MarginMSELoss",
    "MatryoshkaLoss",
    "MaxSimLoss",
    "MultiObjectiveLoss",
    "SpectralRegularization",
    "SupConLoss",
    "TripletLoss",
    "gather_rows",
]
