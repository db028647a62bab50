"""The pure helpers of ``examples/finetune_sts.py``: its STS-B reader and its batches without
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


def test_read_sts_keeps_seven_fields_and_stray_quotes(tmp_path):
    line = 'main-captions\tMSRvid\t2012test\t0001\t4.2\t"A man plays.\tA man is playing.\textra\n'
    path = tmp_path / "sts.csv"
    path.write_text(line + line.replace("4.2", "1.0").replace("\textra", ""), encoding="utf-8")
    assert finetune_sts.read_sts(path) == [
        (4.2, '"A man plays.', "A man is playing."),
        (1.0, '"A man plays.', "A man is playing."),
    ]
