"""CoSENTLoss and AnglELoss: NumPy reference, finite differences, worked values, parity with
sentence-transformers 6.2, bad inputs. Reference: :func:`reference_peer_losses.cosent_reference`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import ruvector_training as rt
from reference_peer_losses import angle_similarity, cosent_reference, finite_differences

CLASSES = {"cosent": (rt.CoSENTLoss, False), "angle": (rt.AnglELoss, True)}
TOL = {np.float32: (2e-4, 2e-5), np.float64: (1e-9, 1e-11)}


def make_pairs(seed, b, d, dtype=np.float64, levels=5):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((b, d))
    v = u + rng.standard_normal((b, d))
    scores = rng.integers(0, levels, b) / (levels - 1)
    return u.astype(dtype), v.astype(dtype), scores.astype(dtype)


@pytest.mark.parametrize("kind", CLASSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("b", "d"), [(1, 3), (2, 4), (7, 5), (33, 16)])
def test_matches_reference_and_finite_differences(kind, dtype, b, d):
    cls, angle = CLASSES[kind]
    u, v, scores = make_pairs(b * 10 + d, b, d, dtype)
    loss = cls(scale=5.0)
    value, (gu, gv, none) = loss(u, v, scores)
    assert none is None and gu.dtype == dtype and gu.shape == u.shape
    want = cosent_reference(u, v, scores, scale=5.0, angle=angle)
    rtol, atol = TOL[dtype]
    assert value == pytest.approx(want, rel=rtol, abs=atol)
    if dtype is np.float64 and b <= 7:

        def f(a, c):
            return cosent_reference(a, c, scores, scale=5.0, angle=angle)

        np.testing.assert_allclose(gu, finite_differences(f, (u, v), 0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gv, finite_differences(f, (u, v), 1), rtol=1e-5, atol=1e-7)


def test_worked_values():
    # cos = (1, 0) with targets (0, 1): the pair is ranked the wrong way by 1, so the loss is
    # log(1 + exp(scale * (1 - 0))); with scale 1 that is log(1 + e) = 1.3132616875...
    u = np.array([[1.0, 0.0], [1.0, 0.0]])
    v = np.array([[1.0, 0.0], [0.0, 1.0]])
    value, (gu, gv, _) = rt.CoSENTLoss(scale=1.0)(u, v, np.array([0.0, 1.0]))
    assert value == pytest.approx(math.log1p(math.e), rel=1e-14)
    # d loss / d cos_0 = e / (1 + e) = 0.7310585786; cos_0 is at its maximum, so its gradient
    # through the normalisation is 0 along u_0 and v_0, and d/d u_1 = -0.731 * (0, 1).
    np.testing.assert_allclose(gu, [[0.0, 0.0], [0.0, -math.e / (1 + math.e)]], atol=1e-15)
    # AnglE of u = (1, 0), v = (0, 1): cos 0, sin = u_1 v_0 - u_0 v_1 = -1, angle |-1| = 1.
    assert angle_similarity(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))[0] == 1.0
    value, _ = rt.AnglELoss(scale=1.0)(u, v, np.array([1.0, 0.0]))
    # angles (1, 1): equal, so the one wrongly-ordered pair gives log(1 + exp(0)) = log 2.
    assert value == pytest.approx(math.log(2.0), rel=1e-14)
    # Equal targets: no pair, loss 0, zero gradients.
    value, (gu, gv, _) = rt.CoSENTLoss()(u, v, np.array([0.5, 0.5]))
    assert value == 0.0 and not gu.any() and not gv.any()


def test_zero_rows_and_the_kink_give_finite_zero_gradients():
    u = np.array([[0.0, 0.0], [1.0, 0.0]])
    v = np.array([[1.0, 2.0], [1.0, 1.0]])
    value, (gu, gv, _) = rt.AnglELoss()(u, v, np.array([1.0, 0.0]))
    assert np.isfinite(value) and np.isfinite(gu).all() and np.isfinite(gv).all()
    # cos + sin = 0 exactly: the absolute value's kink has subgradient 0.
    u = np.array([[1.0, 0.0], [1.0, 0.0]])
    v = np.array([[1.0, 1.0], [1.0, 0.0]])  # pair 0: cos = 1/sqrt2, sin = -1/sqrt2
    _, (gu, gv, _) = rt.AnglELoss()(u, v, np.array([1.0, 0.0]))
    assert not gu[0].any() and not gv[0].any()


@pytest.mark.parametrize("kind", CLASSES)
@pytest.mark.parametrize("d", [6, 7])
def test_parity_with_sentence_transformers(kind, d):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
    from sentence_transformers import util

    cls, angle = CLASSES[kind]
    u, v, scores = make_pairs(3, 40, d)
    peer = st.CoSENTLoss.__new__(st.CoSENTLoss)
    torch.nn.Module.__init__(peer)
    peer.scale = 20.0
    peer.similarity_fct = util.pairwise_angle_sim if angle else util.pairwise_cos_sim
    tu = torch.tensor(u, requires_grad=True)
    tv = torch.tensor(v, requires_grad=True)
    want = peer.compute_loss_from_embeddings([tu, tv], torch.tensor(scores))
    want.backward()
    value, (gu, gv, _) = cls()(u, v, scores)
    assert value == pytest.approx(want.item(), rel=1e-10)
    np.testing.assert_allclose(gu, tu.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gv, tv.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_bad_inputs_name_the_argument():
    u, v, scores = make_pairs(0, 4, 3)
    loss = rt.CoSENTLoss()
    with pytest.raises(ValueError, match="scores"):
        loss(u, v, scores[:3])
    bad = scores.copy()
    bad[1] = np.nan
    with pytest.raises(ValueError, match="scores"):
        loss(u, v, bad)
    with pytest.raises(ValueError, match="v"):
        loss(u, v[:, :2], scores)
    with pytest.raises(ValueError, match="scale"):
        rt.AnglELoss(scale=0.0)
    with pytest.raises(TypeError, match="v"):
        loss(u, v.astype(np.float32), scores)
    loss.scale = 3.0
    assert loss.scale == 3.0 and repr(loss) == "CoSENTLoss(scale=3.0)"
    with pytest.raises(ValueError, match="scale"):
        loss.scale = -1.0


def test_large_batch_is_linearithmic():
    u, v, scores = make_pairs(1, 200_000, 8, np.float32, levels=50)
    value, (gu, _, _) = rt.CoSENTLoss()(u, v, scores)
    assert np.isfinite(value) and np.isfinite(gu).all()


@pytest.mark.parametrize("kind", CLASSES)
def test_torch_bridge_matches_numpy(kind):
    torch = pytest.importorskip("torch")
    from ruvector_training import torch as rtt

    u, v, scores = make_pairs(5, 9, 4)
    tu = torch.tensor(u, requires_grad=True)
    tv = torch.tensor(v, requires_grad=True)
    module = getattr(rtt, CLASSES[kind][0].__name__)(scale=7.0)
    out = module(tu, tv, torch.tensor(scores))
    (2.0 * out).backward()
    value, (gu, gv, _) = CLASSES[kind][0](scale=7.0)(u, v, scores)
    assert out.item() == value and module.scale == 7.0
    np.testing.assert_allclose(tu.grad.numpy(), 2 * gu, rtol=1e-12)
    np.testing.assert_allclose(tv.grad.numpy(), 2 * gv, rtol=1e-12)
