"""``ruvector_training.sentence_transformers.mine_hard_negatives`` equals sentence-transformers'
``mine_hard_negatives`` on the same embeddings for the shared options, every row satisfies its
filters, and the result does not depend on the thread count."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip(
    "sentence_transformers",
    reason='needs pip install "ruvector-training[sentence-transformers]"',
)
datasets = pytest.importorskip("datasets", reason="needs datasets (sentence-transformers extra)")
torch = pytest.importorskip("torch", reason="needs PyTorch (sentence-transformers extra)")

from ruvector_training.sentence_transformers import (  # noqa: E402
    mine_hard_negatives,
    mining_corpus,
)
from sentence_transformers.util import (  # noqa: E402
    cos_sim,
    pairwise_cos_sim,
)
from sentence_transformers.util import (  # noqa: E402
    mine_hard_negatives as st_mine_hard_negatives,
)


class TableModel:
    """A stand-in SentenceTransformer whose embeddings come from a fixed table."""

    device = torch.device("cpu")

    def __init__(self, table):
        self.table = table

    def encode(self, texts, normalize_embeddings=True, **_):
        e = np.stack([self.table[t] for t in texts]).astype(np.float32)
        return e / np.linalg.norm(e, axis=1, keepdims=True) if normalize_embeddings else e

    encode_query = encode_document = encode

    def similarity(self, a, b):
        return cos_sim(a, b)

    def similarity_pairwise(self, a, b):
        return pairwise_cos_sim(a, b)


def toy(seed=0, n=40, dim=8):
    """40 rows over 30 distinct anchors (some with 2 positives), an extra corpus of 60 texts
    overlapping the positives, and a random embedding per text."""
    rng = np.random.default_rng(seed)
    anchors = [f"q{i % 30}" for i in range(n)]
    positives = [f"d{rng.integers(0, 35)}" for _ in range(n)]
    extra = [f"d{i}" for i in range(20, 80)]
    table = {
        t: rng.standard_normal(dim).astype(np.float32)
        for t in sorted(set(anchors) | set(positives) | set(extra))
    }
    dataset = datasets.Dataset.from_dict({"anchor": anchors, "positive": positives})
    return dataset, extra, table


def ours(dataset, corpus, table, **options):
    anchor_embeddings = np.stack([table[t] for t in dataset["anchor"]])
    corpus_embeddings = np.stack([table[t] for t in mining_corpus(dataset, corpus=corpus)])
    return mine_hard_negatives(
        dataset,
        anchor_embeddings=anchor_embeddings,
        corpus_embeddings=corpus_embeddings,
        corpus=corpus,
        **options,
    )


OPTIONS = [
    {},
    {"range_min": 2, "range_max": 12},
    {"absolute_margin": 0.1},
    {"relative_margin": 0.05, "max_score": 0.8},
    {"min_score": 0.2, "num_negatives": 5},
    {"include_positives": True},
]
FORMATS = ["triplet", "n-tuple", "labeled-pair", "labeled-list"]


def flat(values):
    return np.hstack([np.ravel(v) for v in values]) if values else np.zeros(0)


@pytest.mark.parametrize("use_corpus", [False, True])
def test_equals_sentence_transformers(use_corpus):
    dataset, extra, table = toy()
    corpus = extra if use_corpus else None
    model = TableModel(table)
    checked = 0
    for fmt, scores, options in itertools.product(FORMATS, [False, True], OPTIONS):
        kwargs = dict(corpus=corpus, output_format=fmt, output_scores=scores, **options)
        expected = st_mine_hard_negatives(dataset, model, verbose=False, **kwargs).to_dict()
        got = ours(dataset, corpus, table, **{k: v for k, v in kwargs.items() if k != "corpus"})
        got = got.to_dict()
        assert list(got) == list(expected), kwargs
        for key in expected:
            if key in ("scores", "score"):
                np.testing.assert_allclose(flat(got[key]), flat(expected[key]), atol=1e-5)
            else:
                assert got[key] == expected[key], (key, kwargs)
        checked += len(expected["anchor"])
    assert checked > 1000


def test_model_path_equals_precomputed_embeddings():
    dataset, extra, table = toy(seed=1)
    from_model = mine_hard_negatives(dataset, TableModel(table), corpus=extra, output_scores=True)
    precomputed = ours(dataset, extra, table, output_scores=True)
    assert from_model["negative"] == precomputed["negative"]
    np.testing.assert_allclose(flat(from_model["scores"]), flat(precomputed["scores"]), atol=1e-6)


def cosine(table, a, b):
    x, y = table[a], table[b]
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.mark.parametrize("strategy", ["top", "random"])
def test_every_row_satisfies_its_filters(strategy):
    dataset, extra, table = toy(seed=2)
    positives_of: dict[str, set] = {}
    for a, p in zip(dataset["anchor"], dataset["positive"]):
        positives_of.setdefault(a, set()).add(p)
    out = ours(
        dataset,
        extra,
        table,
        sampling_strategy=strategy,
        absolute_margin=0.05,
        min_score=-0.5,
        max_score=0.9,
        num_negatives=4,
        range_min=1,
        output_scores=True,
    )
    assert len(out) > 50
    for a, p, n, (sp, sn) in zip(out["anchor"], out["positive"], out["negative"], out["scores"]):
        assert n not in positives_of[a]
        assert sn == pytest.approx(cosine(table, a, n), abs=1e-5)
        assert sp == pytest.approx(cosine(table, a, p), abs=1e-5)
        min_positive = min(cosine(table, a, q) for q in positives_of[a])
        assert sn + 0.05 <= min_positive + 1e-6
        assert -0.5 - 1e-6 <= sn <= 0.9 + 1e-6


def test_random_is_seeded():
    dataset, extra, table = toy(seed=3)
    first = ours(dataset, extra, table, sampling_strategy="random", range_max=20, seed=5)
    again = ours(dataset, extra, table, sampling_strategy="random", range_max=20, seed=5)
    other = ours(dataset, extra, table, sampling_strategy="random", range_max=20, seed=6)
    assert first["negative"] == again["negative"] and first["negative"] != other["negative"]
    top = ours(dataset, extra, table, range_max=20)
    assert first["negative"] != top["negative"]


SCRIPT = """
import sys, json
sys.path.insert(0, {tests!r})
from test_st_mining import thread_case
print(json.dumps([thread_case(s) for s in ("top", "random")]))
"""


def thread_case(strategy):
    dataset, extra, table = toy(seed=4, n=200, dim=16)
    out = ours(
        dataset,
        extra,
        table,
        sampling_strategy=strategy,
        output_format="n-tuple",
        range_max=30,
        output_scores=True,
    )
    return out.to_dict()


def test_same_result_on_1_thread_as_on_all():
    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, RAYON_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    one = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(tests=tests)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    here = json.dumps([thread_case(s) for s in ("top", "random")])
    assert one.strip() == here and len(here) > 1000


def test_corpus_rule_and_bad_arguments():
    dataset = datasets.Dataset.from_dict({"q": ["a", "b", "a"], "p": ["x", "y", "z"]})
    assert mining_corpus(dataset) == ["x", "y", "z"]
    assert mining_corpus(dataset, corpus=["y", "w", "w"]) == ["y", "w", "x", "z"]
    emb = np.eye(3, 4, dtype=np.float32)
    with pytest.raises(ValueError, match="model"):
        mine_hard_negatives(dataset)
    with pytest.raises(ValueError, match="corpus_embeddings"):
        mine_hard_negatives(dataset, anchor_embeddings=emb, corpus_embeddings=emb[:2])
    with pytest.raises(ValueError, match="output_format"):
        mine_hard_negatives(
            dataset, anchor_embeddings=emb, corpus_embeddings=emb, output_format="x"
        )
    with pytest.raises(ValueError, match="num_negatives"):
        mine_hard_negatives(dataset, anchor_embeddings=emb, corpus_embeddings=emb, num_negatives=0)
    with pytest.raises(ValueError, match="range_min"):
        mine_hard_negatives(
            dataset, anchor_embeddings=emb, corpus_embeddings=emb, range_min=3, range_max=3
        )
