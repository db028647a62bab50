"""InfoNCELoss with removed candidates (ids, GIST guide) and an EmbeddingQueue of extra
negatives: against the NumPy reference of ``reference_masked.py``, finite differences, hand
built cases, sentence-transformers' GISTEmbedLoss, bad inputs, and the queue itself."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import ruvector_training as rt
from reference import finite_difference_grad
from reference_masked import masked_infonce_reference

IN_BATCH = {"in_batch": None, "per_row": False, "shared": True}


def make_case(seed, layout, *, b=6, k=2, d=5, dg=3, ids=True, guide=False, queue=0):
    """Random inputs with repeated ids; returns ``(arrays, kwargs, reference_kwargs)``."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(b, d))
    p = a + 0.4 * rng.normal(size=(b, d))
    n = None if layout == "in_batch" else rng.normal(size=(b, k, d))
    kwargs, ref = {"in_batch": IN_BATCH[layout]}, {"in_batch": IN_BATCH[layout]}
    if ids:
        anchor_ids = rng.integers(0, 4, size=b)
        count = b if n is None else b * (1 + k)
        candidate_ids = rng.integers(0, 6, size=count)
        if layout == "per_row":
            candidate_ids = candidate_ids.reshape(b, 1 + k)
        kwargs.update(anchor_ids=anchor_ids, candidate_ids=candidate_ids)
        ref.update(anchor_ids=anchor_ids, candidate_ids=candidate_ids)
    if guide:
        ga = rng.normal(size=(b, dg))
        gp = ga + 0.6 * rng.normal(size=(b, dg))
        gn = None if n is None else rng.normal(size=(b, k, dg))
        kwargs.update(guide_anchors=ga, guide_positives=gp)
        if gn is not None:
            kwargs["guide_negatives"] = gn
        ref["guide"] = (ga, gp, gn)
    if queue:
        q = rt.EmbeddingQueue(queue, d, np.float64)
        q.push(rng.normal(size=(queue + 1, d)), rng.integers(0, 6, size=queue + 1) if ids else None)
        kwargs["queue"] = q
        emb, qids, has = q.entries()
        ref.update(queue=emb, queue_ids=[int(i) if h else None for i, h in zip(qids, has)])
    arrays = [a, p] + ([] if n is None else [n])
    return arrays, kwargs, ref


def cast(kwargs, dtype):
    out = dict(kwargs)
    for name in ("guide_anchors", "guide_positives", "guide_negatives"):
        if name in out:
            out[name] = out[name].astype(dtype)
    if "queue" in out and out["queue"].dtype != dtype:
        q = rt.EmbeddingQueue(out["queue"].size, out["queue"].dim, dtype)
        emb, qids, has = out["queue"].entries()
        q.push(emb, qids if has.any() else None)
        out["queue"] = q
    return out


