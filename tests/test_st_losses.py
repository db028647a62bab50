"""``ruvector_training.sentence_transformers.losses`` against sentence-transformers' own losses
and against the same losses written in plain PyTorch, on a tiny BERT built from a config (no
download): values and parameter gradients, GradCache against the uncached loss, one step in
``SentenceTransformerTrainer``, and ``get_config_dict`` round trips."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip(
    "sentence_transformers",
    reason='needs pip install "ruvector-training[sentence-transformers]"',
)
datasets = pytest.importorskip("datasets", reason="needs datasets (sentence-transformers extra)")
torch = pytest.importorskip("torch", reason="needs PyTorch (sentence-transformers extra)")

from ruvector_training.sentence_transformers import losses as ours  # noqa: E402
from sentence_transformers import (  # noqa: E402
    SentenceTransformer,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
)
from sentence_transformers.sentence_transformer import losses as st_losses  # noqa: E402
from sentence_transformers.sentence_transformer.modules import Pooling, Transformer  # noqa: E402
from torch.nn import functional as F  # noqa: E402, N812
from transformers import BertConfig, BertModel, BertTokenizerFast  # noqa: E402

WORDS = (
    "a the cat dog sat on mat ran fast slow big small red blue car bus tree house sun moon "
    "bird sings fish swims green old new road city park"
).split()
TEXTS = [
    "the cat sat on the mat",
    "a dog ran fast",
    "the big red car",
    "a small blue bus",
    "the old tree house",
    "sun and moon",
    "a bird sings",
    "the fish swims fast",
    "a green park",
    "the new city road",
    "a slow old bus",
    "the small cat ran",
]
N = 12


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> SentenceTransformer:
    """A 2-layer BERT (hidden 32) with a WordPiece tokenizer written to a temporary folder."""
    folder = tmp_path_factory.mktemp("tiny_bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=5 + len(WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    transformer = Transformer(str(folder), max_seq_length=32)
    return SentenceTransformer(modules=[transformer, Pooling(32, "mean")], device="cpu")


def fresh(base_model, dtype=torch.float32) -> SentenceTransformer:
    """An independent copy of the tiny model in ``dtype`` with zeroed gradients."""
    model = copy.deepcopy(base_model).to(dtype)
    model.train()
    model.zero_grad(set_to_none=True)
    return model


def columns(k: int, rows: int = N) -> list[list[str]]:
    """``k`` text columns of ``rows`` rows: column ``c`` is TEXTS rotated by ``c * 5``."""
    return [[TEXTS[(i + 5 * c) % N] for i in range(rows)] for c in range(k)]


def features(model, cols):
    """One tokenized feature dict per column."""
    return [model.preprocess(col) for col in cols]


def grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_grads_close(g1, g2, atol):
    assert g1.keys() == g2.keys() and len(g1) > 10
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], atol=atol, rtol=1e-4, msg=name)


def embed(model, cols):
    return [model(f)["sentence_embedding"] for f in features(model, cols)]


def infonce_torch(embs, temperature):
    """MNRL / shared-layout InfoNCE in plain PyTorch: anchor i against every later column."""
    a = F.normalize(embs[0], dim=-1)
    c = F.normalize(torch.cat(embs[1:]), dim=-1)
    logits = a @ c.T / temperature
    return F.cross_entropy(logits, torch.arange(a.shape[0]))


def cosine_torch(embs, labels):
    return ((F.cosine_similarity(embs[0], embs[1], dim=-1) - labels) ** 2).mean()


LABELS = torch.linspace(0.0, 1.0, N)


def run(loss, model, cols, labels=None):
    """Value and parameter gradients of ``loss(features, labels)`` (a dict is summed)."""
    value = loss(features(model, cols), labels)
    if isinstance(value, dict):
        value = torch.stack(list(value.values())).sum()
    value.backward()
    return value.detach(), grads(model)


def reference(fn, model, cols):
    value = fn(embed(model, cols))
    value.backward()
    return value.detach(), grads(model)


@pytest.mark.parametrize("k", [2, 4])
def test_infonce_equals_mnrl_value_and_gradients(base_model, k):
    cols = columns(k)
    m1, m2 = fresh(base_model), fresh(base_model)
    v1, g1 = run(ours.InfoNCELoss(m1, temperature=0.05), m1, cols)
    v2, g2 = run(st_losses.MultipleNegativesRankingLoss(m2, scale=20.0), m2, cols)
    assert v1.dtype == torch.float32 and v1.item() > 0
    torch.testing.assert_close(v1, v2, atol=1e-5, rtol=1e-5)
    assert_grads_close(g1, g2, atol=1e-5)


def test_infonce_float64_equals_plain_torch(base_model):
    cols = columns(3)
    m1, m2 = fresh(base_model, torch.float64), fresh(base_model, torch.float64)
    v1, g1 = run(ours.InfoNCELoss(m1, temperature=0.1), m1, cols)
    v2, g2 = reference(lambda e: infonce_torch(e, 0.1), m2, cols)
    assert v1.dtype == torch.float64
    torch.testing.assert_close(v1, v2, atol=1e-12, rtol=1e-10)
    assert_grads_close(g1, g2, atol=1e-10)


@pytest.mark.parametrize("k", [2, 3])
def test_symmetric_infonce_equals_plain_torch(base_model, k):
    cols = columns(k)
    m1, m2 = fresh(base_model, torch.float64), fresh(base_model, torch.float64)
    v1, g1 = run(ours.InfoNCELoss(m1, temperature=0.05, symmetric=True), m1, cols)

    def both_ways(e):  # the reverse direction: positives against the anchors only
        return 0.5 * (infonce_torch(e, 0.05) + infonce_torch([e[1], e[0]], 0.05))

    v2, g2 = reference(both_ways, m2, cols)
    torch.testing.assert_close(v1, v2, atol=1e-12, rtol=1e-10)
    assert_grads_close(g1, g2, atol=1e-10)


@pytest.mark.parametrize("k", [2, 3])
def test_cached_equals_uncached(base_model, k):
    cols = columns(k)
    m1, m2 = fresh(base_model), fresh(base_model)
    v1, g1 = run(ours.CachedInfoNCELoss(m1, mini_batch_size=5, temperature=0.05), m1, cols)
    v2, g2 = run(ours.InfoNCELoss(m2, temperature=0.05), m2, cols)
    torch.testing.assert_close(v1, v2, atol=1e-6, rtol=1e-6)
    assert_grads_close(g1, g2, atol=1e-5)


def test_cached_without_grad_gives_the_value(base_model):
    cols = columns(2)
    m = fresh(base_model)
    with torch.no_grad():
        cached = ours.CachedInfoNCELoss(m, mini_batch_size=4)(features(m, cols), None)
        plain = ours.InfoNCELoss(m)(features(m, cols), None)
    assert not cached.requires_grad
    torch.testing.assert_close(cached, plain, atol=1e-6, rtol=1e-6)


def test_cosine_equals_sentence_transformers(base_model):
    cols = columns(2)
    m1, m2 = fresh(base_model), fresh(base_model)
    v1, g1 = run(ours.CosineSimilarityLoss(m1), m1, cols, LABELS)
    v2, g2 = run(st_losses.CosineSimilarityLoss(m2), m2, cols, LABELS)
    torch.testing.assert_close(v1, v2, atol=1e-6, rtol=1e-6)
    assert_grads_close(g1, g2, atol=1e-5)
    m3, m4 = fresh(base_model, torch.float64), fresh(base_model, torch.float64)
    v3, g3 = run(ours.CosineSimilarityLoss(m3), m3, cols, LABELS.double())
    v4, g4 = reference(lambda e: cosine_torch(e, LABELS.double()), m4, cols)
    torch.testing.assert_close(v3, v4, atol=1e-12, rtol=1e-10)
    assert_grads_close(g3, g4, atol=1e-10)


DIMS, WEIGHTS = (32, 16, 8), (1.0, 0.5, 0.25)


def test_matryoshka_equals_truncated_sum_and_sentence_transformers(base_model):
    cols = columns(3)
    m1, m2, m3 = fresh(base_model), fresh(base_model), fresh(base_model)
    loss = ours.MatryoshkaLoss(m1, ours.InfoNCELoss(m1), DIMS, WEIGHTS)
    v1, g1 = run(loss, m1, cols)

    def truncated(e):
        return sum(w * infonce_torch([x[:, :d] for x in e], 0.05) for d, w in zip(DIMS, WEIGHTS))

    v2, g2 = reference(truncated, m2, cols)
    torch.testing.assert_close(v1, v2, atol=1e-5, rtol=1e-5)
    assert_grads_close(g1, g2, atol=1e-5)
    st = st_losses.MatryoshkaLoss(
        m3, st_losses.MultipleNegativesRankingLoss(m3), list(DIMS), list(WEIGHTS)
    )
    v3, g3 = run(st, m3, cols)
    torch.testing.assert_close(v1, v3, atol=1e-5, rtol=1e-5)
    assert_grads_close(g1, g3, atol=1e-5)


def test_matryoshka_over_cosine_and_over_cached(base_model):
    cols = columns(2)
    m1, m2 = fresh(base_model, torch.float64), fresh(base_model, torch.float64)
    labels = LABELS.double()
    v1, g1 = run(ours.MatryoshkaLoss(m1, ours.CosineSimilarityLoss(m1), (8, 32)), m1, cols, labels)

    def truncated(e):
        return sum(cosine_torch([x[:, :d] for x in e], labels) for d in (8, 32))

    v2, g2 = reference(truncated, m2, cols)
    torch.testing.assert_close(v1, v2, atol=1e-12, rtol=1e-10)
    assert_grads_close(g1, g2, atol=1e-10)
    m3, m4 = fresh(base_model), fresh(base_model)
    cached = ours.MatryoshkaLoss(m3, ours.CachedInfoNCELoss(m3, mini_batch_size=5), DIMS, WEIGHTS)
    plain = ours.MatryoshkaLoss(m4, ours.InfoNCELoss(m4), DIMS, WEIGHTS)
    v3, g3 = run(cached, m3, cols)
    v4, g4 = run(plain, m4, cols)
    torch.testing.assert_close(v3, v4, atol=1e-6, rtol=1e-6)
    assert_grads_close(g3, g4, atol=1e-5)


def multi(model, cached=False, **options):
    info = (
        ours.CachedInfoNCELoss(model, mini_batch_size=5, temperature=0.1)
        if cached
        else ours.InfoNCELoss(model, temperature=0.1)
    )
    return ours.MultiObjectiveLoss(
        model, {"infonce": info, "cosine": ours.CosineSimilarityLoss(model)}, **options
    )


def test_multi_objective_fixed_weights(base_model):
    cols = columns(2)
    m1, m2 = fresh(base_model, torch.float64), fresh(base_model, torch.float64)
    labels = LABELS.double()
    loss = multi(m1, weights={"infonce": 1.0, "cosine": 0.3})
    terms = loss(features(m1, cols), labels)
    assert list(terms) == ["infonce", "cosine"]
    e = [x.detach() for x in embed(m2, cols)]
    torch.testing.assert_close(terms["infonce"], infonce_torch(e, 0.1), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(
        terms["cosine"], 0.3 * cosine_torch(e, labels), atol=1e-12, rtol=1e-10
    )
    loss.total(terms).backward()
    g1 = grads(m1)
    _, g2 = reference(lambda e: infonce_torch(e, 0.1) + 0.3 * cosine_torch(e, labels), m2, cols)
    assert_grads_close(g1, g2, atol=1e-10)


def test_multi_objective_uncertainty(base_model):
    cols = columns(2)
    m1, m2 = fresh(base_model, torch.float64), fresh(base_model, torch.float64)
    labels = LABELS.double()
    loss = multi(m1, adaptive="uncertainty")
    with torch.no_grad():
        loss.log_vars.copy_(torch.tensor([0.4, -0.7]))
    loss.total(loss(features(m1, cols), labels)).backward()
    s = torch.tensor([0.4, -0.7], dtype=torch.float64, requires_grad=True)

    def kendall(e):
        terms = [infonce_torch(e, 0.1), cosine_torch(e, labels)]
        return sum(torch.exp(-s[i]) * t + s[i] for i, t in enumerate(terms))

    _, g2 = reference(kendall, m2, cols)
    assert_grads_close({n: g for n, g in grads(m1).items() if n != "log_vars"}, g2, atol=1e-10)
    torch.testing.assert_close(loss.log_vars.grad.double(), s.grad, atol=1e-6, rtol=1e-6)


def gradnorm_torch(e, losses, w, initial, alpha, lr):
    """GradNorm (Chen et al. 2018) in plain PyTorch, on the gradients of the unweighted losses
    with respect to the embeddings ``e``: the updated weights (a float64 tensor)."""
    n = torch.stack(
        [
            torch.cat(
                [g.double().flatten() for g in torch.autograd.grad(l, e, retain_graph=True)]
            ).norm()
            for l in losses  # noqa: E741
        ]
    )
    values = torch.stack([l.detach().double() for l in losses])  # noqa: E741
    g = w * n
    rates = (values / initial) / (values / initial).mean()
    new = torch.clamp(w - lr * torch.sign(g - g.mean() * rates**alpha) * n, min=0.0)
    return new * (w.sum() / new.sum())


@pytest.mark.parametrize("cached", [False, True])
def test_multi_objective_gradnorm_equals_plain_torch(base_model, cached):
    """Two batches: each back-propagates the weighted sum with the current weights, then the
    weights take one GradNorm step; gradients and weights equal plain PyTorch's."""
    m1, m2 = fresh(base_model, torch.float64), fresh(base_model, torch.float64)
    labels = LABELS.double()
    alpha, lr = 0.8, 0.3
    loss = multi(
        m1, cached, weights={"infonce": 1.0, "cosine": 0.5}, adaptive="gradnorm", alpha=alpha, lr=lr
    )
    w = torch.tensor([1.0, 0.5], dtype=torch.float64)
    initial = None
    for cols in (columns(2), columns(2)[::-1]):
        m1.zero_grad(set_to_none=True)
        m2.zero_grad(set_to_none=True)
        terms = loss(features(m1, cols), labels)
        loss.total(terms).backward()
        e = embed(m2, cols)
        parts = [infonce_torch(e, 0.1), cosine_torch(e, labels)]
        if initial is None:
            initial = torch.stack([p.detach() for p in parts])
        for name, part, weight in zip(("infonce", "cosine"), parts, w):
            torch.testing.assert_close(terms[name], weight * part, atol=1e-10, rtol=1e-9)
        expected_w = gradnorm_torch(e, parts, w, initial, alpha, lr)
        (w[0] * parts[0] + w[1] * parts[1]).backward()
        assert_grads_close(grads(m1), grads(m2), atol=1e-9)
        w = expected_w
        assert loss.weights == pytest.approx(dict(zip(("infonce", "cosine"), w.tolist())))
        assert loss.weights != {"infonce": 1.0, "cosine": 0.5}
        assert sum(loss.weights.values()) == pytest.approx(1.5)
    assert loss.initial_losses == pytest.approx(dict(zip(("infonce", "cosine"), initial.tolist())))
    # Without gradients (evaluation) the weights stay.
    with torch.no_grad():
        loss(features(m1, columns(2)), labels)
    assert loss.weights == pytest.approx(dict(zip(("infonce", "cosine"), w.tolist())))
    assert "gradnorm" in loss.citation


