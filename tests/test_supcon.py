"""SupConLoss: NumPy reference, finite differences, worked value, streaming == kept,
parity with pytorch-metric-learning, bad inputs, torch bridge.
Reference: :func:`reference_peer_losses.supcon_reference`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import ruvector_training as rt
from reference_peer_losses import finite_differences, supcon_reference

TOL = {np.float32: (2e-5, 2e-6), np.float64: (1e-10, 1e-12)}
LABELINGS = {
    "mixed": lambda b, rng: rng.integers(0, max(1, b // 3), b),
    "all_same": lambda b, rng: np.zeros(b, dtype=np.int64),
    "all_different": lambda b, rng: np.arange(b),
}


def make(seed, b, d, labeling="mixed", dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((b, d)).astype(dtype)
    return z, LABELINGS[labeling](b, rng).astype(np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("labeling", LABELINGS)
@pytest.mark.parametrize(("b", "d"), [(1, 3), (6, 4), (25, 8)])
def test_matches_reference(dtype, similarity, reduction, labeling, b, d):
    z, labels = make(b + d, b, d, labeling, dtype)
    options = {"temperature": 0.5, "similarity": similarity, "reduction": reduction}
    value, (grad, none) = rt.SupConLoss(**options)(z, labels)
    assert none is None and grad.dtype == dtype and grad.shape == z.shape
    want = supcon_reference(z, labels, **options)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(value, want, rtol=rtol, atol=atol)
    if reduction == "none":
        assert value.dtype == dtype and value.shape == (b,)
    if dtype is np.float64 and b <= 6:

        def f(x):
            return float(np.sum(supcon_reference(x, labels, **options)))

        np.testing.assert_allclose(grad, finite_differences(f, (z,), 0), rtol=1e-6, atol=1e-8)


def test_worked_value():
    # Unit rows e0, e0, e1, labels (0, 0, 1), temperature 1: anchors 0 and 1 see s = 1 for
    # their positive and 0 for row 2: loss = log(e + 1) - 1 = 0.3132616875; anchor 2 has no
    # positive and is left out of the mean.
    z = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    value, _ = rt.SupConLoss(temperature=1.0)(z, np.array([0, 0, 1]))
    assert value == pytest.approx(math.log(math.e + 1) - 1, rel=1e-14)
    losses, _ = rt.SupConLoss(temperature=1.0, reduction="none")(z, np.array([0, 0, 1]))
    assert losses[2] == 0.0


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_streaming_equals_kept(similarity):
    z, labels = make(7, 300, 16)
    kept = rt.SupConLoss(similarity=similarity, temperature=1.0)(z, labels)
    streamed = rt.SupConLoss(similarity=similarity, temperature=1.0, logits_budget_bytes=4000)(
        z, labels
    )
    assert streamed[0] == pytest.approx(kept[0], rel=1e-12)
    np.testing.assert_allclose(streamed[1][0], kept[1][0], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("labeling", ["mixed", "all_different", "all_same"])
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_parity_with_pytorch_metric_learning(labeling, similarity):
    torch = pytest.importorskip("torch")
    pml = pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import distances, losses

    z, labels = make(11, 40, 12, labeling)
    if similarity == "dot":
        z = z / 4
    distance = (
        distances.CosineSimilarity()
        if similarity == "cosine"
        else distances.DotProductSimilarity(normalize_embeddings=False)
    )
    peer = losses.SupConLoss(temperature=0.1, distance=distance)
    tz = torch.tensor(z, requires_grad=True)
    want = peer(tz, torch.tensor(labels))
    want.backward()
    value, (grad, _) = rt.SupConLoss(temperature=0.1, similarity=similarity)(z, labels)
    assert value == pytest.approx(want.item(), rel=1e-9, abs=1e-12), pml.__version__
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_bad_inputs_name_the_argument():
    z, labels = make(0, 5, 3)
    loss = rt.SupConLoss()
    with pytest.raises(ValueError, match="labels"):
        loss(z, labels[:4])
    with pytest.raises(ValueError, match="labels"):
        loss(z, labels.reshape(5, 1))
    with pytest.raises(TypeError, match="labels"):
        loss(z, labels.astype(np.float64))
    bad = z.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="embeddings"):
        loss(bad, labels)
    with pytest.raises(ValueError, match="temperature"):
        rt.SupConLoss(temperature=0)
    with pytest.raises(ValueError, match="similarity"):
        rt.SupConLoss(similarity="l2")
    with pytest.raises(ValueError, match="reduction"):
        loss.reduction = "max"
    loss.temperature = 0.5
    assert repr(loss).startswith("SupConLoss(temperature=0.5, similarity='cosine'")


def test_torch_bridge_matches_numpy():
    torch = pytest.importorskip("torch")
    from ruvector_training import torch as rtt

    z, labels = make(3, 12, 5)
    tz = torch.tensor(z, requires_grad=True)
    module = rtt.SupConLoss(temperature=0.3)
    out = module(tz, torch.tensor(labels))
    out.backward()
    value, (grad, _) = rt.SupConLoss(temperature=0.3)(z, labels)
    assert out.item() == value
    np.testing.assert_allclose(tz.grad.numpy(), grad, rtol=1e-12)
