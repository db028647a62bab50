"""Gradient parity of the PyTorch bridge: every bridged loss against a pure-PyTorch autograd
version of the same formula (``reference_torch``), float64, to 1e-6; non-contiguous inputs,
``requires_grad`` on subsets of the inputs, ``reduction="none"`` with per-item weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional extra 'torch')")

import reference_torch as ref  # noqa: E402
import ruvector_training.torch as rtt  # noqa: E402

TOL = {"rtol": 1e-6, "atol": 1e-9}


def rows(seed: int, *shape: int) -> torch.Tensor:
    """Deterministic float64 rows with norms around 1."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True) * (0.5 + torch.rand(*shape[:-1], 1, generator=g))


def strided(x: torch.Tensor) -> torch.Tensor:
    """The same values in a non-contiguous tensor (every other column of a wider buffer)."""
    wide = torch.zeros(*x.shape[:-1], 2 * x.shape[-1], dtype=x.dtype)
    wide[..., ::2] = x
    out = wide[..., ::2]
    assert not out.is_contiguous()
    return out


def check(bridge, reference, inputs, grad_mask, *, weights=None, **kwargs):
    """Loss and the input gradients of ``bridge`` vs ``reference`` on copies of ``inputs``;
    ``grad_mask[i]`` says whether input i requires grad; ``"none"`` losses are reduced as
    ``(weights * items).sum()`` (``weights`` default all ones)."""
    results = []
    for fn in (bridge, reference):
        leaves = [
            x.detach().clone().requires_grad_(bool(m)) if isinstance(x, torch.Tensor) else x
            for x, m in zip(inputs, grad_mask)
        ]
        call_inputs = [
            strided(x) if isinstance(x, torch.Tensor) and m == "strided" else x
            for x, m in zip(leaves, grad_mask)
        ]
        loss = fn(*call_inputs, **kwargs)
        total = loss if loss.dim() == 0 else (loss * (1 if weights is None else weights)).sum()
        total.backward()
        grads = [x.grad if isinstance(x, torch.Tensor) else None for x in leaves]
        results.append((loss.detach(), grads))
    (ours, our_grads), (expected, expected_grads) = results
    torch.testing.assert_close(ours, expected, **TOL)
    for m, g, e in zip(grad_mask, our_grads, expected_grads):
        if m:
            assert g is not None
            torch.testing.assert_close(g, e, **TOL)
        else:
            assert g is None


INFONCE_CASES = [
    ("in_batch", False, "cosine"),
    ("in_batch", True, "cosine"),
    ("in_batch", False, "dot"),
    ("per_row", False, "cosine"),
    ("per_row", False, "dot"),
    ("shared", False, "cosine"),
    ("shared", True, "dot"),
]


