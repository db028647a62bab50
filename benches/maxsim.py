"""Late interaction (MaxSim): ruvector-training's Rust kernels against the same computation in
PyTorch, for issue 15's three targets.

1. In-batch MaxSimLoss forward + backward at B=64, Lq=32, Ld=256, D=128, float32, against
   PyTorch autograd over einsum + masked max + cross-entropy (target: >= 3x faster).
2. B=512 (same lengths): peak RSS of one forward + backward, each library in its own subprocess;
   PyTorch's runs under an address-space limit (``--torch-limit-gib``) and is reported as
   failed when it cannot allocate its B x B x Lq x Ld tensor (target: ours under 1 GB).
3. ``maxsim_topk`` for 100 queries against 20,000 documents (Lq=32, Ld=128, D=128), k=10,
   against PyTorch scoring chunks of documents (einsum, masked max, sum) and ``torch.topk``
   (target: >= 1.3x faster).

Ratios come from one run, both sides timed alternately in the same process with the same
thread count. ``--quick`` shrinks target 3 to 2,000 documents and repeats less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np
from bench_env import thread_count

SEED = 0
LQ, LD, DIM = 32, 256, 128


def import_torch(n_threads: int) -> Any | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(n_threads)
    return torch


def unit_tokens(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def make_batch(b: int, lq: int = LQ, ld: int = LD, d: int = DIM):
    """Unit token vectors and ragged masks (every row keeps at least a quarter of its tokens)."""
    rng = np.random.default_rng(SEED)
    q, docs = unit_tokens(rng, (b, lq, d)), unit_tokens(rng, (b, ld, d))
    qm = np.arange(lq)[None, :] < rng.integers(lq // 4, lq + 1, b)[:, None]
    dm = np.arange(ld)[None, :] < rng.integers(ld // 4, ld + 1, b)[:, None]
    return q, docs, qm, dm


def ours_loss_step(q, docs, qm, dm) -> Callable[[], float]:
    import ruvector_training as rt

    loss = rt.MaxSimLoss(temperature=0.05)

    def step() -> float:
        value, _ = loss(q, docs, query_mask=qm, document_mask=dm)
        return float(value)

    return step


def torch_loss_step(torch, q, docs, qm, dm) -> Callable[[], float]:
    tq, td = torch.from_numpy(q), torch.from_numpy(docs)
    tqm, tdm = torch.from_numpy(qm), torch.from_numpy(dm)
    labels = torch.arange(q.shape[0])

    def step() -> float:
        a = tq.clone().requires_grad_()
        p = td.clone().requires_grad_()
        sims = torch.einsum("itx,jux->ijtu", a, p)
        sims = sims.masked_fill(~tdm[None, :, None, :], float("-inf"))
        best = sims.max(dim=3).values.masked_fill(~tqm[:, None, :], 0.0)
        loss = torch.nn.functional.cross_entropy(best.sum(dim=2) / 0.05, labels)
        loss.backward()
        return loss.item()

    return step


def best_of(repeat: int, steps: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Best wall time of each step, run alternately (same load for both)."""
    best = {name: float("inf") for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def peak_worker(lib: str, b: int, limit_gib: float) -> None:
    """One forward + backward at batch size ``b``; prints the peak RSS as JSON."""
    if lib == "torch":
        limit = int(limit_gib * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        torch = import_torch(thread_count())
        if torch is None:
            sys.exit(3)
        step = torch_loss_step(torch, *make_batch(b))
    else:
        step = ours_loss_step(*make_batch(b))
    start = time.perf_counter()
    loss = step()
    seconds = time.perf_counter() - start
    print(json.dumps({"peak": peak_rss(), "seconds": seconds, "loss": loss}))


def peak_rss() -> int:
    """This process image's peak RSS in bytes: ``VmHWM``, which starts afresh at ``exec``
    (``ru_maxrss`` would keep the forking parent's peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_peak(lib: str, b: int, limit_gib: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--peak-worker", lib, str(b)]
    cmd += ["--torch-limit-gib", str(limit_gib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        return {"error": f"exit {proc.returncode}: {' '.join(tail)[:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def topk_steps(torch, queries: int, documents: int, k: int, chunk: int):
    import ruvector_training as rt

    rng = np.random.default_rng(SEED + 1)
    q, docs = unit_tokens(rng, (queries, LQ, DIM)), unit_tokens(rng, (documents, 128, DIM))
    dm = np.arange(128)[None, :] < rng.integers(32, 129, documents)[:, None]

    def ours():
        return rt.maxsim_topk(q, docs, k, document_mask=dm)

    tq, td, tdm = torch.from_numpy(q), torch.from_numpy(docs), torch.from_numpy(dm)

    def theirs():
        with torch.no_grad():
            parts = []
            for start in range(0, documents, chunk):
                sims = torch.einsum("itx,jux->ijtu", tq, td[start : start + chunk])
                sims = sims.masked_fill(~tdm[None, start : start + chunk, None, :], float("-inf"))
                parts.append(sims.max(dim=3).values.sum(dim=2))
            return torch.topk(torch.cat(parts, dim=1), k, dim=1)

    return ours, theirs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small target 3, fewer repeats")
    parser.add_argument("--repeat", type=int, help="best-of-N for targets 1 and 3 (5; quick 2)")
    parser.add_argument("--documents", type=int, help="documents of target 3 (20000; quick 2000)")
    parser.add_argument("--torch-limit-gib", type=float, default=4.0, help="PyTorch's AS limit")
    parser.add_argument("--peak-worker", nargs=2, metavar=("LIB", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_worker:
        peak_worker(args.peak_worker[0], int(args.peak_worker[1]), args.torch_limit_gib)
        return
    repeat = args.repeat or (2 if args.quick else 5)
    documents = args.documents or (2000 if args.quick else 20000)
    n_threads = thread_count()
    torch = import_torch(n_threads)
    print(f"threads={n_threads} load average={os.getloadavg()[0]:.1f}", flush=True)
    if torch is None:
        print("PyTorch is not installed: only our timings are printed")

    print("\n1. in-batch MaxSimLoss forward+backward, B=64 Lq=32 Ld=256 D=128 float32", flush=True)
    batch = make_batch(64)
    steps = {"ours": ours_loss_step(*batch)}
    if torch is not None:
        steps["torch"] = torch_loss_step(torch, *batch)
        ours_value, torch_value = steps["ours"](), steps["torch"]()
        print(f"   loss ours {ours_value:.6f} torch {torch_value:.6f}")
    best = best_of(repeat, steps)
    line = f"   ours {best['ours'] * 1e3:.1f} ms"
    if "torch" in best:
        line += f", torch {best['torch'] * 1e3:.1f} ms, ratio {best['torch'] / best['ours']:.2f}x"
    print(line, flush=True)

    print("\n2. peak RSS of one forward+backward at B=512 (own subprocess each)", flush=True)
    for lib in ("ours", "torch") if torch is not None else ("ours",):
        result = measure_peak(lib, 512, args.torch_limit_gib)
        if "error" in result:
            print(f"   {lib}: could not run under {args.torch_limit_gib} GiB ({result['error']})")
        else:
            print(f"   {lib}: peak {result['peak'] / 2**20:.0f} MiB in {result['seconds']:.1f} s")

    print(f"\n3. maxsim_topk, 100 queries x {documents} documents, Lq=32 Ld=128 D=128, k=10")
    if torch is None:
        return
    ours, theirs = topk_steps(torch, 100, documents, 10, chunk=256)
    ours_indices = ours()[1]
    theirs_indices = theirs().indices.numpy()
    agree = float(np.mean(ours_indices == theirs_indices))
    best = best_of(repeat, {"ours": ours, "torch": theirs})
    print(
        f"   ours {best['ours']:.2f} s, torch {best['torch']:.2f} s, "
        f"ratio {best['torch'] / best['ours']:.2f}x (indices agree on {agree:.1%})",
        flush=True,
    )


if __name__ == "__main__":
    main()
