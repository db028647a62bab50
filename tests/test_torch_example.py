"""The pure helpers of ``examples/finetune_sts.py``: its STS-B pairs and its batches without
repeated texts (the training run itself is measured, not tested)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (optional extra 'torch')")
pytest.importorskip("transformers", reason="transformers is not installed (extra 'examples')")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "finetune_sts.py"
spec = importlib.util.spec_from_file_location("finetune_sts", EXAMPLE)
finetune_sts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(finetune_sts)


def test_batches_have_no_repeated_text_and_are_full():
    pairs = [("a", "b"), ("A ", "c"), ("d", "e"), ("f", "b"), ("g", "h"), ("i", "j"), ("k", "l")]
    batches = finetune_sts.batches_without_duplicates(pairs, 3, np.random.default_rng(0))
    assert batches and all(len(batch) == 3 for batch in batches)
    used = [pair for batch in batches for pair in batch]
    assert len(used) == len(set(used))
    for batch in batches:
        texts = [t.strip().lower() for pair in batch for t in pair]
        assert len(texts) == len(set(texts))


def test_sts_pairs_come_from_the_shipped_benchmark():
    train, test = finetune_sts.sts_pairs("train"), finetune_sts.sts_pairs("test")
    assert (len(train), len(test)) == (5749, 1379)
    assert train[0] == (5.0, "A plane is taking off.", "An air plane is taking off.")
    assert sum(score >= 4.0 for score, _, _ in test) == 338  # the retrieval queries