@pytest.mark.parametrize(("layout", "symmetric", "similarity"), INFONCE_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_infonce_parity(layout, symmetric, similarity, reduction):
    a, p, n = rows(1, 12, 8), rows(2, 12, 8), rows(3, 12, 3, 8)
    options = dict(temperature=0.2, similarity=similarity, symmetric=symmetric, reduction=reduction)
    in_batch = {"in_batch": None, "per_row": False, "shared": True}[layout]
    negatives = None if layout == "in_batch" else n
    inputs = [a, p] if negatives is None else [a, p, negatives]
    weights = None
    if reduction == "none" and layout == "per_row":
        weights = torch.linspace(0.1, 2.0, 12, dtype=torch.float64)  # row-separable: exact
    check(
        rtt.InfoNCELoss(**options),
        lambda *x, **k: ref.infonce(*x, **k, **options),
        inputs,
        [True] * len(inputs),
        weights=weights,
        in_batch=in_batch,
    )


@pytest.mark.parametrize(
    "mask", [(True, False, False), (False, True, True), ("strided", True, "strided")]
)
def test_infonce_grad_subsets_and_strides(mask):
    a, p, n = rows(4, 10, 6), rows(5, 10, 6), rows(6, 10, 2, 6)
    options = dict(temperature=0.1)
    check(
        rtt.InfoNCELoss(**options),
        lambda *x, **k: ref.infonce(*x, **k, **options),
        [a, p, n],
        mask,
        in_batch=True,
    )


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("k", [0, 3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_parity(distance, k, reduction):
    a, p = rows(7, 16, 5), rows(8, 16, 5)
    n = rows(9, 16, 5) if k == 0 else rows(9, 16, k, 5)
    margin = 0.3 if distance == "cosine" else 0.8
    options = dict(margin=margin, distance=distance, reduction=reduction)
    weights = None
    if reduction == "none" and k == 0:
        weights = torch.linspace(0.5, 3.0, 16, dtype=torch.float64)
    check(
        rtt.TripletLoss(**options),
        lambda *x: ref.triplet(*x, **options),
        [a, p, n],
        ["strided", True, True],
        weights=weights,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cosine_similarity_parity(reduction):
    u, v = rows(10, 9, 7), rows(11, 9, 7)
    scores = torch.linspace(-0.5, 1.0, 9, dtype=torch.float64)
    weights = torch.linspace(1.0, 2.0, 9, dtype=torch.float64) if reduction == "none" else None
    check(
        rtt.CosineSimilarityLoss(reduction=reduction),
        lambda *x: ref.cosine_similarity(*x, reduction=reduction),
        [u, v, scores],
        [True, "strided", False],
        weights=weights,
    )


@pytest.mark.parametrize("labelled", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_local_contrastive_parity(labelled, reduction):
    z = rows(12, 10, 4)
    edges = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [7, 8], [8, 9], [9, 7]])
    labels = torch.tensor([True, False] * 4 + [True]) if labelled else None
    options = dict(margin=1.2, reduction=reduction)
    check(
        rtt.LocalContrastiveLoss(**options),
        lambda *x: ref.local_contrastive(*x, **options),
        [z, edges, labels],
        ["strided", False, False],
    )


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_spectral_parity(normalized, weighted):
    z = rows(13, 8, 3)
    edges = torch.tensor([[0, 1], [1, 2], [2, 0], [3, 4], [4, 4], [5, 6], [0, 1]])
    weights = torch.linspace(0.5, 2.0, 7, dtype=torch.float64) if weighted else None
    options = dict(lam=0.05, normalized=normalized)
    check(
        rtt.SpectralRegularization(**options),
        lambda *x: ref.spectral(*x, **options),
        [z, edges, weights],
        [True, False, False],
    )


def test_matryoshka_infonce_parity():
    a, p = rows(14, 10, 12), rows(15, 10, 12)
    dims, weights = (4, 8, 12), (0.5, 0.3, 0.2)
    check(
        rtt.MatryoshkaLoss(rtt.InfoNCELoss(temperature=0.2, symmetric=True), dims, weights),
        lambda *x: ref.matryoshka(
            lambda *y: ref.infonce(*y, temperature=0.2, symmetric=True), dims, weights, *x
        ),
        [a, p],
        ["strided", True],
    )


def test_matryoshka_cosine_similarity_none_weighted():
    u, v = rows(16, 7, 6), rows(17, 7, 6)
    scores = torch.linspace(0.0, 1.0, 7, dtype=torch.float64)
    dims = (2, 6)
    check(
        rtt.MatryoshkaLoss(rtt.CosineSimilarityLoss(reduction="none"), dims),
        lambda *x: ref.matryoshka(
            lambda *y: ref.cosine_similarity(*y, reduction="none"), dims, (0.5, 0.5), *x
        ),
        [u, v, scores],
        [True, True, False],
        weights=torch.arange(1.0, 8.0, dtype=torch.float64),
    )


def test_none_with_coupled_items_rejects_non_uniform_weights():
    a, p = rows(18, 6, 4).requires_grad_(), rows(19, 6, 4)
    loss = rtt.InfoNCELoss(reduction="none")(a, p)
    with pytest.raises(RuntimeError, match="couples items"):
        (loss * torch.arange(6.0, dtype=torch.float64)).sum().backward()


def test_none_mean_of_items_scales_gradients():
    a, p = rows(20, 6, 4), rows(21, 6, 4)
    check(
        lambda *x: rtt.InfoNCELoss(reduction="none")(*x).mean(),
        lambda *x: ref.infonce(*x, reduction="none").mean(),
        [a, p],
        [True, True],
    )


def test_float32_matches_float64_reference():
    a, p = rows(22, 8, 5), rows(23, 8, 5)
    a32, p32 = a.float().requires_grad_(), p.float().requires_grad_()
    loss = rtt.InfoNCELoss(temperature=0.1)(a32, p32)
    assert loss.dtype == torch.float32
    loss.backward()
    a64 = a.float().double().requires_grad_()
    ref.infonce(a64, p.float().double(), temperature=0.1).backward()
    torch.testing.assert_close(a32.grad.double(), a64.grad, rtol=1e-4, atol=1e-6)


def test_config_attributes_forward_to_numpy_loss():
    loss = rtt.InfoNCELoss(temperature=0.5)
    loss.temperature = 0.25
    assert loss.numpy_loss.temperature == 0.25
    with pytest.raises(ValueError, match="temperature"):
        loss.temperature = -1.0


def test_non_cpu_tensor_is_refused():
    a = torch.empty(4, 3, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match="anchors: expected a CPU tensor"):
        rtt.InfoNCELoss()(a, a)


def test_bad_dtype_names_argument():
    a = torch.zeros(4, 3, dtype=torch.bfloat16)
    with pytest.raises(TypeError, match="anchors"):
        rtt.InfoNCELoss()(a, a)


def test_contiguous_input_is_not_copied(monkeypatch):
    a, p = rows(24, 5, 3), rows(25, 5, 3)
    seen = {}

    class Spy:
        def __call__(self, *arrays, **kwargs):
            seen["pointer"] = arrays[0].__array_interface__["data"][0]
            return rtt.InfoNCELoss().numpy_loss(*arrays, **kwargs)

    module = rtt.InfoNCELoss()
    module.numpy_loss = Spy()
    module(a, p)
    assert seen["pointer"] == a.data_ptr()


def test_torch_compile_graph_break():
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 4).double()
    loss_fn = rtt.InfoNCELoss(temperature=0.2)

    def step(x, y):
        return loss_fn(model(x), model(y))

    x, y = rows(26, 8, 6), rows(27, 8, 6)
    eager = step(x, y)
    eager.backward()
    expected = model.weight.grad.clone()
    model.zero_grad()
    compiled = torch.compile(step, backend="eager")(x, y)
    compiled.backward()
    torch.testing.assert_close(compiled.detach(), eager.detach(), **TOL)
    torch.testing.assert_close(model.weight.grad, expected, **TOL)


@pytest.mark.parametrize("adaptive", [None, "uncertainty"])
def test_multi_objective_gradients(adaptive):
    import ruvector_training as rt

    u, v = rows(28, 6, 4).requires_grad_(), rows(29, 6, 4)
    combo = rtt.MultiObjectiveLoss(rt.LossWeights(infonce=1.0, reconstruction=0.5), adaptive)
    with torch.no_grad():
        combo.log_vars.copy_(torch.tensor([0.2, 0.0, 0.0, -0.3], dtype=torch.float64))
    infonce = rtt.InfoNCELoss(temperature=0.2)(u, v)
    cosine = rtt.CosineSimilarityLoss()(u, v, torch.full((6,), 0.8, dtype=torch.float64))
    total = combo({"infonce": infonce, "reconstruction": cosine})
    total.backward()
    # the same total written in torch
    u2 = u.detach().clone().requires_grad_()
    s = torch.tensor([0.2, 0.0, 0.0, -0.3], dtype=torch.float64, requires_grad=True)
    terms = [
        ref.infonce(u2, v, temperature=0.2),
        ref.cosine_similarity(u2, v, torch.full((6,), 0.8, dtype=torch.float64)),
    ]
    if adaptive is None:
        expected = terms[0] + 0.5 * terms[1]
    else:
        expected = torch.exp(-s[0]) * terms[0] + s[0] + torch.exp(-s[3]) * terms[1] + s[3]
    expected.backward()
    torch.testing.assert_close(total.detach(), expected.detach(), **TOL)
    torch.testing.assert_close(u.grad, u2.grad, **TOL)
    if adaptive:
        torch.testing.assert_close(combo.log_vars.grad, s.grad, **TOL)
    else:
        assert combo.log_vars.grad is None
