"""Optimizer step benchmark: ruvector_training vs NumPy vs PyTorch (CPU), float32.

What is timed: one optimizer step over 2**24 (16.7M) float32 parameters, laid out as one array
and as 256 arrays of 65,536, with fixed gradients:

- AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01):
  ours (``ruvector_training.AdamW``), ours with ``max_grad_norm=1.0`` (clipping fused into the
  step), a vectorised NumPy implementation (in place, one preallocated temporary), and when
  torch is importable ``torch.optim.AdamW(fused=True)``, ``foreach=True``, and fused AdamW
  after ``torch.nn.utils.clip_grad_norm_`` (what clipping costs a torch user).
- SGD with momentum 0.9: ours, NumPy, and ``torch.optim.SGD(foreach=True)`` (plus
  ``fused=True`` where this torch build supports it on CPU).

Effective bandwidth counts 28 bytes per parameter for AdamW (read p, g, m, v; write p, m, v)
and 20 for SGD with momentum (read p, g, buf; write p, buf), whatever an implementation really
moves (ours reads the gradients once more to reject NaN/Inf before touching anything, which is
also the pass that computes the clipping norm; ``check_finite=False`` rows skip that read and
check each gradient chunk in cache during the update instead).

Everything runs in one process with one thread count: ``RAYON_NUM_THREADS`` if set, else the
CPUs this process may run on; ``torch.set_num_threads`` gets the same number (NumPy's
element-wise ufuncs are single-threaded). Implementations are timed round-robin in a shuffled
order, each turn one untimed step then two timed ones, so load from other processes hits them
alike and no library pays for the previous one's threads and memory. The table gives the best
and the median step time and ratios (of best times) against torch's fused AdamW (SGD rows:
torch's foreach SGD) and against NumPy. Before timing, each implementation takes one step from
the same start and its result is compared with ours ("max diff", relative to max |p|; rows
with clipping against ours with clipping).

Run (PyTorch is optional and is *not* a project dependency; install it in a separate venv)::

    python benches/optimizers.py              # 2**24 parameters, 15 rounds
    python benches/optimizers.py --quick      # 2**22 parameters, 5 rounds
    python benches/optimizers.py --help       # --log2-size, --rounds, --no-torch
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np
from bench_env import thread_count

LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
WEIGHT_DECAY = 0.01
MOMENTUM = 0.9
SGD_LR = 1e-2
MAX_GRAD_NORM = 1.0
BYTES_PER_PARAM = {"AdamW": 28, "SGD": 20}
SETTLE_SECONDS = 0.01
TIMED_STEPS = 2


def import_torch(n_threads: int, wanted: bool) -> Any | None:
    """torch with ``n_threads`` intra-op threads, or None (with a message) when unavailable."""
    if not wanted:
        return None
    try:
        import torch
    except ImportError:
        print(
            "note: torch is not importable, so the PyTorch rows are skipped "
            "(pip install torch in a separate venv to compare)",
            file=sys.stderr,
        )
        return None
    torch.set_num_threads(n_threads)
    return torch


def load_average() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


# --------------------------------------------------------------------------------------------
# Implementations: each is a Case holding its own copy of the parameters and a step function.


@dataclass
class Case:
    """One implementation on one layout: ``step()`` updates ``params()`` in place."""

    name: str
    optimizer: str  # "AdamW" or "SGD"
    clipped: bool
    step: Callable[[], object]
    params: Callable[[], list[np.ndarray]]
    times: list[float] = field(default_factory=list)


class NumpyAdamW:
    """Vectorised AdamW (torch's formula), in place with one preallocated temporary per array."""

    def __init__(self, params: list[np.ndarray], grads: list[np.ndarray]):
        self.params, self.grads = params, grads
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        b1, b2 = BETAS
        step_size = LR / (1 - b1**self.t)
        bc2_sqrt = (1 - b2**self.t) ** 0.5
        f = np.float32
        for p, g, m, v, tmp in zip(self.params, self.grads, self.m, self.v, self.tmp):
            p *= f(1 - LR * WEIGHT_DECAY)
            m *= f(b1)
            np.multiply(g, f(1 - b1), out=tmp)
            m += tmp
            v *= f(b2)
            np.multiply(g, g, out=tmp)
            tmp *= f(1 - b2)
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= f(bc2_sqrt)
            tmp += f(EPS)
            np.divide(m, tmp, out=tmp)
            tmp *= f(-step_size)
            p += tmp


class NumpySGD:
    """Vectorised SGD with momentum (no dampening), in place."""

    def __init__(self, params: list[np.ndarray], grads: list[np.ndarray]):
        self.params, self.grads = params, grads
        self.bufs: list[np.ndarray] | None = None
        self.tmp = [np.empty_like(p) for p in params]

    def step(self) -> None:
        if self.bufs is None:
            self.bufs = [g.copy() for g in self.grads]
        else:
            for buf, g in zip(self.bufs, self.grads):
                buf *= np.float32(MOMENTUM)
                buf += g
        for p, buf, tmp in zip(self.params, self.bufs, self.tmp):
            np.multiply(buf, np.float32(SGD_LR), out=tmp)
            p -= tmp


def ours_cases(rt: Any, start: list[np.ndarray], grads: list[np.ndarray]) -> list[Case]:
    cases = []
    for name, optimizer, clip, make in [
        ("ours", "AdamW", False, lambda p: rt.AdamW(p, lr=LR, weight_decay=WEIGHT_DECAY)),
        (
            "ours + clip (fused)",
            "AdamW",
            True,
            lambda p: rt.AdamW(p, lr=LR, weight_decay=WEIGHT_DECAY, max_grad_norm=MAX_GRAD_NORM),
        ),
        (
            "ours check_finite=False",
            "AdamW",
            False,
            lambda p: rt.AdamW(p, lr=LR, weight_decay=WEIGHT_DECAY, check_finite=False),
        ),
        ("ours", "SGD", False, lambda p: rt.SGD(p, lr=SGD_LR, momentum=MOMENTUM)),
        (
            "ours check_finite=False",
            "SGD",
            False,
            lambda p: rt.SGD(p, lr=SGD_LR, momentum=MOMENTUM, check_finite=False),
        ),
    ]:
        params = [p.copy() for p in start]
        opt = make(params)
        cases.append(Case(name, optimizer, clip, partial(opt.step, grads), partial(list, params)))
    return cases


def numpy_cases(start: list[np.ndarray], grads: list[np.ndarray]) -> list[Case]:
    cases = []
    for optimizer, cls in (("AdamW", NumpyAdamW), ("SGD", NumpySGD)):
        impl = cls([p.copy() for p in start], grads)
        cases.append(Case("numpy", optimizer, False, impl.step, partial(list, impl.params)))
    return cases


def torch_cases(torch: Any, start: list[np.ndarray], grads: list[np.ndarray]) -> list[Case]:
    variants: list[tuple[str, str, Callable[[list], Any], bool]] = [
        ("torch fused", "AdamW", lambda ps: adamw(torch, ps, fused=True), False),
        ("torch foreach", "AdamW", lambda ps: adamw(torch, ps, foreach=True), False),
        ("torch clip + fused", "AdamW", lambda ps: adamw(torch, ps, fused=True), True),
        ("torch foreach", "SGD", lambda ps: sgd(torch, ps, foreach=True), False),
        ("torch fused", "SGD", lambda ps: sgd(torch, ps, fused=True), False),
    ]
    cases = []
    for name, optimizer, make, clip in variants:
        params = [torch.tensor(p, requires_grad=True) for p in start]
        for p, g in zip(params, grads):
            # clip_grad_norm_ rescales in place: give it a copy, not the shared gradients
            p.grad = torch.tensor(g) if clip else torch.from_numpy(g)
        try:
            opt = make(params)
        except (RuntimeError, ValueError) as exc:  # e.g. fused SGD unsupported on this build
            print(f"note: skipping {name} {optimizer}: {exc}", file=sys.stderr)
            continue
        step = torch_step(torch, opt, params, clip)
        cases.append(Case(name, optimizer, clip, step, partial(numpy_views, params)))
    return cases


def numpy_views(tensors: list) -> list[np.ndarray]:
    return [t.detach().numpy() for t in tensors]


def adamw(torch: Any, params: list, **kind: bool) -> Any:
    return torch.optim.AdamW(params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY, **kind)


def sgd(torch: Any, params: list, **kind: bool) -> Any:
    return torch.optim.SGD(params, lr=SGD_LR, momentum=MOMENTUM, **kind)


def torch_step(torch: Any, opt: Any, params: list, clip: bool) -> Callable[[], None]:
    def step() -> None:
        if clip:
            torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM, foreach=True)
        opt.step()

    return step


