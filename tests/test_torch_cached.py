"""CachedInfoNCE (GradCache) equals plain full-batch training: same loss and parameter
gradients, with dropout replayed from the recorded random state."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional extra 'torch')")

import reference_torch as ref  # noqa: E402
import ruvector_training.torch as rtt  # noqa: E402

B, IN, D = 24, 10, 6


def make_model(dtype, dropout=0.3) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(IN, 16), torch.nn.GELU(), torch.nn.Dropout(dropout), torch.nn.Linear(16, D)
    )
    return model.to(dtype).train()


def data(dtype, rows=B):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(rows, IN, generator=g, dtype=dtype)
    return x, x + 0.3 * torch.randn(rows, IN, generator=g, dtype=dtype)


def grads(model):
    return [p.grad.detach().clone() for p in model.parameters()]


def plain(model, groups, chunk, **options):
    """Plain training: every chunk encoded with a graph (the same random draws as the cached
    pass), the loss written in torch, one backward."""
    outs = []
    for x in groups:
        outs.append(torch.cat([model(x[s : s + chunk]) for s in range(0, len(x), chunk)]))
    if len(outs) == 3:
        outs[2] = outs[2].view(outs[0].shape[0], -1, D)
    loss = ref.infonce(*outs, **options)
    loss.backward()
    return loss.detach(), grads(model)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("chunk", [5, 8, 24])
@pytest.mark.parametrize("symmetric", [False, True])
def test_cached_equals_plain_with_dropout(dtype, tol, chunk, symmetric):
    x, y = data(dtype)
    options = dict(temperature=0.1, symmetric=symmetric)
    model = make_model(dtype)
    torch.manual_seed(42)
    expected_loss, expected = plain(model, [x, y], chunk, **options)
    model.zero_grad()
    torch.manual_seed(42)
    cached = rtt.CachedInfoNCE(model, chunk_size=chunk, **options)
    loss = cached(x, y)
    loss.backward()
    torch.testing.assert_close(loss.detach(), expected_loss, rtol=tol, atol=tol)
    for ours, theirs in zip(grads(model), expected):
        torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol)


def test_replay_matters_dropout_is_active():
    x, y = data(torch.float64)
    model = make_model(torch.float64)
    torch.manual_seed(1)
    first = rtt.CachedInfoNCE(model, chunk_size=8)(x, y)
    torch.manual_seed(2)
    second = rtt.CachedInfoNCE(model, chunk_size=8)(x, y)
    assert abs(first.item() - second.item()) > 1e-6


def test_cached_equals_unchunked_without_dropout():
    x, y = data(torch.float64)
    model = make_model(torch.float64, dropout=0.0)
    loss = ref.infonce(model(x), model(y), temperature=0.05)
    loss.backward()
    expected = grads(model)
    model.zero_grad()
    ours = rtt.CachedInfoNCE(model, chunk_size=7, temperature=0.05)(x, y)
    (2.0 * ours).backward()
    torch.testing.assert_close(ours.detach(), loss.detach(), rtol=1e-10, atol=1e-12)
    for g, e in zip(grads(model), expected):
        torch.testing.assert_close(g, 2.0 * e, rtol=1e-10, atol=1e-12)


def test_cached_with_negatives_and_mapping_inputs():
    x, y = data(torch.float64)
    negatives = data(torch.float64, rows=2 * B)[0].flip(0)
    model = make_model(torch.float64)

    def encoder(batch):
        return model(batch["features"])

    torch.manual_seed(3)
    expected_loss, expected = plain(model, [x, y, negatives], 6, temperature=0.2, in_batch=False)
    model.zero_grad()
    torch.manual_seed(3)
    cached = rtt.CachedInfoNCE(encoder, chunk_size=6, temperature=0.2)
    loss = cached({"features": x}, {"features": y}, {"features": negatives}, in_batch=False)
    loss.backward()
    torch.testing.assert_close(loss.detach(), expected_loss, rtol=1e-10, atol=1e-12)
    for g, e in zip(grads(model), expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def test_bad_arguments():
    model = make_model(torch.float64)
    with pytest.raises(ValueError, match="chunk_size"):
        rtt.CachedInfoNCE(model, chunk_size=0)
    with pytest.raises(ValueError, match="reduction"):
        rtt.CachedInfoNCE(model, reduction="none")(*data(torch.float64))
    x, y = data(torch.float64)
    with pytest.raises(ValueError, match="negatives: expected a multiple"):
        rtt.CachedInfoNCE(model)(x, y, x[:5], in_batch=False)


def test_cached_inside_multi_objective_loss():
    import ruvector_training as rt

    x, y = data(torch.float64)
    scores = torch.linspace(0.0, 1.0, B, dtype=torch.float64)
    model = make_model(torch.float64)
    weights = rt.LossWeights(infonce=0.7, reconstruction=0.4)
    torch.manual_seed(5)
    u, v = model(x[:8]), model(y[:8])  # a second objective on its own forward
    outs = [torch.cat([model(t[s : s + 6]) for s in range(0, B, 6)]) for t in (x, y)]
    expected = 0.7 * ref.infonce(*outs, temperature=0.1) + 0.4 * ref.cosine_similarity(
        u, v, scores[:8]
    )
    expected.backward()
    expected_grads = grads(model)
    model.zero_grad()
    torch.manual_seed(5)
    u, v = model(x[:8]), model(y[:8])
    contrastive = rtt.CachedInfoNCE(model, chunk_size=6, temperature=0.1)(x, y)
    cosine = rtt.CosineSimilarityLoss()(u, v, scores[:8])
    total = rtt.MultiObjectiveLoss(weights)({"infonce": contrastive, "reconstruction": cosine})
    total.backward()
    torch.testing.assert_close(total.detach(), expected.detach(), rtol=1e-10, atol=1e-12)
    for g, e in zip(grads(model), expected_grads):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)
