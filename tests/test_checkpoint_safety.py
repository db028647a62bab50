"""Checkpoints that cannot lose or corrupt state: atomic saves (a failed save leaves the previous
file byte for byte), strict validation of everything Trainer.load reads (one ValueError naming
the file and the key), exact resume after an epoch interrupted mid-way, and divergence
detection."""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import ruvector_training as rt
from ruvector_training import checkpoint
from ruvector_training._atomic import atomic_write
from ruvector_training.checkpoint import STATE_KEY, load_checkpoint, save_checkpoint
from ruvector_training.synthetic import planted_partition
from ruvector_training.trainer import Trainer, TrainingDivergedError
from ruvector_training.trainer_config import TrainerConfig

HAS_MINER = hasattr(rt._core, "HardNegativeMiner")
needs_miner = pytest.mark.skipif(not HAS_MINER, reason="HardNegativeMiner is not built yet")
PYTHON_DIR = Path(rt.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sbm():
    """4 blocks of 40 nodes: 160 anchors, 3 batches of at most 64 per epoch."""
    edges, labels = planted_partition(4, 40, p_in=0.2, p_out=0.01, seed=3)
    return len(labels), edges


def make_trainer(n, edges, mode="table", **changes):
    config = {"dim": 16, "epochs": 6, "batch_size": 64, "seed": 7, "max_grad_norm": 5.0}
    kwargs = {}
    features = None
    if mode == "mining":
        config.update(mine_every=2, mining_strategy="mixed")
        kwargs["curriculum"] = rt.CurriculumScheduler(
            [
                rt.CurriculumStage("a", 2, 0.5, 2, {"infonce": 1.0, "local": 0.2}),
                rt.CurriculumStage("b", 4, 0.2, 3, None),
            ]
        )
    else:
        kwargs["temperature_scheduler"] = rt.TemperatureScheduler(
            rt.AnnealingSchedule.cosine(0.5, 0.1, 6)
        )
    if mode == "adapter":
        features = np.random.default_rng(1).standard_normal((n, 10))
    config.update(changes)
    return Trainer(n, edges, TrainerConfig(**config), features=features, **kwargs)


def assert_same_state(a: Trainer, b: Trainer) -> None:
    assert a.epoch == b.epoch
    assert np.array_equal(a.params, b.params)
    assert [m.loss for m in a.history] == [m.loss for m in b.history]
    assert [m.components for m in a.history] == [m.components for m in b.history]
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["step"] == sb["step"]
    for x, y in zip(sa["state"], sb["state"]):
        assert sorted(x) == sorted(y)
        assert all(np.array_equal(x[key], y[key]) for key in x)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    if a.negatives is None:
        assert b.negatives is None
    else:
        assert np.array_equal(a.negatives, b.negatives)


# --------------------------------------------------------------------------- atomic saves
def test_atomic_write_failure_keeps_previous_file(tmp_path):
    path = tmp_path / "data.bin"
    atomic_write(path, lambda handle: handle.write(b"good content"))
    assert path.read_bytes() == b"good content"

    def failing(handle):
        handle.write(b"partial new")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, failing)
    assert path.read_bytes() == b"good content"
    assert os.listdir(tmp_path) == ["data.bin"]

    def interrupted(handle):
        handle.write(b"x" * 1000)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert path.read_bytes() == b"good content"
    assert os.listdir(tmp_path) == ["data.bin"]


def test_atomic_write_modes_directories_and_links(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    fresh = tmp_path / "fresh.bin"
    atomic_write(fresh, lambda handle: handle.write(b"1"))
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask
    private = tmp_path / "private.bin"
    private.write_bytes(b"old")
    private.chmod(0o600)
    atomic_write(private, lambda handle: handle.write(b"new"))
    assert private.read_bytes() == b"new" and stat.S_IMODE(private.stat().st_mode) == 0o600
    link = tmp_path / "link.bin"
    link.symlink_to(private)
    atomic_write(link, lambda handle: handle.write(b"via link"))
    assert link.is_symlink() and private.read_bytes() == b"via link"
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path, lambda handle: handle.write(b"1"))
    assert sorted(os.listdir(tmp_path)) == ["fresh.bin", "link.bin", "private.bin"]