# --------------------------------------------------------------------------------------------
# Timing and report


def make_layout(n: int, arrays: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``arrays`` float32 parameter arrays and gradients totalling ``n`` elements. Gradients
    are scaled so their global norm is about 2, so that clipping at 1.0 is active."""
    rng = np.random.default_rng(seed)
    size = n // arrays
    start = [rng.standard_normal(size, dtype=np.float32) for _ in range(arrays)]
    scale = np.float32(2.0 / np.sqrt(n))
    grads = [rng.standard_normal(size, dtype=np.float32) * scale for _ in range(arrays)]
    return start, grads


def check_first_steps(cases: list[Case]) -> dict[int, float]:
    """Takes one step with every case from the same start; max |p - ours| / max |p| per case."""
    for case in cases:
        case.step()
    reference = {(c.optimizer, c.clipped): c.params() for c in cases if c.name.startswith("ours")}
    diffs = {}
    for i, case in enumerate(cases):
        ours = reference[case.optimizer, case.clipped]
        got = case.params()
        scale = max(float(np.max(np.abs(p))) for p in ours)
        diffs[i] = max(float(np.max(np.abs(a - b))) for a, b in zip(got, ours)) / scale
    return diffs


def time_round_robin(cases: list[Case], rounds: int, label: str = "") -> None:
    """``rounds`` rounds over the cases in a shuffled order (so no case always follows the same
    one). Each turn is a pause (so the previous library's spinning worker threads go idle), one
    untimed step (which brings this library's threads and memory back, as in a training loop
    that steps one optimizer over and over) and :data:`TIMED_STEPS` timed steps."""
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for done in range(rounds):
        print(
            f"{label}round {done + 1}/{rounds} ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        for index in rng.permutation(len(cases)):
            case = cases[index]
            time.sleep(SETTLE_SECONDS)
            case.step()
            for _ in range(TIMED_STEPS):
                start = time.perf_counter()
                case.step()
                case.times.append(time.perf_counter() - start)


def report(cases: list[Case], diffs: dict[int, float], n: int, layout: str) -> list[str]:
    """Markdown rows for one layout."""
    best = {(c.name, c.optimizer): min(c.times) for c in cases}
    rows = []
    for i, case in enumerate(cases):
        t_best, t_median = min(case.times), statistics.median(case.times)
        gbps = BYTES_PER_PARAM[case.optimizer] * n / t_best / 1e9
        torch_ref = best.get(
            ("torch fused" if case.optimizer == "AdamW" else "torch foreach", case.optimizer)
        )
        numpy_ref = best.get(("numpy", case.optimizer))
        rows.append(
            f"| {case.optimizer} | {layout} | {case.name} | {t_best * 1e3:.2f} | "
            f"{t_median * 1e3:.2f} | {1 / t_best:.1f} | {gbps:.1f} | {ratio(torch_ref, t_best)} | "
            f"{ratio(numpy_ref, t_best)} | {diffs[i]:.1e} |"
        )
    return rows


def ratio(reference: float | None, t: float) -> str:
    """How many times faster than ``reference`` (``2.00x`` = half its time)."""
    return "n/a" if reference is None else f"{reference / t:.2f}x"


def run_layout(rt: Any, torch: Any | None, n: int, arrays: int, rounds: int) -> list[str]:
    layout = f"1 x 2^{n.bit_length() - 1}" if arrays == 1 else f"{arrays} x {n // arrays}"
    print(f"{layout}: preparing and checking the first step...", file=sys.stderr, flush=True)
    start, grads = make_layout(n, arrays)
    cases = ours_cases(rt, start, grads) + numpy_cases(start, grads)
    if torch is not None:
        cases += torch_cases(torch, start, grads)
    cases.sort(key=lambda c: (c.optimizer != "AdamW", c.name))
    diffs = check_first_steps(cases)
    time_round_robin(cases, rounds, f"{layout}: ")
    return report(cases, diffs, n, layout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log2-size", type=int, default=24, help="parameters = 2**this")
    parser.add_argument("--rounds", type=int, default=15, help="timed steps per implementation")
    parser.add_argument("--arrays", type=int, default=256, help="array count of the split layout")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2**22 parameters, 5 rounds: about 35 s of CPU (a full run took over 400 s)",
    )
    args = parser.parse_args()
    if args.quick:
        args.log2_size, args.rounds = 22, 5
    n_threads = thread_count()
    os.environ["RAYON_NUM_THREADS"] = str(n_threads)  # before rayon's pool starts
    import ruvector_training as rt

    torch = import_torch(n_threads, not args.no_torch)
    n = 1 << args.log2_size
    print(
        f"# optimizer step, float32, {n:,} parameters, {n_threads} threads, {args.rounds} rounds\n"
        f"# cpu: {platform.processor() or platform.machine()}, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'n/a'}, ruvector_training {rt.__version__}\n"
        f"# load average before: {load_average()}\n",
        flush=True,
    )
    print(
        "| optimizer | layout | implementation | best ms | median ms | steps/s | GB/s "
        "| vs torch | vs NumPy | max diff |"
    )
    # The implementations of one layout are timed round-robin, so its rows all finish together:
    # they are printed (flushed) as soon as that layout is done; progress goes to stderr.
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for arrays in (1, args.arrays):
        for row in run_layout(rt, torch, n, arrays, args.rounds):
            print(row, flush=True)
    print(
        f"\n# load average after: {load_average()}. 'vs torch': torch fused AdamW's (SGD rows: "
        "torch foreach SGD's) best time / this row's best time; 'vs NumPy' likewise. GB/s uses "
        "28 (AdamW) or 20 (SGD) bytes per parameter. 'max diff': after one step from the same "
        "start, max |p - ours| / max |p| (clipped rows against ours + clip)."
    )


if __name__ == "__main__":
    main()
