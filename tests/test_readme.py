"""The README and docs/ run as written.

Every ```python block of README.md and docs/*.md is executed on its own, in a fresh namespace,
in a temporary working directory (so files the blocks write land there). A block that imports
torch is skipped, with the reason printed by ``-rs``, only when PyTorch is not installed; one
that imports sentence_transformers, only when a package of the sentence-transformers extra
(sentence-transformers, datasets, accelerate) is not installed.

Every command line of the ```bash blocks is checked too:

- ``ruvector-train ...`` lines run as ``python -m ruvector_training ...`` (the same entry point)
  against the package under test, with input paths taken relative to the repository root and
  outputs written to a temporary directory. Short commands (``demo``, ``--help``) run as written;
  training runs (``graph``) run with ``--epochs 2`` so they take seconds, which still checks that
  every path and option on the line is accepted.
- Command kinds deliberately not executed (listed in :data:`NOT_RUN` with the reason).

Any other command is a test failure, so a new kind of README command needs a decision here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ruvector_training

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: Command kinds found in the README's bash blocks that this test does not execute, by the
#: first words of the command, with the reason.
NOT_RUN = {
    ("pip", "install"): "installs packages into the running environment (and for the CPU-only "
    "torch line, from another machine's index); the tests run against the package already built",
    ("bash", "scripts/test.sh"): "the full test command itself: it builds the package and runs "
    "this test suite, so running it here would recurse",
    ("bash", "scripts/build-wheels.sh"): "builds release wheels (minutes of compilation); "
    "exercised by scripts/test.sh, which installs the wheel it builds",
    ("cargo",): "Rust toolchain commands (tests, benches, lints) are run by scripts/test.sh",
    ("python", "benches/"): "benchmarks take minutes and measure, they do not test",
    ("python", "examples/"): "the fine-tuning example downloads nothing but trains a transformer "
    "for minutes; its helpers are tested in tests/test_torch_example.py",
    ("HF_HUB_OFFLINE=1",): "the fine-tuning example (see above)",
    ("maturin",): "building the extension is done before the tests run",
}

#: Epochs for training commands (enough to exercise every stage of the run).
QUICK_EPOCHS = "2"


def blocks(language: str) -> list[tuple[str, str]]:
    """``(id, text)`` of every fenced block of ``language`` in :data:`DOCUMENTS`; the id is
    ``file:line`` of the opening fence."""
    found = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^```(\w*)[ \t]*\n(.*?)^```", text, flags=re.M | re.S):
            if match.group(1) == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append((f"{path.relative_to(REPO)}:{line}", match.group(2)))
    return found


def commands() -> list[tuple[str, str]]:
    """``(id, command)`` of every command in the bash blocks (``a && b`` gives two; lines
    ending in a backslash continue on the next)."""
    found = []
    for block_id, text in blocks("bash"):
        for line in text.replace("\\\n", " ").splitlines():  # join continuation lines
            line = line.split(" #")[0].strip()
            if not line or line.startswith("#"):
                continue
            for part in line.split("&&"):
                found.append((block_id, part.strip()))
    return found


PYTHON_BLOCKS = blocks("python")
COMMANDS = commands()


def test_documents_have_blocks():
    """The extraction finds what it should (a broken regex would silently test nothing)."""
    assert len([b for b in PYTHON_BLOCKS if b[0].startswith("README.md")]) >= 7
    assert any(b[0].startswith("docs/") for b in PYTHON_BLOCKS)
    assert any(c.startswith("ruvector-train graph") for _, c in COMMANDS)
    assert any(c == "ruvector-train demo" for _, c in COMMANDS)


@pytest.mark.parametrize(("block_id", "code"), PYTHON_BLOCKS, ids=[b[0] for b in PYTHON_BLOCKS])
def test_python_block_runs(block_id, code, tmp_path, monkeypatch):
    if re.search(r"^\s*(import torch|from torch|import ruvector_training\.torch)", code, re.M):
        pytest.importorskip("torch", reason=f"{block_id} needs PyTorch, which is not installed")
    if re.search(
        r"^\s*(import|from) (sentence_transformers|ruvector_training\.sentence_t)", code, re.M
    ):
        for module in ("sentence_transformers", "datasets", "accelerate"):
            pytest.importorskip(
                module,
                reason=f"{block_id} needs {module}: "
                'pip install "ruvector-training[sentence-transformers]"',
            )
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, block_id, "exec"), namespace)


def not_run_reason(command: str) -> str | None:
    words = shlex.split(command)
    for prefix, reason in NOT_RUN.items():
        if len(words) >= len(prefix) and all(
            w == p or (p.endswith("/") and w.startswith(p)) for w, p in zip(words, prefix)
        ):
            return reason
    return None


def test_every_command_has_a_kind():
    """Each bash command is either a ruvector-train call (run below) or a listed kind."""
    unknown = [
        (block_id, command)
        for block_id, command in COMMANDS
        if not command.startswith("ruvector-train") and not_run_reason(command) is None
    ]
    assert not unknown, f"classify these README commands in tests/test_readme.py: {unknown}"


def test_skipped_command_kinds_are_listed():
    """The commands not executed, with the reason (printed with ``pytest -s``)."""
    skipped = [(c, not_run_reason(c)) for _, c in COMMANDS if not c.startswith("ruvector-train")]
    for command, reason in skipped:
        print(f"not run: {command!r}: {reason}")
    assert all(reason for _, reason in skipped)


def quick_args(words: list[str], workdir: Path) -> list[str]:
    """The command's arguments for a test run: repository paths made absolute (outputs go to
    ``workdir``), and ``--epochs 2`` for training commands."""
    args = [str(REPO / w) if (REPO / w).exists() and "/" in w else w for w in words]
    if args and args[0] == "graph":
        if "--epochs" in args:
            args[args.index("--epochs") + 1] = QUICK_EPOCHS
        else:
            args += ["--epochs", QUICK_EPOCHS]
        if "--no-progress" not in args:
            args.append("--no-progress")
    return args


RUVECTOR_COMMANDS = [(i, c) for i, c in COMMANDS if c.startswith("ruvector-train")]


@pytest.mark.parametrize(
    ("block_id", "command"),
    RUVECTOR_COMMANDS,
    ids=[f"{i}:{c[:60]}" for i, c in RUVECTOR_COMMANDS],
)
def test_ruvector_train_command_runs(block_id, command, tmp_path):
    words = shlex.split(command)[1:]
    if "--plot" in words:
        pytest.importorskip("matplotlib", reason=f"{command!r} needs matplotlib for --plot")
    args = quick_args(words, tmp_path)
    package_root = str(Path(ruvector_training.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "ruvector_training", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    if args and args[0] in ("demo", "graph"):
        assert "link-prediction AUC" in result.stdout, result.stdout
    if "--out" in words:
        out = tmp_path / words[words.index("--out") + 1]
        embeddings = np.load(out, allow_pickle=False)
        assert embeddings.ndim == 2 and np.isfinite(embeddings).all()
    if "--plot" in words:
        assert (tmp_path / words[words.index("--plot") + 1]).stat().st_size > 0