def test_failed_trainer_save_keeps_previous_checkpoint(sbm, tmp_path, monkeypatch):
    n, edges = sbm
    trainer = make_trainer(n, edges)
    path = tmp_path / "ck.npz"
    trainer.save(path)
    good = path.read_bytes()
    trainer.fit(1, progress=False)

    def disk_full(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        trainer.save(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ck.npz"]
    monkeypatch.undo()
    assert Trainer.load(path).epoch == 0


def test_save_under_file_size_limit_keeps_previous_checkpoint(sbm, tmp_path):
    """A real write failure: RLIMIT_FSIZE (``ulimit -f``) makes the kernel refuse the write
    with EFBIG halfway through the archive."""
    n, edges = sbm
    small = make_trainer(n, edges, dim=4)
    path = tmp_path / "ck.npz"
    small.save(path)
    good = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(PYTHON_DIR)!r})
        from ruvector_training.synthetic import planted_partition
        from ruvector_training.trainer import Trainer
        from ruvector_training.trainer_config import TrainerConfig
        edges, labels = planted_partition(4, 40, p_in=0.2, p_out=0.01, seed=3)
        trainer = Trainer(len(labels), edges, TrainerConfig(dim=512))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(good) + 4096}, resource.RLIM_INFINITY))
        try:
            trainer.save({str(path)!r})
        except OSError as error:
            print("OSError", error.errno)
        else:
            print("saved")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["OSError", str(errno.EFBIG)]
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ck.npz"]