def test_multi_objective_cached_equals_uncached(base_model):
    cols = columns(2)
    m1, m2 = fresh(base_model), fresh(base_model)
    v1, g1 = run(multi(m1, cached=True, weights={"infonce": 0.7, "cosine": 2.0}), m1, cols, LABELS)
    v2, g2 = run(multi(m2, weights={"infonce": 0.7, "cosine": 2.0}), m2, cols, LABELS)
    torch.testing.assert_close(v1, v2, atol=1e-6, rtol=1e-6)
    assert_grads_close(g1, g2, atol=1e-5)


def trainer_step(model, loss, dataset, tmp_path, lr=0.5):
    """One SGD step of ``SentenceTransformerTrainer`` on the whole data set as one batch;
    returns ``(before - after) / lr`` per parameter (the gradient it applied) and its logs."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=len(dataset),
        learning_rate=lr,
        optim="sgd",
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1e9,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    trainer.train()
    applied = {n: (before[n] - p.detach()) / lr for n, p in model.named_parameters()}
    return applied, trainer.state.log_history


def pairs_dataset(k=2, label=False):
    cols = columns(k)
    data = {name: col for name, col in zip(["anchor", "positive", "negative", "negative_2"], cols)}
    if label:
        data["label"] = LABELS.tolist()
    return datasets.Dataset.from_dict(data)


@pytest.mark.parametrize("kind", ["infonce", "cached", "cosine", "matryoshka", "multi", "gradnorm"])
def test_one_trainer_step_applies_the_plain_torch_gradient(base_model, tmp_path, kind):
    pytest.importorskip(
        "accelerate",
        reason="SentenceTransformerTrainer needs accelerate (sentence-transformers extra)",
    )
    m1, m2 = fresh(base_model), fresh(base_model)
    if kind == "infonce":
        loss, data = ours.InfoNCELoss(m1), pairs_dataset(3)
        fn = lambda e: infonce_torch(e, 0.05)  # noqa: E731
    elif kind == "cached":
        loss, data = ours.CachedInfoNCELoss(m1, mini_batch_size=5), pairs_dataset(3)
        fn = lambda e: infonce_torch(e, 0.05)  # noqa: E731
    elif kind == "cosine":
        loss, data = ours.CosineSimilarityLoss(m1), pairs_dataset(2, label=True)
        fn = lambda e: cosine_torch(e, LABELS)  # noqa: E731
    elif kind == "matryoshka":
        loss, data = ours.MatryoshkaLoss(m1, ours.InfoNCELoss(m1), DIMS, WEIGHTS), pairs_dataset(2)

        def fn(e):
            return sum(
                w * infonce_torch([x[:, :d] for x in e], 0.05) for d, w in zip(DIMS, WEIGHTS)
            )
    else:
        adaptive = "gradnorm" if kind == "gradnorm" else None
        loss = multi(m1, weights={"infonce": 1.0, "cosine": 0.5}, adaptive=adaptive)
        data = pairs_dataset(2, label=True)
        fn = lambda e: infonce_torch(e, 0.1) + 0.5 * cosine_torch(e, LABELS)  # noqa: E731
    applied, logs = trainer_step(m1, loss, data, tmp_path)
    value, expected = reference(fn, m2, columns(3 if kind in ("infonce", "cached") else 2))
    assert_grads_close({n: applied[n] for n in expected}, expected, atol=1e-5)
    step = next(entry for entry in logs if "loss" in entry)
    assert step["loss"] == pytest.approx(value.item(), abs=1e-4)
    if kind in ("multi", "gradnorm"):
        e = [x.detach() for x in embed(m2, columns(2))]
        assert step["infonce"] == pytest.approx(infonce_torch(e, 0.1).item(), abs=1e-4)
        assert step["cosine"] == pytest.approx(0.5 * cosine_torch(e, LABELS).item(), abs=1e-4)
    if kind == "gradnorm":
        # The step used the initial weights, then GradNorm moved them (sum kept).
        m3 = fresh(base_model)
        e = embed(m3, columns(2))
        parts = [infonce_torch(e, 0.1), cosine_torch(e, LABELS)]
        w = torch.tensor([1.0, 0.5], dtype=torch.float64)
        initial = torch.stack([p.detach().double() for p in parts])
        want = gradnorm_torch(e, parts, w, initial, 1.5, 0.025)
        assert list(loss.weights.values()) == pytest.approx(want.tolist(), rel=1e-5)


def test_get_config_dict_round_trips(base_model):
    m = fresh(base_model)
    info = ours.InfoNCELoss(m, temperature=0.2, similarity="dot", symmetric=True)
    assert info.get_config_dict() == {"temperature": 0.2, "similarity": "dot", "symmetric": True}
    cosine = ours.CosineSimilarityLoss(m)
    cached = ours.CachedInfoNCELoss(m, mini_batch_size=7, temperature=0.1)
    assert cached.get_config_dict()["mini_batch_size"] == 7
    for loss in (info, cosine, cached):
        again = type(loss)(m, **loss.get_config_dict())
        assert again.get_config_dict() == loss.get_config_dict()
        assert "@" in loss.citation
    mat = ours.MatryoshkaLoss(m, info, (32, 8), (1.0, 0.5))
    config = mat.get_config_dict()
    assert config["loss"] == "InfoNCELoss" and config["loss_config"] == info.get_config_dict()
    again = ours.MatryoshkaLoss(
        m, info, config["matryoshka_dims"], config["matryoshka_weights"]
    ).get_config_dict()
    assert again == config
    mo = ours.MultiObjectiveLoss(m, {"a": info, "b": cosine}, {"a": 1.0, "b": 0.25}, "uncertainty")
    config = mo.get_config_dict()
    assert config["losses"]["a"] == {"class": "InfoNCELoss", **info.get_config_dict()}
    again = ours.MultiObjectiveLoss(
        m, {"a": info, "b": cosine}, config["weights"], config["adaptive"]
    )
    assert again.get_config_dict() == config
    gn = ours.MultiObjectiveLoss(m, {"a": info}, adaptive="gradnorm", alpha=0.5, lr=0.1)
    config = gn.get_config_dict()
    assert (config["adaptive"], config["alpha"], config["lr"]) == ("gradnorm", 0.5, 0.1)
    losses = {"a": info}
    assert (
        ours.MultiObjectiveLoss(
            m, losses, **{k: v for k, v in config.items() if k != "losses"}
        ).get_config_dict()
        == config
    )


def test_bad_arguments_name_the_argument(base_model):
    m, other = fresh(base_model), fresh(base_model)
    info = ours.InfoNCELoss(m)
    with pytest.raises(ValueError, match="temperature"):
        ours.InfoNCELoss(m, temperature=0.0)
    with pytest.raises(ValueError, match="mini_batch_size"):
        ours.CachedInfoNCELoss(m, mini_batch_size=0)
    with pytest.raises(ValueError, match="matryoshka_dims"):
        ours.MatryoshkaLoss(m, info, (64,))
    with pytest.raises(ValueError, match="matryoshka_weights"):
        ours.MatryoshkaLoss(m, info, (32, 8), (1.0,))
    with pytest.raises(ValueError, match="another model"):
        ours.MatryoshkaLoss(other, info, (8,))
    with pytest.raises(TypeError, match="loss"):
        ours.MatryoshkaLoss(m, st_losses.MultipleNegativesRankingLoss(m), (8,))
    with pytest.raises(ValueError, match="weights"):
        ours.MultiObjectiveLoss(m, {"a": info}, weights={"b": 1.0})
    with pytest.raises(ValueError, match="adaptive"):
        ours.MultiObjectiveLoss(m, {"a": info}, adaptive="softmax")
    with pytest.raises(ValueError, match="^alpha"):
        ours.MultiObjectiveLoss(m, {"a": info}, adaptive="gradnorm", alpha=-1.0)
    with pytest.raises(ValueError, match="^lr"):
        ours.MultiObjectiveLoss(m, {"a": info}, adaptive="gradnorm", lr=0.0)
    with pytest.raises(ValueError, match="labels"):
        ours.CosineSimilarityLoss(m)(features(m, columns(2)), None)
    with pytest.raises(ValueError, match="2 columns"):
        info(features(m, columns(1)), None)


SCRIPT = """
import sys
sys.modules["sentence_transformers"] = None
try:
    import ruvector_training.sentence_transformers
except ImportError as error:
    print(error)
import ruvector_training
print(ruvector_training.InfoNCELoss.__name__)
"""


def test_import_without_sentence_transformers_names_the_extra():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].endswith('pip install "ruvector-training[sentence-transformers]"')
    assert out[1] == "InfoNCELoss"
