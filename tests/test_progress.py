"""Training progress on stderr: a tqdm bar on a terminal, sparse plain lines (no carriage
returns) when stderr is a log file or a pipe."""

from __future__ import annotations

import io
import sys

import pytest
from ruvector_training.synthetic import planted_partition
from ruvector_training.trainer import Trainer
from ruvector_training.trainer_config import TrainerConfig


def small_trainer() -> Trainer:
    edges, labels = planted_partition(3, 20, p_in=0.3, p_out=0.02, seed=1)
    config = TrainerConfig(dim=8, epochs=25, batch_size=16, num_negatives=0, seed=0)
    return Trainer(len(labels), edges, config)


def test_non_terminal_stderr_gets_sparse_lines(capsys):
    trainer = small_trainer()
    trainer.fit()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    # Every ceil(25 / 10) = 3 epochs, and the last one.
    assert [line.split(",")[0] for line in lines] == [
        f"training: epoch {e}/25" for e in (3, 6, 9, 12, 15, 18, 21, 24, 25)
    ]
    assert all(" loss " in line and line.endswith(" s)") for line in lines)


def test_sparse_lines_on_early_stop_and_few_epochs(capsys):
    trainer = small_trainer()
    trainer.fit(7, callbacks=[lambda t, m: m.epoch == 4])
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "training: epoch 1/7",
        "training: epoch 2/7",
        "training: epoch 3/7",
        "training: epoch 4/7",
    ]
    trainer.fit(2, progress=False)
    assert capsys.readouterr().err == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_stderr_gets_a_tqdm_bar(monkeypatch):
    stream = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", stream)
    small_trainer().fit(5)
    assert "\r" in stream.getvalue() and "training" in stream.getvalue()


@pytest.mark.parametrize("total", [1, 9, 10, 11, 200, 1000])
def test_line_count_is_about_ten(total):
    from ruvector_training.trainer import _LineProgress

    stream = io.StringIO()
    progress = _LineProgress(total, stream=stream)
    for _ in range(total):
        progress.update(1)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) <= 11 and lines[-1].startswith(f"training: epoch {total}/{total} (")