# ------------------------------------------------------------------------ damaged files
def damaged_files(tmp_path: Path, good: bytes) -> dict[str, tuple[Path, str]]:
    cases = {}

    def add(name, content, match):
        path = tmp_path / name
        path.write_bytes(content)
        cases[name] = (path, match)

    add("truncated.npz", good[: len(good) // 2], "damaged checkpoint")
    add("tail.npz", good[:-30], "damaged checkpoint")
    add("random.npz", np.random.default_rng(0).bytes(4096), "not a zip archive")
    add("empty.npz", b"", "empty file")
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros((3, 2)))
    add("renamed.npz", npy.read_bytes(), r"single \.npy array")
    np.savez(tmp_path / "nojson.npz", params=np.zeros(3))
    cases["nojson.npz"] = (tmp_path / "nojson.npz", f"no {STATE_KEY} document")
    np.savez(tmp_path / "badjson.npz", **{STATE_KEY: np.frombuffer(b"{nope", np.uint8)})
    cases["badjson.npz"] = (tmp_path / "badjson.npz", "invalid JSON")
    np.savez(tmp_path / "list.npz", **{STATE_KEY: np.frombuffer(b"[1, 2]", np.uint8)})
    cases["list.npz"] = (tmp_path / "list.npz", "is a list, not an object")
    corrupt = bytearray(good)
    start = len(good) // 3
    corrupt[start : start + 64] = bytes(64)
    add("corrupt.npz", bytes(corrupt), "damaged checkpoint")
    with zipfile.ZipFile(tmp_path / "text.npz", "w") as archive:
        archive.writestr(f"{STATE_KEY}.npy", b"not an npy member")
    cases["text.npz"] = (tmp_path / "text.npz", "damaged checkpoint")
    return cases


def test_damaged_files_give_one_value_error(sbm, tmp_path):
    n, edges = sbm
    trainer = make_trainer(n, edges)
    trainer.fit(1, progress=False)
    trainer.save(tmp_path / "good.npz")
    good = (tmp_path / "good.npz").read_bytes()
    for name, (path, match) in damaged_files(tmp_path, good).items():
        with pytest.raises(Exception) as info:
            Trainer.load(path)
        assert type(info.value) is ValueError, (name, repr(info.value))
        message = str(info.value)
        assert message.startswith(str(path)), (name, message)
        assert re.search(match, message), (name, message)
    with pytest.raises(FileNotFoundError):
        Trainer.load(tmp_path / "missing.npz")


# --------------------------------------------------------------------- strict validation
def rewrite(path: Path, out: Path, change) -> Path:
    arrays, state = load_checkpoint(path)
    change(arrays, state)
    save_checkpoint(out, arrays, state)
    return out


def _set(container, key, value):
    def change(arrays, state):
        (arrays if container == "arrays" else state)[key] = value

    return change


def _config(key, value):
    def change(arrays, state):
        state["config"][key] = value

    return change


def _drop(container, key):
    def change(arrays, state):
        del (arrays if container == "arrays" else state)[key]

    return change


def _history(key, value):
    def change(arrays, state):
        state["history"][0][key] = value

    return change


N = 160
BAD_CHECKPOINTS = {
    "params broadcast": (
        _set("arrays", "params", np.zeros((1, 16), np.float32)),
        r"params: expected shape \(160, 16\), got \(1, 16\)",
    ),
    "params int": (
        _set("arrays", "params", np.zeros((N, 16), np.int32)),
        "params: expected dtype float32",
    ),
    "params float64": (
        _set("arrays", "params", np.zeros((N, 16))),
        "params: expected dtype float32",
    ),
    "params nan": (
        _set("arrays", "params", np.full((N, 16), np.nan, np.float32)),
        "params: contains NaN",
    ),
    "epoch string": (_set("state", "epoch", "three"), "epoch: expected an integer, got str"),
    "epoch negative": (_set("state", "epoch", -1), "epoch: expected an integer >= 0"),
    "epoch float": (_set("state", "epoch", 1.0), "epoch: expected an integer, got float"),
    "num_nodes": (_set("state", "num_nodes", "160"), "num_nodes: expected an integer"),
    "negatives shape": (
        _set("arrays", "negatives", np.zeros((N,), np.int64)),
        r"negatives: expected shape \(160, \*\)",
    ),
    "negatives rows": (
        _set("arrays", "negatives", np.zeros((5, 2), np.int64)),
        r"negatives: expected shape \(160, \*\), got \(5, 2\)",
    ),
    "negatives range": (
        _set("arrays", "negatives", np.full((N, 2), N, np.int64)),
        r"negatives: values must be in \[-1, 160\)",
    ),
    "negatives float": (
        _set("arrays", "negatives", np.zeros((N, 2))),
        "negatives: expected an integer array",
    ),
    "negatives no columns": (_set("arrays", "negatives", np.zeros((N, 0), np.int64)), "K >= 1"),
    "threshold type": (
        _set("state", "negatives_threshold", "high"),
        "negatives_threshold: expected a number",
    ),
    "config dim": (_config("dim", "16"), "config: dim: expected an integer"),
    "config unknown": (_config("depth", 3), "config: .*depth"),
    "config not dict": (_set("state", "config", [1]), "config: expected an object"),
    "format": (_set("state", "format", 99), "format: unknown checkpoint format 99"),
    "format bool": (_set("state", "format", True), "format: unknown checkpoint format True"),
    "missing rng": (_drop("state", "rng"), "rng: missing"),
    "missing params": (_drop("arrays", "params"), "params: the array is missing"),
    "missing edges": (_drop("arrays", "edges"), "edges: the array is missing"),
    "unknown key": (_set("state", "extra", 1), "extra: unknown key"),
    "unknown array": (_set("arrays", "junk", np.zeros(2)), "junk: unknown array"),
    "rng kind": (_set("state", "rng", {"bit_generator": "MT19937"}), "rng: expected a PCG64 state"),
    "rng value": (_set("state", "rng", {"bit_generator": "PCG64", "state": 5}), "rng:"),
    "weights": (
        _set("state", "objective_weights", {"infonce": -1.0}),
        "objective_weights: infonce",
    ),
    "weights key": (_set("state", "objective_weights", {"bogus": 1.0}), "objective_weights:"),
    "history type": (_set("state", "history", {}), "history: expected a list"),
    "history epoch": (_history("epoch", "1"), r"history\[0\]\['epoch'\]: expected an integer"),
    "history loss": (_history("loss", "low"), r"history\[0\]\['loss'\]: expected a number"),
    "history field": (_history("colour", 1), r"history\[0\]\['colour'\]: unknown field"),
    "history extra": (_history("extra", {"auc": "x"}), r"history\[0\]\['extra'\]\['auc'\]"),
    "scheduler": (_set("state", "schedulers", {"warmup": {}}), r"schedulers\['warmup'\]: unknown"),
    "scheduler state": (
        _set("state", "schedulers", {"temperature_scheduler": {"type": "x"}}),
        r"schedulers\['temperature_scheduler'\]",
    ),
    "edges": (_set("arrays", "edges", np.array([[0, 999]])), "edges: node indices"),
    "edges float": (_set("arrays", "edges", np.array([[0.0, 1.0]])), "edges: expected an integer"),
    "optimizer buffer": (
        _drop("arrays", "opt/0/exp_avg"),
        "opt/0/exp_avg: the optimizer buffer array is missing",
    ),
    "optimizer shape": (
        _set("arrays", "opt/0/exp_avg", np.zeros((1, 16), np.float32)),
        r"optimizer: .*exp_avg.*shape",
    ),
    "optimizer dtype": (
        _set("arrays", "opt/0/exp_avg", np.zeros((N, 16))),
        r"optimizer: .*exp_avg.*dtype",
    ),
    "optimizer class": (lambda a, s: s["optimizer"].update(optimizer="SGD"), "optimizer: .*SGD"),
    "optimizer buffers": (
        lambda a, s: s["optimizer"].update(buffers="exp_avg"),
        r"optimizer\['buffers'\]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_load_rejects_invalid_values(sbm, tmp_path, case):
    n, edges = sbm
    trainer = make_trainer(n, edges, num_negatives=2, mining_strategy="random")
    if not HAS_MINER:
        trainer = make_trainer(n, edges)
    trainer.fit(1, progress=False)
    good = tmp_path / "good.npz"
    trainer.save(good)
    change, match = BAD_CHECKPOINTS[case]
    if case.startswith(("negatives", "threshold")) and trainer.negatives is None:
        pytest.skip("needs the miner")
    bad = rewrite(good, tmp_path / "bad.npz", change)
    with pytest.raises(Exception) as info:
        Trainer.load(bad)
    assert type(info.value) is ValueError, repr(info.value)
    message = str(info.value)
    assert message.startswith(f"{bad}: invalid checkpoint: "), message
    assert re.search(match, message), message


def _legacy_schedulers(arrays, state):
    """The scheduler states as versions before the one scheduler contract wrote them: tagged
    "type", the curriculum's counter under "position", the loss weights' under "epoch"."""
    legacy_counter = {"CurriculumScheduler": "position", "LossWeightScheduler": "epoch"}
    for name, scheduler in state["schedulers"].items():
        kind = scheduler.pop("scheduler")
        step = scheduler.pop("step")
        state["schedulers"][name] = {
            "type": kind,
            **scheduler,
            legacy_counter.get(kind, "step"): step,
        }


@pytest.mark.parametrize("mode", ["table", "mining"])
def test_checkpoints_with_pre_contract_scheduler_states_resume_exactly(sbm, tmp_path, mode):
    n, edges = sbm
    if mode == "mining" and not HAS_MINER:
        pytest.skip("needs the miner")
    straight = make_trainer(n, edges, mode)
    straight.fit(4, progress=False)
    first = make_trainer(n, edges, mode)
    first.fit(2, progress=False)
    first.save(tmp_path / "new.npz")
    old = rewrite(tmp_path / "new.npz", tmp_path / "old.npz", _legacy_schedulers)
    assert '"type"' in str(load_checkpoint(old)[1]["schedulers"]).replace("'", '"')
    resumed = Trainer.load(old)
    for name in ("curriculum", "temperature_scheduler"):
        ours, theirs = getattr(resumed, name), getattr(first, name)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours.state_dict() == theirs.state_dict() and ours.step_count == 2
    resumed.fit(2, progress=False)
    assert_same_state(resumed, straight)


# ------------------------------------------------------------------ interrupted epochs
class Interrupt(BaseException):
    """Raised from a patched step (a stand-in for KeyboardInterrupt / SIGINT)."""


def interrupt_on_call(trainer: Trainer, method: str, call: int, error=KeyboardInterrupt):
    """Makes the ``call``-th call of ``trainer.<method>`` raise ``error`` (before doing it)."""
    real = getattr(trainer, method)
    calls = [0]

    def patched(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            if error == "sigint":
                signal.raise_signal(signal.SIGINT)  # delivered like a Ctrl-C mid-epoch
                for _ in range(1000):  # the handler runs between bytecodes
                    pass
            raise error()
        return real(*args, **kwargs)

    setattr(trainer, method, patched)
    return lambda: delattr(trainer, method)


class StepThenInterrupt:
    """Wraps an optimizer so the ``call``-th step is applied and then KeyboardInterrupt is
    raised (an interrupt delivered just as the kernel returns)."""

    def __init__(self, inner, call: int) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_left", call)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        setattr(self._inner, name, value)

    def step(self, grads):
        norm = self._inner.step(grads)
        object.__setattr__(self, "_left", self._left - 1)
        if self._left == 0:
            raise KeyboardInterrupt
        return norm


MODES = ["table", "adapter", pytest.param("mining", marks=needs_miner)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", ["before step", "sigint", "after step"])
def test_interrupted_epoch_resumes_exactly(sbm, tmp_path, mode, where):
    n, edges = sbm
    straight = make_trainer(n, edges, mode)
    straight.fit(6, progress=False)
    first = make_trainer(n, edges, mode)
    if where == "after step":
        # 3 epochs of 3 batches, then the 2nd step of epoch 4 is applied and interrupted.
        real = first.optimizer
        first.optimizer = StepThenInterrupt(real, 3 * 3 + 2)
        with pytest.raises(KeyboardInterrupt):
            first.fit(6, progress=False)
        first.optimizer = real
        done = 2
    else:
        # The 2nd batch of epoch 4 (the 11th call) is interrupted before its step.
        error = "sigint" if where == "sigint" else KeyboardInterrupt
        restore = interrupt_on_call(first, "_step", 3 * 3 + 2, error)
        with pytest.raises(KeyboardInterrupt):
            first.fit(6, progress=False)
        restore()
        done = 1
    assert first.epoch == 3 and len(first.history) == 3
    assert first.epoch_position == (done, 3)
    assert first.optimizer.step_count == 3 * 3 + done
    path = tmp_path / "interrupted.npz"
    first.save(path)
    resumed = Trainer.load(path)
    assert resumed.epoch_position == (done, 3)
    assert resumed.fit(progress=False)[0].epoch == 4
    assert_same_state(resumed, straight)
    # Continuing in the same process is just as exact.
    first.fit(3, progress=False)
    assert_same_state(first, straight)


@needs_miner
def test_interrupted_mining_leaves_epoch_unstarted(sbm):
    n, edges = sbm
    straight = make_trainer(n, edges, "mining")
    straight.fit(6, progress=False)
    first = make_trainer(n, edges, "mining")
    first.fit(2, progress=False)
    rng_state = first.rng.bit_generator.state
    negatives = first.negatives.copy()
    restore = interrupt_on_call(first, "_mine", 1)
    with pytest.raises(KeyboardInterrupt):
        first.train_epoch()
    restore()
    assert first.epoch_position is None and first.rng.bit_generator.state == rng_state
    assert np.array_equal(first.negatives, negatives)
    first.fit(4, progress=False)
    assert_same_state(first, straight)


def test_old_checkpoint_without_progress_loads(sbm, tmp_path):
    n, edges = sbm
    trainer = make_trainer(n, edges)
    trainer.fit(2, progress=False)
    trainer.save(tmp_path / "a.npz")
    old = rewrite(tmp_path / "a.npz", tmp_path / "old.npz", _drop("state", "epoch_progress"))
    loaded = Trainer.load(old)
    assert loaded.epoch == 2 and loaded.epoch_position is None
    assert np.array_equal(loaded.params, trainer.params)


def test_invalid_epoch_progress_is_rejected(sbm, tmp_path):
    n, edges = sbm
    trainer = make_trainer(n, edges)
    restore = interrupt_on_call(trainer, "_step", 2)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(1, progress=False)
    restore()
    trainer.save(tmp_path / "a.npz")
    cases = {
        "order": (
            _set("arrays", "epoch/order", np.zeros(N, np.int64)),
            "epoch/order: not a permutation",
        ),
        "positives": (
            _set("arrays", "epoch/positives", np.full(N, N, np.int64)),
            r"epoch/positives: values must be in \[0, 160\)",
        ),
        "batch": (
            lambda a, s: s["epoch_progress"].update(batch=7),
            r"epoch_progress\['batch'\]: expected at most 3",
        ),
        "batches": (
            lambda a, s: s["epoch_progress"].update(batches=2),
            r"epoch_progress\['batches'\]",
        ),
        "lr": (
            lambda a, s: s["epoch_progress"].update(lr="fast"),
            r"epoch_progress\['lr'\]: expected a number",
        ),
        "keys": (lambda a, s: s["epoch_progress"].pop("totals"), "epoch_progress: expected"),
        "orphan": (_set("state", "epoch_progress", None), "epoch/order: present without"),
    }
    for name, (change, match) in cases.items():
        bad = rewrite(tmp_path / "a.npz", tmp_path / f"{name}.npz", change)
        with pytest.raises(ValueError, match=match):
            Trainer.load(bad)


# -------------------------------------------------------------------------- divergence
def test_divergence_stops_with_a_clear_error(sbm):
    n, edges = sbm
    trainer = make_trainer(n, edges, lr=1e30, lr_schedule="constant", max_grad_norm=None)
    with pytest.raises(TrainingDivergedError, match="training diverged in epoch .*lower it"):
        trainer.fit(20, progress=False)
    assert all(np.isfinite(m.loss) for m in trainer.history)
    assert isinstance(TrainingDivergedError("x"), FloatingPointError)


def test_divergence_is_checked_on_the_loss_before_stepping(sbm):
    n, edges = sbm
    trainer = make_trainer(n, edges)
    trainer.fit(1, progress=False)
    trainer.params[3, 0] = np.inf
    steps = trainer.optimizer.step_count
    with pytest.raises(TrainingDivergedError, match="the parameters contain NaN or infinity"):
        trainer.train_epoch()
    assert trainer.optimizer.step_count == steps
    assert trainer.epoch_position == (0, 3)
