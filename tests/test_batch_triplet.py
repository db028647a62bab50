"""BatchTripletLoss: parity with sentence-transformers 6.2's BatchHard / BatchHardSoftMargin /
BatchSemiHard / BatchAll triplet losses (values and gradients, both distances), finite
differences, worked values, streaming == kept, bad inputs, torch bridge."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from reference_peer_losses import finite_differences

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
from sentence_transformers.sentence_transformer.losses.batch_hard_triplet import (  # noqa: E402
    BatchHardTripletLossDistanceFunction as Distances,
)

MODES = {
    ("hardest", False): st.BatchHardTripletLoss,
    ("hardest", True): st.BatchHardSoftMarginTripletLoss,
    ("semi_hard", False): st.BatchSemiHardTripletLoss,
    ("all", False): st.BatchAllTripletLoss,
}


def peer_loss(mining, soft_margin, distance, margin, z, labels):
    """sentence-transformers' loss (float64 autograd) and its gradient."""
    cls = MODES[(mining, soft_margin)]
    module = cls.__new__(cls)
    torch.nn.Module.__init__(module)
    module.distance_metric = (
        Distances.euclidean_distance if distance == "euclidean" else Distances.cosine_distance
    )
    module.triplet_margin = module.margin = margin
    tz = torch.tensor(z, requires_grad=True)
    value = module.compute_loss_from_embeddings([tz], torch.tensor(labels))
    value.backward()
    return value.item(), tz.grad.numpy()


def make(seed, b, d, classes):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((b, d)), rng.integers(0, classes, b)


@pytest.mark.parametrize(("mining", "soft_margin"), list(MODES))
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize(("b", "classes"), [(1, 1), (8, 1), (8, 8), (24, 4), (40, 3)])
def test_parity_with_sentence_transformers(mining, soft_margin, distance, b, classes):
    z, labels = make(b * 3 + classes, b, 6, classes)
    margin = 0.3 if distance == "cosine" else 2.0
    want, want_grad = peer_loss(mining, soft_margin, distance, margin, z, labels)
    loss = rt.BatchTripletLoss(mining, margin, distance, soft_margin)
    value, (grad, none) = loss(z, labels)
    assert none is None
    if np.isnan(want):
        assert value == 0.0 and not grad.any()
        return
    assert value == pytest.approx(want, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-7, atol=1e-10)
    value32, (grad32, _) = loss(z.astype(np.float32), labels)
    assert grad32.dtype == np.float32
    assert value32 == pytest.approx(want, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize(("mining", "soft_margin"), list(MODES))
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_gradients_match_finite_differences(mining, soft_margin, distance):
    z, labels = make(5, 9, 4, 3)
    loss = rt.BatchTripletLoss(mining, 0.5, distance, soft_margin)
    _, (grad, _) = loss(z, labels)
    want = finite_differences(lambda x: loss(x, labels)[0], (z,), 0, eps=1e-7)
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-7)


def test_worked_values():
    # Points 0, 1, 3 on a line, labels (0, 0, 1), margin 2.5. Hardest: anchor 0:
    # d(0,1) - d(0,2) + 2.5 = 1 - 3 + 2.5 = 0.5; anchor 1: 1 - 2 + 2.5 = 1.5; anchor 2 has no
    # positive (d_ap = 0): 0 - 2 + 2.5 = 0.5. Mean 2.5 / 3.
    z = np.array([[0.0], [1.0], [3.0]])
    labels = np.array([0, 0, 1])
    value, (grad, _) = rt.BatchTripletLoss(margin=2.5)(z, labels)
    assert value == pytest.approx(2.5 / 3, rel=1e-14)
    # Gradients of the three terms: (0, 1, -1), (-1, 2, -1) and -(0, -1, 1), over 3.
    np.testing.assert_allclose(grad[:, 0], np.array([-1.0, 4.0, -3.0]) / 3, rtol=1e-14)
    # All: triplets (0, 1, 2): 0.5 and (1, 0, 2): 1.5, both active: (0.5 + 1.5) / 2 = 1.
    value, _ = rt.BatchTripletLoss("all", 2.5)(z, labels)
    assert value == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize("mining", ["hardest", "semi_hard", "all"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_streaming_equals_kept(mining, distance):
    z, labels = make(9, 200, 8, 7)
    kept = rt.BatchTripletLoss(mining, 0.5, distance)(z, labels)
    streamed = rt.BatchTripletLoss(mining, 0.5, distance, logits_budget_bytes=5000)(z, labels)
    assert streamed[0] == pytest.approx(kept[0], rel=1e-12)
    np.testing.assert_allclose(streamed[1][0], kept[1][0], rtol=1e-10, atol=1e-14)


def test_bad_inputs_name_the_argument():
    z, labels = make(0, 5, 3, 2)
    with pytest.raises(ValueError, match="soft_margin"):
        rt.BatchTripletLoss("all", soft_margin=True)
    loss = rt.BatchTripletLoss()
    with pytest.raises(ValueError, match="soft_margin"):
        loss.soft_margin = True
        loss.mining = "semi_hard"
    assert loss.mining == "hardest"
    with pytest.raises(ValueError, match="margin"):
        rt.BatchTripletLoss(margin=-1.0)
    with pytest.raises(ValueError, match="mining"):
        rt.BatchTripletLoss("hard")
    with pytest.raises(ValueError, match="labels"):
        loss(z, labels[:3])
    bad = z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="embeddings"):
        loss(bad, labels)
    assert repr(rt.BatchTripletLoss()).startswith(
        "BatchTripletLoss(mining='hardest', margin=5.0, distance='euclidean', soft_margin=False"
    )


def test_torch_bridge_matches_numpy():
    from ruvector_training import torch as rtt

    z, labels = make(2, 16, 4, 3)
    tz = torch.tensor(z, requires_grad=True)
    out = rtt.BatchTripletLoss(mining="semi_hard", margin=1.0)(tz, torch.tensor(labels))
    out.backward()
    value, (grad, _) = rt.BatchTripletLoss(mining="semi_hard", margin=1.0)(z, labels)
    assert out.item() == value
    np.testing.assert_allclose(tz.grad.numpy(), grad, rtol=1e-12)
