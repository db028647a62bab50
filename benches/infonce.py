"""InfoNCE benchmark: ruvector_training vs NumPy vs PyTorch (CPU), forward + backward.

What is timed: in-batch InfoNCE with cosine similarity, float32, temperature 0.07, mean
reduction, one call that returns the loss *and* the gradients w.r.t. anchors and positives:

- ours:  ``ruvector_training.InfoNCELoss(...)(anchors, positives)``
- numpy: the self-contained NumPy implementation below (three matrix products plus passes over
  the B x B logits; it needs about B*B*4 bytes)
- torch: ``F.normalize``, ``a @ p.T / tau``, ``F.cross_entropy(logits, arange(B))``,
  ``.backward()`` on leaf tensors with ``requires_grad=True`` (when torch is importable)
- matmul: one NumPy float32 ``(B, D) @ (D, B)`` product into a preallocated output, the unit
  our time is expressed in (the floor for InfoNCE forward + backward is about three of them)

Everything runs in one process with the same thread count: ``RAYON_NUM_THREADS`` if set, else
the CPUs this process may run on; ``torch.set_num_threads`` gets the same number, and NumPy's BLAS
is limited to it when ``threadpoolctl`` is installed. Times are best-of-N after a warm-up call
(which is also the check that our loss and gradients agree with each peer's), with the libraries
timed round-robin so that load from other processes hits them alike; the "other load" column
shows how many cores other processes used meanwhile (a clean run has ~0). NumPy/PyTorch run up to
``--peer-max-b`` (16384) and within ``--peer-mem-cap-gb`` (12); larger sizes show "n/a".
OpenBLAS environment variables (``OPENBLAS_CORETYPE``, ``OPENBLAS_L2_SIZE``, ...) are printed,
never changed.

Peak memory: each size of our library (and of PyTorch where it fits in ``--peer-mem-cap-gb``)
runs once more in a fresh subprocess that reports its peak RSS (``VmHWM``); the spec's targets are
B=16384 under 1.5 GB and B=32768 under 1 GB for our library at D=768.

Run (PyTorch is optional and is *not* a project dependency; install it in a separate venv)::

    python benches/infonce.py            # B in {1024, 4096, 16384, 32768}, D=768
    python benches/infonce.py --quick    # B in {1024, 4096}, fewer repeats, peak at 16384 only
    python benches/infonce.py --help     # sizes, repeats, memory caps, --no-peak, --no-torch
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np
from bench_env import thread_count

TEMPERATURE = 0.07
DIM = 768
NORM_EPS = 1e-12
SEED = 0
MIB = 1 << 20
# Spec section 6: peak RSS targets for our library at D=768 (decimal GB, the stricter reading).
PEAK_TARGETS_BYTES = {16384: 1.5e9, 32768: 1.0e9}
LOSS_RTOL = 1e-4
GRAD_TOL = 1e-3  # max |ours - peer| / max |peer| over each gradient
SETTLE_SECONDS = 0.2
CLEAN_LOAD_CORES = 0.1  # other processes' CPU use (cores) above which a row is flagged


# --------------------------------------------------------------------------------------------
# Environment


def import_ours() -> Any:
    try:
        import ruvector_training
    except ImportError as exc:
        sys.exit(
            f"cannot import ruvector_training ({exc}); build it into this environment first: "
            "`maturin develop --release` or `pip install .` from the repository root"
        )
    return ruvector_training


def import_torch(n_threads: int) -> Any | None:
    """PyTorch if importable (with its intra-op thread count set), else None."""
    try:
        import torch
    except Exception as exc:  # ImportError, or OSError when its native libraries are missing
        print(
            f"note: torch is not importable ({type(exc).__name__}: {exc}); the torch columns "
            "are n/a. Install a CPU build of torch in a separate virtualenv to compare.",
            file=sys.stderr,
        )
        return None
    torch.set_num_threads(n_threads)
    return torch


def limit_blas_threads(n_threads: int) -> Any | None:
    """Limits NumPy's BLAS pool to n_threads when threadpoolctl is installed (kept alive)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=n_threads, user_api="blas")


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see it)"
    parts = [
        f"{info.get('internal_api')} {info.get('version')} {info.get('architecture', '')}"
        f" ({info.get('num_threads')} threads)"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return ", ".join(parts) or "none found"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_busy_percent(seconds: float = 1.0) -> float | None:
    """Share of all CPUs' time spent busy over `seconds` (Linux /proc/stat), before we start."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return None if total <= 0 else 100.0 * (1.0 - (idle1 - idle0) / total)


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def rss_bytes() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in bytes."""
    current = peak = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    current = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024
    except OSError:
        import resource

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = maxrss if sys.platform == "darwin" else maxrss * 1024
        current = peak
    return current, peak


# --------------------------------------------------------------------------------------------
# Data and the three implementations


def make_inputs(b: int, d: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Anchors and positives (noisy copies of the anchors), float32, built without temporaries."""
    rng = np.random.default_rng(seed)
    anchors = rng.standard_normal((b, d), dtype=np.float32)
    positives = rng.standard_normal((b, d), dtype=np.float32)
    positives *= np.float32(0.5)
    positives += anchors
    return anchors, positives


def _normalize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows divided by max(||x||, eps), and those norms (unclamped)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    return x / np.maximum(norms, NORM_EPS)[:, None], norms


def _normalize_backward(grad_unit: np.ndarray, unit: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """d/dx of y = x / max(||x||, eps), in place on grad_unit: (g - y (y.g)) / ||x||."""
    proj = np.einsum("ij,ij->i", grad_unit, unit)
    proj[norms <= NORM_EPS] = 0.0  # clamped rows: the norm is a constant there
    grad_unit -= unit * proj[:, None]
    grad_unit /= np.maximum(norms, NORM_EPS)[:, None].astype(grad_unit.dtype)
    return grad_unit


def numpy_infonce(
    anchors: np.ndarray, positives: np.ndarray, temperature: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """In-batch cosine InfoNCE, mean reduction: (loss, grad_anchors, grad_positives).

    loss_i = logsumexp_j s_ij - s_ii with s_ij = cos(a_i, p_j) / tau. One B x B buffer is
    reused for the logits, their exponentials and the logits' gradient.
    """
    b = anchors.shape[0]
    dtype = anchors.dtype
    unit_a, norm_a = _normalize(anchors)
    unit_p, norm_p = _normalize(positives)
    inv_t = dtype.type(1.0 / temperature)

    logits = unit_a @ unit_p.T  # matmul 1
    logits *= inv_t
    positive_logit = logits.diagonal().astype(np.float64)
    row_max = logits.max(axis=1, keepdims=True)
    logits -= row_max
    np.exp(logits, out=logits)
    row_sum = logits.sum(axis=1, keepdims=True, dtype=np.float64)
    lse = row_max[:, 0].astype(np.float64) + np.log(row_sum[:, 0])
    loss = float(np.mean(lse - positive_logit))

    # d loss / d cos_ij = (softmax_ij - [i == j]) / (B * tau)
    logits *= (inv_t / dtype.type(b) / row_sum).astype(dtype)
    diag = np.arange(b)
    logits[diag, diag] -= inv_t / dtype.type(b)
    grad_unit_a = logits @ unit_p  # matmul 2
    grad_unit_p = logits.T @ unit_a  # matmul 3
    del logits
    grad_a = _normalize_backward(grad_unit_a, unit_a, norm_a)
    grad_p = _normalize_backward(grad_unit_p, unit_p, norm_p)
    return loss, grad_a, grad_p


def ours_step(rt: Any, anchors: np.ndarray, positives: np.ndarray) -> Callable[[], tuple]:
    loss_fn = rt.InfoNCELoss(temperature=TEMPERATURE, similarity="cosine", reduction="mean")

    def step() -> tuple[float, np.ndarray, np.ndarray]:
        loss, (grad_a, grad_p, _) = loss_fn(anchors, positives)
        return float(loss), grad_a, grad_p

    return step


def numpy_step(anchors: np.ndarray, positives: np.ndarray) -> Callable[[], tuple]:
    return lambda: numpy_infonce(anchors, positives, TEMPERATURE)


def torch_step(torch: Any, anchors: np.ndarray, positives: np.ndarray) -> Callable[[], tuple]:
    functional = torch.nn.functional
    a = torch.from_numpy(anchors).requires_grad_(True)
    p = torch.from_numpy(positives).requires_grad_(True)
    labels = torch.arange(anchors.shape[0])

    def step() -> tuple[float, Any, Any]:
        a.grad = None
        p.grad = None
        logits = functional.normalize(a, dim=1) @ functional.normalize(p, dim=1).T / TEMPERATURE
        loss = functional.cross_entropy(logits, labels)
        loss.backward()
        return loss.item(), a.grad, p.grad

    return step


def matmul_step(anchors: np.ndarray, positives: np.ndarray) -> Callable[[], np.ndarray]:
    """One GEMM into a preallocated output, so page faults on a fresh B x B buffer (which are
    slow and erratic in a VM) are not counted in the compute floor."""
    out = np.empty((anchors.shape[0], positives.shape[0]), dtype=anchors.dtype)
    return lambda: np.matmul(anchors, positives.T, out=out)


# Rough working-set estimates (bytes) used to skip peers that would not fit; inputs, unit copies
# and gradients are ~8 B x D arrays.
def numpy_bytes(b: int, d: int) -> float:
    return 2.0 * b * b * 4 + 8.0 * b * d * 4


def torch_bytes(b: int, d: int) -> float:
    return 4.0 * b * b * 4 + 8.0 * b * d * 4


# --------------------------------------------------------------------------------------------
# Timing and checks


def time_interleaved(
    steps: dict[str, Callable[[], Any]], repeat: int, prime: bool
) -> dict[str, float]:
    """Best-of-`repeat` wall time of each step, timed round-robin so that noise from other work
    on the machine hits every library alike. Callers have already made one warm-up call each.

    Before each timed call: a pause, so the previous library's worker threads stop spinning
    (OpenBLAS's keep spinning ~0.1 s after a call and would steal a core), then, with `prime`,
    an untimed call of the same step, so the timed one runs with warm caches and its own worker
    threads awake, as in a training loop."""
    best = dict.fromkeys(steps, math.inf)
    for _ in range(max(repeat, 1)):
        for name, fn in steps.items():
            time.sleep(SETTLE_SECONDS)
            if prime:
                fn()
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


class OtherLoad:
    """CPU time used by *other* processes during a region, in cores (Linux /proc/stat minus
    this process's own CPU time); None where it cannot be read."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
            idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
            busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return None
        own = os.times()
        return time.perf_counter(), busy, own.user + own.system

    def cores(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        wall = end[0] - self.start[0]
        return max(0.0, (end[1] - self.start[1]) - (end[2] - self.start[2])) / wall


def grad_error(ours: np.ndarray, peer: Any) -> float:
    peer = np.asarray(peer.detach().numpy() if hasattr(peer, "detach") else peer)
    scale = float(np.max(np.abs(peer))) or 1.0
    return float(np.max(np.abs(ours.astype(np.float64) - peer))) / scale


def check_against(name: str, b: int, ours: tuple, peer: tuple) -> str | None:
    """Compares (loss, grad_a, grad_p); returns a warning line or None."""
    loss, grad_a, grad_p = ours
    peer_loss, peer_a, peer_p = peer
    problems = []
    if not math.isclose(loss, peer_loss, rel_tol=LOSS_RTOL):
        problems.append(f"loss {loss:.7g} vs {name} {peer_loss:.7g} (rtol {LOSS_RTOL:g})")
    for label, mine, theirs in (
        ("grad_anchors", grad_a, peer_a),
        ("grad_positives", grad_p, peer_p),
    ):
        err = grad_error(mine, theirs)
        if not err <= GRAD_TOL:
            problems.append(f"{label} max rel. error {err:.2e} vs {name} (tol {GRAD_TOL:g})")
    if problems:
        return f"WARNING B={b}: ours disagrees with {name}: " + "; ".join(problems)
    return None


# --------------------------------------------------------------------------------------------
# Peak memory: one run in a fresh subprocess


def peak_worker(lib: str, b: int, d: int, n_threads: int) -> None:
    """Runs one forward + backward and prints its RSS figures as JSON (subprocess entry)."""
    if lib == "ours":
        rt = import_ours()
        anchors, positives = make_inputs(b, d)
        step = ours_step(rt, anchors, positives)
    elif lib == "torch":
        torch = import_torch(n_threads)
        if torch is None:
            sys.exit(3)
        anchors, positives = make_inputs(b, d)
        step = torch_step(torch, anchors, positives)
    else:
        raise ValueError(f"unknown library {lib!r}")
    baseline, _ = rss_bytes()
    start = time.perf_counter()
    loss = step()[0]
    seconds = time.perf_counter() - start
    _, peak = rss_bytes()
    print(json.dumps({"baseline": baseline, "peak": peak, "seconds": seconds, "loss": loss}))


def measure_peak(lib: str, b: int, d: int, n_threads: int) -> dict | None:
    cmd = [sys.executable, os.path.abspath(__file__), "--peak-worker", lib, str(b), str(d)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        print(f"  peak {lib} B={b}: subprocess failed ({proc.returncode}): {tail}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Report


def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def fmt_ratio(num: float | None, den: float | None) -> str:
    return "n/a" if num is None or den is None else f"{num / den:.2f}x"


def fmt_mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f}"


def parse_sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="B in {1024, 4096}, best of 3, peak RSS of ours at B=16384 only (about 30 s; "
        "the full run takes several minutes)",
    )
    parser.add_argument("--sizes", type=parse_sizes, help="comma-separated batch sizes B")
    parser.add_argument("--dim", type=int, default=DIM, help="embedding dimension D (768)")
    parser.add_argument("--repeat", type=int, help="best-of-N for B <= 4096 (7; quick 3)")
    parser.add_argument(
        "--peer-max-b",
        type=int,
        default=16384,
        help="largest B timed for NumPy/PyTorch (their logits are B x B); default 16384",
    )
    parser.add_argument(
        "--peer-mem-cap-gb",
        type=float,
        default=12.0,
        help="skip a peer whose estimated working set exceeds this (GB); default 12",
    )
    parser.add_argument("--no-peak", action="store_true", help="skip the subprocess RSS runs")
    parser.add_argument("--no-torch", action="store_true", help="do not import torch")
    parser.add_argument("--peak-worker", nargs=3, metavar=("LIB", "B", "D"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n_threads = thread_count()
    if args.peak_worker:
        lib, b, d = args.peak_worker
        peak_worker(lib, int(b), int(d), n_threads)
        return 0

    d = args.dim
    sizes = args.sizes or ([1024, 4096] if args.quick else [1024, 4096, 16384, 32768])
    small_repeat = args.repeat or (3 if args.quick else 7)
    cap = args.peer_mem_cap_gb * 1e9

    rt = import_ours()
    torch = None if args.no_torch else import_torch(n_threads)
    blas_limit = limit_blas_threads(n_threads)  # noqa: F841 (kept alive for the whole run)

    openblas_env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_"))}
    print("# InfoNCE in-batch cosine, float32, forward + backward")
    print(flush=True)
    print(f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; threads for everyone: {n_threads}")
    print(
        f"- Python {platform.python_version()}, NumPy {np.__version__}, BLAS: {blas_description()}"
    )
    print(f"- ruvector_training {getattr(rt, '__version__', '?')}")
    print(f"- torch: {torch.__version__ if torch is not None else 'not available'}")
    print(f"- env: {openblas_env or 'no OPENBLAS_*/OMP_* variables set'}")
    print(f"- tau={TEMPERATURE}, D={d}, best-of-N after at least one warm-up call")
    busy = cpu_busy_percent()
    busy_text = "unknown" if busy is None else f"{busy:.0f}%"
    print(f"- CPU busy in the second before the run: {busy_text}; load average {load_average()}")
    if busy is not None and busy > 10:
        print("- WARNING: the machine is busy with other work; timings will be skewed")
    print(flush=True)

    # Each row is printed as soon as its size is timed (flushed, so a pipe or log shows it).
    print(
        "| B | D | ours (s) | numpy (s) | torch (s) | torch/ours | numpy/ours "
        "| matmul (s) | ours/matmul | other load |",
        flush=True,
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    rows = []
    warnings = []
    for b in sizes:
        repeat = small_repeat if b <= 4096 else (1 if args.quick else 2)
        print(f"B={b}: timing (best of {repeat})...", file=sys.stderr, flush=True)
        anchors, positives = make_inputs(b, d)
        peer_ok = b <= args.peer_max_b
        other = OtherLoad()

        # Each library's first call is its warm-up and, for the peers, the correctness check.
        steps: dict[str, Callable[[], Any]] = {"mm": matmul_step(anchors, positives)}
        steps["mm"]()
        steps["ours"] = ours_step(rt, anchors, positives)
        ours_result = steps["ours"]()
        if peer_ok and numpy_bytes(b, d) <= cap:
            steps["numpy"] = numpy_step(anchors, positives)
            warnings.append(check_against("numpy", b, ours_result, steps["numpy"]()))
        if torch is not None and peer_ok and torch_bytes(b, d) <= cap:
            steps["torch"] = torch_step(torch, anchors, positives)
            warnings.append(check_against("torch", b, ours_result, steps["torch"]()))
        del ours_result
        row: dict[str, Any] = time_interleaved(steps, repeat, prime=b <= 4096)
        del steps
        row.update(b=b, load=other.cores())
        rows.append(row)
        ours, numpy_time, torch_time = row["ours"], row.get("numpy"), row.get("torch")
        load_text = "?" if row["load"] is None else f"{row['load']:.2f}"
        print(
            f"| {row['b']} | {d} | {fmt_seconds(ours)} | {fmt_seconds(numpy_time)} "
            f"| {fmt_seconds(torch_time)} | {fmt_ratio(torch_time, ours)} "
            f"| {fmt_ratio(numpy_time, ours)} | {fmt_seconds(row['mm'])} "
            f"| {fmt_ratio(ours, row['mm'])} | {load_text} |",
            flush=True,
        )
    print()
    print(
        "matmul = one NumPy float32 (B, D) @ (D, B) into a preallocated output; "
        "the floor for forward + backward is ~3."
    )
    print(
        "other load = CPU cores used by other processes while that row was timed "
        f"(~0 is a clean measurement; we use {n_threads}).",
        flush=True,
    )

    if not args.no_peak:
        runs = [("ours", b) for b in ([16384] if args.quick else sizes)]
        if torch is not None and not args.quick:
            # + ~0.7 GB of torch's own libraries
            runs += [
                ("torch", b) for b in (4096, 16384) if b in sizes and torch_bytes(b, d) + 1e9 <= cap
            ]
        print()
        print("Peak RSS, one forward + backward in a fresh process (MiB):")
        print()
        print("| library | B | D | after import + inputs | peak | peak - baseline | target |")
        print("|---|---:|---:|---:|---:|---:|---|", flush=True)
        for lib, b in runs:
            print(f"B={b}: peak RSS of {lib} (subprocess)...", file=sys.stderr, flush=True)
            peak = measure_peak(lib, b, d, n_threads)
            target = PEAK_TARGETS_BYTES.get(b) if lib == "ours" and d == DIM else None
            verdict = "-"
            if target is not None and peak is not None:
                verdict = f"< {target / 1e9:g} GB: {'PASS' if peak['peak'] < target else 'FAIL'}"
            base = peak and peak["baseline"]
            top = peak and peak["peak"]
            delta = None if peak is None else peak["peak"] - peak["baseline"]
            print(
                f"| {lib} | {b} | {d} | {fmt_mib(base)} | {fmt_mib(top)} "
                f"| {fmt_mib(delta)} | {verdict} |",
                flush=True,
            )

    print()
    spec_row = next((r for r in rows if r["b"] == 4096 and r.get("torch") is not None), None)
    if spec_row is not None and d == DIM:
        speedup = spec_row["torch"] / spec_row["ours"]
        verdict = "PASS" if speedup >= 1.3 else "FAIL"
        other = spec_row["load"]
        if other is not None and other > CLEAN_LOAD_CORES:
            verdict += f" (unreliable: other processes used {other:.2f} cores meanwhile)"
        print(f"Spec target B=4096: ours >= 1.3x faster than PyTorch: {speedup:.2f}x {verdict}")
    noisy = [str(r["b"]) for r in rows if r["load"] is not None and r["load"] > CLEAN_LOAD_CORES]
    if noisy:
        print(f"WARNING: rows B={', '.join(noisy)} ran while other processes used the CPUs; rerun.")
    print(f"Load average at the end: {load_average()}")
    found = [w for w in warnings if w]
    for line in found:
        print(line)
    checked = len(warnings)
    if checked and not found:
        print(
            f"Sanity checks: loss (rtol {LOSS_RTOL:g}) and gradients (tol {GRAD_TOL:g}) agree "
            f"with every peer run ({checked} comparisons)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
