"""Shared test helpers: deterministic batches, layout selection and dtype-aware comparisons."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from reference import NORM_EPS, infonce_reference, layout_arguments

DTYPES = (np.float32, np.float64)

#: ``(layout, symmetric)`` pairs the loss accepts: symmetric needs an in-batch layout.
LAYOUT_CASES = (
    ("in_batch", False),
    ("in_batch", True),
    ("per_row", False),
    ("shared", False),
    ("shared", True),
)


def dtype_id(dtype) -> str:
    """``"float32"`` / ``"float64"`` for test ids."""
    return np.dtype(dtype).name


def layout_id(layout: str, symmetric: bool) -> str:
    """``"shared-sym"``-style test id part."""
    return f"{layout}-sym" if symmetric else layout


#: Decorator: run a test for float32 and float64 (argument ``dtype``).
each_dtype = pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
#: Decorator: run a test for every accepted ``(layout, symmetric)`` pair.
each_layout = pytest.mark.parametrize(
    ("layout", "symmetric"), LAYOUT_CASES, ids=[layout_id(*case) for case in LAYOUT_CASES]
)


class Batch(NamedTuple):
    """One InfoNCE input: anchors ``(B, D)``, positives ``(B, D)``, negatives ``(B, K, D)``."""

    anchors: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray | None

    def astype(self, dtype) -> Batch:
        """The same batch with every array cast to ``dtype``."""
        cast = [None if x is None else x.astype(dtype) for x in self]
        return Batch(*cast)


def random_rows(rng: np.random.Generator, shape: tuple, d: int) -> np.ndarray:
    """Random directions with row norms uniform in [0.5, 1.5], shaped ``shape + (d,)``, float64.

    Norms near 1 keep dot-similarity logits in the same range as cosine ones (at most about
    2.25 / tau), and norms away from 1 exercise the normalisation's gradient.
    """
    x = rng.standard_normal(shape + (d,))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x * rng.uniform(0.5, 1.5, size=shape + (1,))


def make_batch(seed: int, b: int, d: int, k: int = 0, dtype=np.float64) -> Batch:
    """A deterministic batch of ``dtype``: positives correlated with their anchors.

    ``negatives`` is ``(B, K, D)`` for ``k > 0`` and None for ``k == 0``. The values are
    float32-representable whatever ``dtype``, so a float32 and a float64 batch from the same
    arguments hold the same numbers (and share one float64 reference).
    """
    rng = np.random.default_rng(seed)
    anchors = random_rows(rng, (b,), d)
    noisy = anchors + 0.5 * random_rows(rng, (b,), d)
    noisy /= np.maximum(np.linalg.norm(noisy, axis=1, keepdims=True), 1e-6)
    positives = noisy * rng.uniform(0.5, 1.5, size=(b, 1))
    negatives = random_rows(rng, (b, k), d) if k else None
    return Batch(anchors, positives, negatives).astype(np.float32).astype(dtype)


def run_loss(loss, batch: Batch, layout: str):
    """Calls ``loss`` (an ``InfoNCELoss`` or its ``forward``) on ``batch`` in ``layout``."""
    negatives, in_batch = layout_arguments(layout, batch.negatives)
    return loss(batch.anchors, batch.positives, negatives, in_batch=in_batch)


def run_reference(batch: Batch, layout: str, **options):
    """:func:`reference.infonce_reference` on ``batch`` in ``layout`` (``options``: the loss's)."""
    negatives, in_batch = layout_arguments(layout, batch.negatives)
    return infonce_reference(
        batch.anchors, batch.positives, negatives, in_batch=in_batch, **options
    )


def row_weight(reduction: str, b: int) -> float:
    """d(reduced loss) / d(loss_i): ``1/B`` for ``"mean"``, 1 for ``"sum"`` and ``"none"``."""
    return 1.0 / b if reduction == "mean" else 1.0


class Scales(NamedTuple):
    """The magnitudes a batch's rounding errors are proportional to (see :func:`batch_scales`).

    ``logit``: the largest ``|s_ij|`` (at least 1). ``grad``: the largest gradient entry a row
    can produce per unit of softmax weight, ``w * max||x|| / tau`` for dot and
    ``w / (tau * min max(||x||, 1e-12))`` for cosine (``w`` = :func:`row_weight`).
    """

    logit: float
    grad: float


def batch_scales(
    arrays, *, temperature: float, similarity: str, reduction: str, batch_size: int
) -> Scales:
    """:class:`Scales` for the rows of ``arrays`` (a :class:`Batch` or any arrays, None skipped).

    ``batch_size`` is B (for the ``"mean"`` row weight). Pass a subset of rows (e.g. only the
    zero rows) to get the scale of their gradients.
    """
    rows = [np.asarray(x, np.float64) for x in arrays if x is not None]
    norms = np.concatenate([np.linalg.norm(x, axis=-1).ravel() for x in rows])
    weight = row_weight(reduction, batch_size)
    if similarity == "cosine":
        smallest = max(float(norms.min()), NORM_EPS)
        return Scales(max(1.0, 1.0 / temperature), weight / (temperature * smallest))
    largest = float(norms.max())
    return Scales(max(1.0, largest**2 / temperature), weight * largest / temperature)


class Tolerance(NamedTuple):
    """Elementwise ``|actual - expected| <= rtol |expected| + ulps eps(dtype) logit [grad]``.

    (``logit`` and ``grad`` are the :class:`Scales`; ``grad`` applies to gradients only.)

    Error model: a computed logit ``s`` carries an absolute rounding error of a few
    ``eps * max|s|`` (e.g. float32 logits at tau=0.01 reach 100 and carry ~1e-5), independent of
    how small the quantity built from it is. A row loss ``logsumexp - s_pos`` near 0 (positive far
    ahead) therefore has that absolute error, and so has each softmax weight, hence a gradient
    entry errs by that much times :attr:`Scales.grad` even when it cancels to ~0 (softmax of the
    positive ~1 minus the one-hot 1). ``rtol`` covers values away from zero.
    """

    rtol: float
    loss_ulps: float
    grad_ulps: float


#: rtol 1e-4 (float32) and 1e-10 (float64) as the suite's contract. The absolute parts, in units
#: of ``eps * logit scale``: the worst errors seen over the parity grid were 0.14 (float32) and
#: 0.5 (float64) for losses, 1.7 and 0.2 for gradients (these also include the GEMM's
#: accumulation over D and over the candidates), so 4 and 16 leave a margin of 8x or more. For
#: float32 at tau=0.01 the loss atol is 4 * 1.2e-7 * 100 = 4.8e-5.
TOLERANCE = {
    np.dtype(np.float32): Tolerance(rtol=1e-4, loss_ulps=4.0, grad_ulps=16.0),
    np.dtype(np.float64): Tolerance(rtol=1e-10, loss_ulps=4.0, grad_ulps=16.0),
}


def _ulp(dtype, logit_scale: float) -> float:
    """One unit of the absolute tolerance: ``eps(dtype) * logit_scale``."""
    return float(np.finfo(np.dtype(dtype)).eps) * logit_scale


def assert_close(actual, expected, *, rtol: float, atol: float, err_msg: str = "") -> None:
    """``np.testing.assert_allclose`` with a fast vectorised pass first (for the large grid)."""
    got = np.asarray(actual, dtype=np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got.shape == want.shape and np.all(np.abs(got - want) <= atol + rtol * np.abs(want)):
        return
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=err_msg)


def assert_loss_close(
    actual, expected, dtype, scales: Scales, *, rows: int = 1, err_msg: str = ""
) -> None:
    """Checks a loss (float or per-row array) against the reference at ``dtype``'s tolerance.

    ``rows`` is the number of row losses added into a value (B for reduction ``"sum"``): their
    absolute rounding errors add up, so the absolute tolerance grows with it.
    """
    tol = TOLERANCE[np.dtype(dtype)]
    atol = tol.loss_ulps * _ulp(dtype, scales.logit) * rows
    assert_close(actual, expected, rtol=tol.rtol, atol=atol, err_msg=err_msg)


def assert_grad_close(actual, expected, dtype, scales: Scales, *, err_msg: str = "") -> None:
    """Checks one gradient array: ``dtype``, shape, and values (absolute part scaled by grad)."""
    assert actual.dtype == np.dtype(dtype), f"{err_msg}: dtype {actual.dtype} != {dtype}"
    assert actual.shape == expected.shape, f"{err_msg}: shape {actual.shape} != {expected.shape}"
    tol = TOLERANCE[np.dtype(dtype)]
    atol = tol.grad_ulps * _ulp(dtype, scales.logit) * scales.grad
    assert_close(actual, expected, rtol=tol.rtol, atol=atol, err_msg=err_msg)


def assert_grads_close(actual, expected, dtype, scales: Scales, *, err_msg: str = "") -> None:
    """:func:`assert_grad_close` for ``(g_anchors, g_positives, g_negatives)``; None must match."""
    for name, got, want in zip(("anchors", "positives", "negatives"), actual, expected):
        if want is None:
            assert got is None, f"grad {name}: expected None, got {type(got).__name__}"
        else:
            assert_grad_close(got, want, dtype, scales, err_msg=f"grad {name} {err_msg}")


def outputs_per_thread_count(script: str, tmp_path, counts=("1", "2")) -> list:
    """Runs ``script`` (which saves its result with ``np.savez(sys.argv[1], ...)``) in a
    subprocess per rayon thread count and returns the loaded results."""
    import os
    import subprocess
    import sys

    outputs = []
    for threads in counts:
        out = tmp_path / f"threads{threads}.npz"
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
        outputs.append(np.load(out))
    return outputs
