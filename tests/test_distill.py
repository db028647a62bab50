"""MarginMSELoss and DistillKLDivLoss: NumPy reference, finite differences, worked values,
parity with sentence-transformers 6.2, bad inputs, torch bridge.
References: :func:`reference_peer_losses.margin_mse_reference`, :func:`distill_kl_reference`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import ruvector_training as rt
from reference_peer_losses import distill_kl_reference, finite_differences, margin_mse_reference

TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}


def margin_batch(seed, b, k, d, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, d))
    p = q + rng.standard_normal((b, d))
    n = rng.standard_normal((b, d) if k is None else (b, k, d))
    margins = rng.standard_normal((b,) if k is None else (b, k))
    return tuple(x.astype(dtype) for x in (q, p, n, margins))


def kl_batch(seed, b, c, d, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, d)) / 2
    cand = rng.standard_normal((b, c, d)) / 2
    teacher = rng.standard_normal((b, c)) * 3
    return tuple(x.astype(dtype) for x in (q, cand, teacher))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("b", "k"), [(1, None), (4, None), (3, 1), (5, 3)])
def test_margin_mse_matches_reference(dtype, similarity, reduction, b, k):
    arrays = margin_batch(b * 7 + (k or 0), b, k, 6, dtype)
    options = {"similarity": similarity, "reduction": reduction}
    value, grads = rt.MarginMSELoss(**options)(*arrays)
    assert grads[3] is None and [g.shape for g in grads[:3]] == [a.shape for a in arrays[:3]]
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(
        value, margin_mse_reference(*arrays, **options), rtol=rtol, atol=atol
    )
    if reduction == "none":
        assert value.shape == arrays[3].shape and value.dtype == dtype
    if dtype is np.float64:
        margins = arrays[3]

        def f(q, p, n):
            return float(np.sum(margin_mse_reference(q, p, n, margins, **options)))

        for index in range(3):
            want = finite_differences(f, arrays[:3], index)
            np.testing.assert_allclose(grads[index], want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("temperatures", [(1.0, None, None), (2.0, None, None), (1.0, 0.5, 3.0)])
@pytest.mark.parametrize(("b", "c"), [(1, 2), (4, 5)])
def test_distill_kl_matches_reference(dtype, similarity, reduction, temperatures, b, c):
    arrays = kl_batch(b + c, b, c, 5, dtype)
    t, ts, tt = temperatures
    options = {
        "temperature": t,
        "student_temperature": ts,
        "teacher_temperature": tt,
        "similarity": similarity,
        "reduction": reduction,
    }
    value, (gq, gc, none) = rt.DistillKLDivLoss(**options)(*arrays)
    assert none is None and gq.shape == arrays[0].shape and gc.shape == arrays[1].shape
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(
        value, distill_kl_reference(*arrays, **options), rtol=rtol, atol=atol
    )
    if dtype is np.float64:
        teacher = arrays[2]

        def f(q, cand):
            return float(np.sum(distill_kl_reference(q, cand, teacher, **options)))

        np.testing.assert_allclose(gq, finite_differences(f, arrays[:2], 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gc, finite_differences(f, arrays[:2], 1), rtol=1e-6, atol=1e-8)


def test_worked_values():
    # q = (1, 0), p = (2, 0), n = (0, 1): the dot margin is 2 - 0 = 2; teacher 1: (2 - 1)^2 = 1,
    # d/dp = 2 (2 - 1) q = (2, 0).
    q, p, n = np.array([[1.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]])
    value, (gq, gp, gn, _) = rt.MarginMSELoss()(q, p, n, np.array([1.0]))
    assert value == 1.0 and gp.tolist() == [[2.0, 0.0]] and gn.tolist() == [[-2.0, -0.0]]
    # Student scores (1, 0) (dot of q with e0, e1), teacher (0, 0): KL(uniform || softmax(1, 0))
    # = 0.5 log(0.5 / s0) + 0.5 log(0.5 / s1) = log(0.5) + log(1 + e) - 0.5 = 0.1201145069.
    value, _ = rt.DistillKLDivLoss()(q, np.array([[[1.0, 0.0], [0.0, 1.0]]]), np.zeros((1, 2)))
    assert value == pytest.approx(math.log(0.5) + math.log1p(math.e) - 0.5, rel=1e-14)


def _st_module(cls, **kwargs):
    torch = pytest.importorskip("torch")
    module = cls.__new__(cls)
    torch.nn.Module.__init__(module)
    return module


@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_margin_mse_parity_with_sentence_transformers(k, similarity):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
    from sentence_transformers import util

    q, p, n, margins = margin_batch(2, 8, k, 6)
    peer = _st_module(st.MarginMSELoss)
    peer.similarity_fct = util.pairwise_dot_score if similarity == "dot" else util.pairwise_cos_sim
    peer.loss_fct = torch.nn.MSELoss()
    tensors = [torch.tensor(x, requires_grad=True) for x in (q, p)]
    negs = [n] if k is None else [n[:, j] for j in range(k)]
    tn = [torch.tensor(x, requires_grad=True) for x in negs]
    want = peer.compute_loss_from_embeddings([*tensors, *tn], torch.tensor(margins))
    want.backward()
    value, (gq, gp, gn, _) = rt.MarginMSELoss(similarity=similarity)(q, p, n, margins)
    assert value == pytest.approx(want.item(), rel=1e-10)
    np.testing.assert_allclose(gq, tensors[0].grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gp, tensors[1].grad.numpy(), rtol=1e-9, atol=1e-12)
    peer_gn = np.stack([t.grad.numpy() for t in tn], axis=1).reshape(gn.shape)
    np.testing.assert_allclose(gn, peer_gn, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("temperatures", [(1.0, None, None), (2.0, 0.5, 4.0)])
def test_distill_kl_parity_with_sentence_transformers(temperatures):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
    from sentence_transformers import util

    q, cand, teacher = kl_batch(4, 6, 4, 5)
    t, ts, tt = temperatures
    peer = _st_module(st.DistillKLDivLoss)
    peer.similarity_fct = util.pairwise_dot_score
    peer.temperature = t
    peer.student_temperature = t if ts is None else ts
    peer.teacher_temperature = t if tt is None else tt
    peer.loss_fct = torch.nn.KLDivLoss(reduction="batchmean")
    peer._checked_teacher_scale = True
    tq = torch.tensor(q, requires_grad=True)
    tc = torch.tensor(cand, requires_grad=True)
    cols = [tc[:, j] for j in range(cand.shape[1])]
    want = peer.compute_loss_from_embeddings([tq, *cols], torch.tensor(teacher))
    want.backward()
    loss = rt.DistillKLDivLoss(t, student_temperature=ts, teacher_temperature=tt)
    value, (gq, gc, _) = loss(q, cand, teacher)
    assert value == pytest.approx(want.item(), rel=1e-10)
    np.testing.assert_allclose(gq, tq.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gc, tc.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_bad_inputs_name_the_argument():
    q, p, n, margins = margin_batch(0, 3, 2, 4)
    loss = rt.MarginMSELoss()
    with pytest.raises(ValueError, match="teacher_margins"):
        loss(q, p, n, margins[:, :1])
    bad = margins.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="teacher_margins"):
        loss(q, p, n, bad)
    with pytest.raises(ValueError, match="positives"):
        loss(q, p[:2], n, margins)
    with pytest.raises(ValueError, match="negatives"):
        loss(q, p, n[:, :, :3], margins)
    with pytest.raises(ValueError, match="similarity"):
        rt.MarginMSELoss(similarity="l2")
    q, cand, teacher = kl_batch(0, 3, 4, 2)
    kl = rt.DistillKLDivLoss()
    with pytest.raises(ValueError, match="teacher_scores"):
        kl(q, cand, teacher[:, :3])
    with pytest.raises(ValueError, match="candidates"):
        kl(q, cand[:, :1], teacher[:, :1])
    with pytest.raises(ValueError, match="student_temperature"):
        rt.DistillKLDivLoss(student_temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        kl.temperature = math.inf
    kl.temperature = 2.0
    assert kl.student_temperature is None and kl.teacher_temperature is None
    kl.teacher_temperature = 5.0
    assert kl.teacher_temperature == 5.0
    kl.teacher_temperature = None
    assert kl.teacher_temperature is None
    assert repr(loss) == "MarginMSELoss(similarity='dot', reduction='mean')"


def test_torch_bridge_matches_numpy():
    torch = pytest.importorskip("torch")
    from ruvector_training import torch as rtt

    arrays = margin_batch(1, 4, 2, 3)
    tensors = [torch.tensor(x, requires_grad=i < 3) for i, x in enumerate(arrays)]
    out = rtt.MarginMSELoss()(*tensors)
    out.backward()
    value, grads = rt.MarginMSELoss()(*arrays)
    assert out.item() == value
    for t, g in zip(tensors[:3], grads[:3]):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-12)
    arrays = kl_batch(1, 4, 3, 3)
    tensors = [torch.tensor(x, requires_grad=i < 2) for i, x in enumerate(arrays)]
    out = rtt.DistillKLDivLoss(temperature=2.0)(*tensors)
    out.backward()
    value, grads = rt.DistillKLDivLoss(temperature=2.0)(*arrays)
    assert out.item() == value
    np.testing.assert_allclose(tensors[1].grad.numpy(), grads[1], rtol=1e-12)