CASES = [
    pytest.param(layout, symmetric, ids, guide, queue, id=f"{layout}-sym{symmetric:d}-{name}")
    for layout in ("in_batch", "shared", "per_row")
    for symmetric in (False, True)
    if not (symmetric and layout == "per_row")
    for name, ids, guide, queue in (
        ("ids", True, False, 0),
        ("guide", False, True, 0),
        ("queue", False, False, 3),
        ("all", True, True, 3),
    )
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("budget", [1 << 28, 0], ids=["kept", "streamed"])
@pytest.mark.parametrize(("layout", "symmetric", "ids", "guide", "queue"), CASES)
def test_matches_reference(layout, symmetric, ids, guide, queue, budget, dtype, reduction):
    arrays, kwargs, ref = make_case(7, layout, ids=ids, guide=guide, queue=queue)
    loss = rt.InfoNCELoss(
        0.5, symmetric=symmetric, reduction=reduction, logits_budget_bytes=budget, guide_margin=0.1
    )
    value, grads = loss(*[x.astype(dtype) for x in arrays], **cast(kwargs, dtype))
    expected, expected_grads = masked_infonce_reference(
        *arrays, symmetric=symmetric, reduction=reduction, temperature=0.5, guide_margin=0.1, **ref
    )
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(value, expected, rtol=tol, atol=tol)
    for got, want in zip(grads, expected_grads):
        assert (got is None) == (want is None)
        if got is not None:
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("strategy", ["absolute", "relative"])
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize(
    ("layout", "symmetric"), [("in_batch", True), ("shared", False), ("per_row", False)]
)
def test_gradients_match_finite_differences(layout, symmetric, similarity, strategy):
    """The removed set depends on ids and guides only, so the loss is smooth in every input."""
    arrays, kwargs, _ = make_case(11, layout, b=4, k=2, d=3, guide=True, queue=2)
    loss = rt.InfoNCELoss(
        0.7,
        similarity=similarity,
        symmetric=symmetric,
        reduction="sum",
        guide_margin=0.05,
        guide_margin_strategy=strategy,
    )
    _, grads = loss(*arrays, **kwargs)
    for index, x in enumerate(arrays):

        def loss_of(value, index=index):
            changed = list(arrays)
            changed[index] = value
            return float(loss(*changed, **kwargs)[0])

        numeric = finite_difference_grad(loss_of, x, h=1e-6)
        np.testing.assert_allclose(grads[index], numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("budget", [1 << 28, 0], ids=["kept", "streamed"])
@pytest.mark.parametrize(
    ("layout", "symmetric"),
    [("in_batch", False), ("in_batch", True), ("shared", True), ("per_row", False)],
)
def test_without_extras_bit_for_bit(layout, symmetric, budget):
    """No ids, distinct ids, a guide ranking nothing above the positive, an empty queue: the
    loss and gradients are exactly those of the plain call."""
    arrays, _, _ = make_case(3, layout, ids=False)
    arrays = [x.astype(np.float32) for x in arrays]
    b, k = arrays[0].shape[0], 0 if len(arrays) == 2 else arrays[2].shape[1]
    loss = rt.InfoNCELoss(0.1, symmetric=symmetric, logits_budget_bytes=budget)
    kw = {"in_batch": IN_BATCH[layout]}
    plain_value, plain_grads = loss(*arrays, **kw)
    count = b if len(arrays) == 2 else b * (1 + k)
    distinct = np.arange(100, 100 + count)
    if layout == "per_row":
        distinct = distinct.reshape(b, 1 + k)
    # The guide: anchor i and positive i are the same one-hot row, everything else orthogonal.
    eye = np.eye(b + b * k, dtype=np.float32)
    guide = {"guide_anchors": eye[:b], "guide_positives": eye[:b]}
    if k:
        guide["guide_negatives"] = eye[b:].reshape(b, k, -1)
    variants = [
        {},
        {"anchor_ids": None, "candidate_ids": None, "queue": None},
        {"anchor_ids": np.arange(b), "candidate_ids": distinct},
        guide,
        {"queue": rt.EmbeddingQueue(0, arrays[0].shape[1])},
        {"queue": rt.EmbeddingQueue(5, arrays[0].shape[1])},  # nothing pushed yet
    ]
    for extra in variants:
        value, grads = loss(*arrays, **kw, **extra)
        assert np.array_equal(value, plain_value), extra.keys()
        for got, want in zip(grads, plain_grads):
            assert (got is None and want is None) or np.array_equal(got, want), extra.keys()


def test_worked_value_duplicated_texts():
    """B=3, dot, tau=1: anchors 0 and 2 are the same text (id 0) with the same positive text
    (id 10). Row 0's logits are [2, 0, 2]: column 2 repeats its positive and is removed, so
    loss_0 = ln(e^2 + e^0) - 2 = ln(1 + e^-2); row 1 ([0, 1, 0], nothing removed) keeps
    ln(2 + e) - 1; row 2 mirrors row 0."""
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    p = np.array([[2.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    loss = rt.InfoNCELoss(1.0, similarity="dot", reduction="none")
    value, _ = loss(a, p, anchor_ids=[0, 1, 0], candidate_ids=[10, 11, 10])
    row0 = math.log(1 + math.exp(-2))
    np.testing.assert_allclose(value, [row0, math.log(2 + math.e) - 1, row0], rtol=1e-14)
    plain, _ = loss(a, p)
    assert plain[0] == pytest.approx(math.log(2 + math.exp(-2)), rel=1e-14)
    # The duplicated column gets no gradient from row 0's softmax: with mean, the gradient
    # of positive 2 is only row 1's and row 2's share.
    _, (ga, gp, _) = rt.InfoNCELoss(1.0, similarity="dot", reduction="sum")(
        a, p, anchor_ids=[0, 1, 0], candidate_ids=[10, 11, 10]
    )
    e = math.e
    softmax_row1 = np.array([1, e, 1]) / (2 + e)
    np.testing.assert_allclose(gp[2], softmax_row1[2] * a[1] - (1 - 1 / (1 + math.exp(-2))) * a[2])


def test_duplicates_change_only_removed_terms():
    """Masking a duplicated candidate equals deleting it from that anchor's candidate set."""
    rng = np.random.default_rng(5)
    a, p = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    p[3] = p[1]  # positive 3 is positive 1's text
    ids = np.array([0, 1, 2, 1, 4])
    loss = rt.InfoNCELoss(0.3, reduction="none")
    masked, _ = loss(a, p, anchor_ids=np.arange(10, 15), candidate_ids=ids)
    plain, _ = loss(a, p)
    for i in range(5):
        keep = [j for j in range(5) if not (j != i and ids[j] == ids[i])]
        an = a[i] / np.linalg.norm(a[i])
        pn = p / np.linalg.norm(p, axis=1, keepdims=True)
        logits = pn[keep] @ an / 0.3
        expected = np.log(np.sum(np.exp(logits))) - (pn[i] @ an / 0.3)
        assert masked[i] == pytest.approx(expected, rel=1e-12)
        if i in (0, 2, 4):
            assert masked[i] == plain[i]


def test_parity_with_sentence_transformers_gist(monkeypatch):
    """GISTEmbedLoss(contrast_anchors=False, contrast_positives=False) given the embeddings."""
    torch = pytest.importorskip("torch")
    gist = pytest.importorskip("sentence_transformers.sentence_transformer.losses.gist_embed")
    rng = np.random.default_rng(2)
    b, d, dg = 8, 6, 4
    student = [torch.tensor(rng.normal(size=(b, d)), requires_grad=True) for _ in range(3)]
    ga = rng.normal(size=(b, dg))
    guide = [torch.tensor(ga), torch.tensor(ga + 0.7 * rng.normal(size=(b, dg))),
             torch.tensor(rng.normal(size=(b, dg)))]  # fmt: skip
    for strategy, margin in (("absolute", 0.05), ("relative", 0.2)):
        for with_negatives in (False, True):
            count = 3 if with_negatives else 2
            module = gist.GISTEmbedLoss.__new__(gist.GISTEmbedLoss)
            torch.nn.Module.__init__(module)
            module.model, module.guide = "student", "guide"
            module.temperature, module.margin_strategy, module.margin = 0.05, strategy, margin
            module.similarity_fct = torch.nn.CosineSimilarity(dim=-1)
            module.contrast_anchors = module.contrast_positives = False
            module.gather_across_devices = module.must_retokenize = False
            module.cross_entropy_loss = torch.nn.CrossEntropyLoss()
            monkeypatch.setattr(
                gist,
                "embed_columns",
                lambda model, features, c=count: (student if model == "student" else guide)[:c],
            )
            for t in student:
                t.grad = None
            expected = module([{}] * count, None)
            expected.backward()
            ours = rt.InfoNCELoss(0.05, guide_margin=margin, guide_margin_strategy=strategy)
            arrays = [t.detach().numpy() for t in student]
            kwargs = {"guide_anchors": ga, "guide_positives": guide[1].numpy()}
            if with_negatives:
                kwargs["guide_negatives"] = guide[2].numpy()[:, None, :]
                value, grads = ours(
                    arrays[0], arrays[1], arrays[2][:, None, :], in_batch=True, **kwargs
                )
            else:
                value, grads = ours(arrays[0], arrays[1], **kwargs)
            assert value == pytest.approx(expected.item(), rel=1e-10)
            for t, g in zip(student[:count], grads):
                np.testing.assert_allclose(g.reshape(t.shape), t.grad.numpy(), atol=1e-10)
            plain, _ = ours(arrays[0], arrays[1])
            assert abs(plain - value) > 1e-6 or not with_negatives  # the guide removed something


def test_queue_entries_are_negatives_without_gradient():
    rng = np.random.default_rng(9)
    a, p, extra = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    queue = rt.EmbeddingQueue(4, 4, np.float64)
    queue.push(extra)
    value, grads = rt.InfoNCELoss(0.2)(a, p, queue=queue)
    assert len(grads) == 3 and grads[2] is None
    ref, ref_grads = masked_infonce_reference(a, p, temperature=0.2, queue=extra)
    assert value == pytest.approx(ref, rel=1e-12)
    for got, want in zip(grads[:2], ref_grads[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    # An entry carrying anchor 1's id leaves anchor 1's denominator only.
    queue.push(a[1:2] * 3, ids=[7])
    value, _ = rt.InfoNCELoss(0.2, reduction="none")(
        a, p, anchor_ids=[6, 7, 8], candidate_ids=[16, 17, 18], queue=queue
    )
    ref, _ = masked_infonce_reference(
        a, p, temperature=0.2, reduction="none", anchor_ids=[6, 7, 8],
        candidate_ids=[16, 17, 18], queue=queue.entries()[0], queue_ids=[None, None, 7],
    )  # fmt: skip
    np.testing.assert_allclose(value, ref, rtol=1e-12)


def test_embedding_queue_fifo_and_state():
    q = rt.EmbeddingQueue(3, 2, np.float64)
    assert len(q) == 0 and q.embeddings.shape == (0, 2)
    q.push(np.array([[1.0, 0], [2, 0]]), ids=np.array([1, 2]))
    q.push(np.array([[3.0, 0], [4, 0]]))
    assert len(q) == 3
    np.testing.assert_array_equal(q.embeddings[:, 0], [2, 3, 4])  # 1 was evicted
    np.testing.assert_array_equal(q.ids, [2, -1, -1])
    np.testing.assert_array_equal(q.has_id, [True, False, False])
    q.push(np.arange(10.0).reshape(5, 2), ids=np.arange(5))  # more than size: newest 3 stay
    np.testing.assert_array_equal(q.embeddings, [[4, 5], [6, 7], [8, 9]])
    for restored in (pickle.loads(pickle.dumps(q)), copy.deepcopy(q)):
        np.testing.assert_array_equal(restored.embeddings, q.embeddings)
        np.testing.assert_array_equal(restored.ids, q.ids)
        restored.push(np.array([[0.5, 0.5]]))
        q2 = copy.deepcopy(q)
        q2.push(np.array([[0.5, 0.5]]))
        np.testing.assert_array_equal(restored.embeddings, q2.embeddings)
    other = rt.EmbeddingQueue(3, 2, np.float64)
    other.load_state_dict(q.state_dict())
    np.testing.assert_array_equal(other.embeddings, q.embeddings)
    assert repr(q) == "EmbeddingQueue(size=3, dim=2, dtype=float64, len=3)"
    q.clear()
    assert len(q) == 0
    torch = pytest.importorskip("torch")
    q.push(torch.ones(2, 2, requires_grad=True))
    assert len(q) == 2


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda loss, a, p: loss(a, p, anchor_ids=[0, 1]), "candidate_ids"),
        (lambda loss, a, p: loss(a, p, candidate_ids=[0, 1, 2]), "anchor_ids"),
        (lambda loss, a, p: loss(a, p, anchor_ids=[0, 1], candidate_ids=[0, 1, 2]), "anchor_ids"),
        (
            lambda loss, a, p: loss(a, p, anchor_ids=[0, 1, 2], candidate_ids=[0, 1]),
            "candidate_ids",
        ),
        (
            lambda loss, a, p: loss(a, p, anchor_ids=[0.5, 1, 2], candidate_ids=[0, 1, 2]),
            "anchor_ids",
        ),
        (lambda loss, a, p: loss(a, p, guide_anchors=a), "guide_positives"),
        (lambda loss, a, p: loss(a, p, guide_anchors=a, guide_positives=p[:2]), "guide_positives"),
        (
            lambda loss, a, p: loss(a, p, guide_anchors=a, guide_positives=p * np.nan),
            "guide_positives",
        ),
        (
            lambda loss, a, p: loss(
                a, p, guide_anchors=a, guide_positives=p, guide_negatives=a[:, None]
            ),
            "guide_negatives",
        ),
        (
            lambda loss, a, p: loss(a, p, a[:, None], guide_anchors=a, guide_positives=p),
            "guide_negatives",
        ),
        (
            lambda loss, a, p: loss(a, p, guide_anchors=a.astype(np.float32), guide_positives=p),
            "guide_anchors",
        ),
        (lambda loss, a, p: loss(a, p, queue=rt.EmbeddingQueue(2, 5, np.float64)), "queue"),
        (lambda loss, a, p: loss(a, p, queue=rt.EmbeddingQueue(2, 4, np.float32)), "queue"),
        (lambda loss, a, p: loss(a, p, queue="not a queue"), "queue"),
        (lambda loss, a, p: rt.InfoNCELoss(guide_margin=-0.1), "guide_margin"),
        (lambda loss, a, p: rt.InfoNCELoss(guide_margin=float("nan")), "guide_margin"),
        (lambda loss, a, p: rt.InfoNCELoss(guide_margin_strategy="ratio"), "guide_margin_strategy"),
        (lambda loss, a, p: setattr(loss, "guide_margin", -1.0), "guide_margin"),
        (lambda loss, a, p: rt.EmbeddingQueue(-1, 4), "size"),
        (lambda loss, a, p: rt.EmbeddingQueue(2, 0), "dim"),
        (lambda loss, a, p: rt.EmbeddingQueue(2, 4, np.int32), "dtype"),
        (lambda loss, a, p: rt.EmbeddingQueue(2, 4).push(a[:, :3]), "embeddings"),
        (lambda loss, a, p: rt.EmbeddingQueue(2, 4).push(a * np.nan), "embeddings"),
        (lambda loss, a, p: rt.EmbeddingQueue(2, 4).push(a, ids=[1, 2]), "ids"),
        (lambda loss, a, p: rt.EmbeddingQueue(2, 4).push(a, ids=[0.5, 1, 2]), "ids"),
    ],
)
def test_bad_inputs_name_the_argument(call, arg):
    rng = np.random.default_rng(0)
    a, p = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    with pytest.raises((ValueError, TypeError)) as info:
        call(rt.InfoNCELoss(), a, p)
    assert str(info.value).startswith(arg), str(info.value)


def test_queue_ids_need_batch_ids():
    rng = np.random.default_rng(0)
    a, p = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    queue = rt.EmbeddingQueue(2, 4, np.float64)
    queue.push(a[:1], ids=[3])
    with pytest.raises(ValueError, match="^queue: its entries have ids"):
        rt.InfoNCELoss()(a, p, queue=queue)


def test_attributes_and_repr():
    loss = rt.InfoNCELoss(guide_margin=0.1, guide_margin_strategy="relative")
    assert (loss.guide_margin, loss.guide_margin_strategy) == (0.1, "relative")
    loss.guide_margin, loss.guide_margin_strategy = 0.2, "absolute"
    assert "guide_margin=0.2, guide_margin_strategy='absolute'" in repr(loss)


def test_torch_bridge_ids_guides_and_queue():
    torch = pytest.importorskip("torch")
    from ruvector_training.torch import CachedInfoNCE, InfoNCELoss

    arrays, kwargs, _ = make_case(4, "shared", guide=True, queue=2)
    expected_value, expected_grads = rt.InfoNCELoss(0.3, guide_margin=0.1)(*arrays, **kwargs)
    tensors = [torch.tensor(x, requires_grad=True) for x in arrays]
    torch_kwargs = {
        k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()
    }
    torch_kwargs["guide_anchors"].requires_grad_()
    module = InfoNCELoss(0.3, guide_margin=0.1)
    module.guide_margin = 0.1
    value = module(*tensors, **torch_kwargs)
    value.backward()
    assert value.item() == pytest.approx(expected_value, rel=1e-12)
    for t, g in zip(tensors, expected_grads):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-12)
    assert torch_kwargs["guide_anchors"].grad is None  # keyword arrays get no gradient slot

    # CachedInfoNCE: an identity encoder over the embeddings gives the same loss and gradients.
    leaves = [torch.tensor(x, requires_grad=True) for x in arrays]
    cached = CachedInfoNCE(lambda x: x * 1.0, loss=InfoNCELoss(0.3, guide_margin=0.1), chunk_size=2)
    negatives = leaves[2].reshape(-1, leaves[2].shape[-1])
    result = cached(leaves[0], leaves[1], negatives, **torch_kwargs)
    result.backward()
    assert result.item() == pytest.approx(expected_value, rel=1e-12)
    for t, g in zip(leaves, expected_grads):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-10, atol=1e-14)
