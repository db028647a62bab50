"""Top-k search and hard-negative mining benchmark: ruvector_training vs NumPy, FAISS and PyTorch.

Problem (defaults from the issue): Q=4096 queries x M=100,000 pool rows x D=384, k=10, float32,
standard-normal data (seed 0), 100 random classes for the label-aware cases. Cases:

- ``topk``: exact inner-product top-k (``similarity="dot"``, the metric of FAISS IndexFlatIP);
- ``hardest+labels``: ``HardNegativeMiner("hardest")`` with anchor / pool labels;
- ``semi_hard``: ``HardNegativeMiner("semi_hard", margin=0.2)`` with positives
  (``anchor + 3 * noise``, so about 1% of the pool falls in each anchor's band);
- ``weighted``: ``HardNegativeMiner("weighted", alpha=1)``;
- ``topk cosine``: ``topk`` with cosine similarity.

Peers, when importable, run in the same process on the same arrays: NumPy (``q @ p_block.T``
+ ``argpartition`` per block of 8,192 pool rows, then a final sort), FAISS ``IndexFlatIP``
(``search``, index build excluded) and ``torch.topk(q @ p.T)`` (which holds the Q x M matrix).
Times are best-of-N, round-robin. Peak memory is the rise of the process's resident-set high
water mark during one call (``/proc/self/clear_refs`` reset), so it is ``0`` only when the call
reuses memory that was already resident.

Run::

    python benches/mining.py                      # defaults, 3 rounds
    python benches/mining.py --pool 20000 --rounds 2
    python benches/mining.py --quick              # Q=1024, M=25,000, 2 rounds: ~15 s

Every case is timed once per round in turn (round-robin), so the table's rows all finish with
the last round; progress (each call's time) is printed to stderr as it happens.
    .venv/bin/python benches/mining.py   # in the test venv (faiss-cpu and torch installed)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import ruvector_training as rt
from bench_env import thread_count


def peak_rss_rise(fn: Callable[[], object]) -> float:
    """MiB by which the resident high-water mark rises during ``fn()`` (Linux), else nan."""
    status = Path("/proc/self/status")
    clear = Path("/proc/self/clear_refs")
    if not status.exists():
        return float("nan")

    def read(field: str) -> float:
        for line in status.read_text().splitlines():
            if line.startswith(field):
                return float(line.split()[1]) / 1024
        return float("nan")

    try:
        clear.write_text("5")
    except OSError:
        return float("nan")
    before = read("VmRSS:")
    fn()
    return read("VmHWM:") - before


def numpy_topk(queries: np.ndarray, pool: np.ndarray, k: int, block: int = 8192):
    """Blocked exact top-k with argpartition (the NumPy baseline)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=queries.dtype)
    best_index = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(pool), block):
        scores = queries @ pool[start : start + block].T
        kk = min(k, scores.shape[1])
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, part, 1)], axis=1)
        best_index = np.concatenate([best_index, part + start], axis=1)
        keep = np.argpartition(-best_scores, min(k, best_scores.shape[1]) - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, 1)
        best_index = np.take_along_axis(best_index, keep, 1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_scores, order, 1), np.take_along_axis(best_index, order, 1)


def build_cases(args) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]]]:
    rng = np.random.default_rng(0)
    q = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    p = rng.standard_normal((args.pool, args.dim), dtype=np.float32)
    positives = (q + 3.0 * rng.standard_normal(q.shape, dtype=np.float32)).astype(np.float32)
    anchor_labels = rng.integers(0, 100, args.queries)
    pool_labels = rng.integers(0, 100, args.pool)
    k = args.k
    ours = {
        "topk": lambda: rt.topk(q, p, k, similarity="dot"),
        "hardest+labels": lambda: rt.HardNegativeMiner("hardest", k, similarity="dot").mine(
            q, p, anchor_labels=anchor_labels, pool_labels=pool_labels
        ),
        "semi_hard": lambda: rt.HardNegativeMiner("semi_hard", k).mine(q, p, positives=positives),
        "weighted": lambda: rt.HardNegativeMiner("weighted", k, alpha=1.0).mine(q, p),
        "topk cosine": lambda: rt.topk(q, p, k),
    }
    peers: dict[str, Callable[[], object]] = {"numpy": lambda: numpy_topk(q, p, k)}
    try:
        import faiss

        faiss.omp_set_num_threads(thread_count())
        index = faiss.IndexFlatIP(args.dim)
        index.add(p)
        peers["faiss IndexFlatIP"] = lambda: index.search(q, k)
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(thread_count())
        tq, tp = torch.from_numpy(q), torch.from_numpy(p)
        peers["torch.topk(q @ p.T)"] = lambda: torch.topk(tq @ tp.T, k, dim=1)
    except ImportError:
        pass
    return ours, peers


def best_times(cases: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    times = {name: float("inf") for name in cases}
    for done in range(rounds):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            times[name] = min(times[name], elapsed)
            print(f"round {done + 1}/{rounds}: {name} {elapsed:.3f} s", file=sys.stderr, flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=4096, help="Q, query rows")
    parser.add_argument("--pool", type=int, default=100_000, help="M, pool rows")
    parser.add_argument("--dim", type=int, default=384, help="D")
    parser.add_argument("--k", type=int, default=10, help="neighbours / negatives per query")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many calls")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Q=1024, M=25,000, 2 rounds: about 15 s (the full run takes about 2 minutes)",
    )
    args = parser.parse_args()
    if args.quick:
        args.queries, args.pool, args.rounds = 1024, 25_000, 2
    ours, peers = build_cases(args)
    # Agreement check: our exact top-k equals the NumPy baseline's indices.
    _, ours_index = ours["topk"]()
    _, numpy_index = peers["numpy"]()
    agreement = float((ours_index == numpy_index).mean())
    print(
        f"Q={args.queries} M={args.pool} D={args.dim} k={args.k} float32, "
        f"{thread_count()} threads, best of {args.rounds}; topk agrees with NumPy on "
        f"{agreement:.4%} of indices",
        flush=True,
    )
    peaks = {}
    for name, fn in {**ours, **peers}.items():
        print(f"peak RSS: {name}...", file=sys.stderr, flush=True)
        peaks[name] = peak_rss_rise(fn)
    times = best_times({**ours, **peers}, args.rounds)
    base = times["topk"]
    print(f"{'case':<22}{'seconds':>9}{'x ours topk':>13}{'peak MiB':>10}", flush=True)
    for name in {**ours, **peers}:
        print(
            f"{name:<22}{times[name]:>9.3f}{times[name] / base:>13.2f}{peaks[name]:>10.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
