"""PyTorch bridge benchmark: peak memory of one large-batch training step, and the speed of the
bridged InfoNCE against the same loss written in PyTorch.

1. Peak RSS of one training step (forward, loss, backward) of a small encoder (an MLP
   ``256 -> 1024 -> 1024 -> 256`` with GELU and dropout 0.1, float32) at B=16,384 pairs,
   symmetric in-batch InfoNCE (cosine, tau 0.05), each way in a fresh subprocess that reports
   its peak RSS (``VmHWM`` of ``/proc/self/status``; ``getrusage``'s ``ru_maxrss`` is not used
   because a child started by fork + exec can inherit its parent's peak there):

   - ``cached``: :class:`ruvector_training.torch.CachedInfoNCE` (GradCache), chunks of 1,024;
   - ``bridge``: the whole batch through the encoder with a graph, then the bridged
     :class:`ruvector_training.torch.InfoNCELoss` (the Rust kernel streams the logits);
   - ``torch``: the whole batch with a graph, the loss in PyTorch (``F.normalize``, ``a @ p.T``,
     ``F.cross_entropy`` both ways): the ``B x B`` logits, their softmax and gradient are held.

   The ``import`` row is the RSS of a process that only imported torch and built the encoder.
   The issue's target: ``cached`` within 4 GB, where ``torch`` needs more.

2. InfoNCE forward + backward at B=4,096, D=768, float32 (cosine, tau 0.07, in-batch, mean) on
   leaf tensors: the bridge vs the PyTorch formula above; best of ``--repeats`` after a warm-up
   call that also checks the two agree, timed round-robin; the ratio is torch time / bridge time.

Both use ``torch.set_num_threads`` = the thread count rayon uses (see ``bench_env``).

Run (needs PyTorch)::

    python benches/torch_bridge.py             # both parts
    python benches/torch_bridge.py --no-peak   # speed only
    python benches/torch_bridge.py --quick     # peak RSS at B=4,096, best of 2: ~30 s
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from bench_env import thread_count

PEAK_B = 16384
CHUNK = 1024
IN_DIM, HIDDEN, OUT_DIM = 256, 1024, 256
PEAK_TAU = 0.05
SPEED_B, SPEED_D, SPEED_TAU = 4096, 768, 0.07
TARGET_BYTES = 4 * 1024**3


def torch_infonce(a, p, tau, symmetric):
    """InfoNCE written in PyTorch (what a user would write without the bridge)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    a, p = F.normalize(a, dim=1), F.normalize(p, dim=1)
    logits = a @ p.T / tau
    labels = torch.arange(len(a))
    loss = F.cross_entropy(logits, labels)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, labels))
    return loss


def peak_rss_bytes() -> int:
    """This process's peak resident set size (``VmHWM``), or ``ru_maxrss`` where there is no
    ``/proc`` (it may then include a parent's peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_worker(mode: str, batch: int) -> dict:
    """One training step in this (fresh) process; returns the peak RSS and the loss."""
    import ruvector_training.torch as rtt
    import torch

    torch.set_num_threads(thread_count())
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(
        torch.nn.Linear(IN_DIM, HIDDEN),
        torch.nn.GELU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(HIDDEN, HIDDEN),
        torch.nn.GELU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(HIDDEN, OUT_DIM),
    )
    x = torch.randn(batch, IN_DIM)
    y = x + 0.3 * torch.randn(batch, IN_DIM)
    started = time.perf_counter()
    loss = None
    if mode == "cached":
        loss = rtt.CachedInfoNCE(encoder, chunk_size=CHUNK, temperature=PEAK_TAU, symmetric=True)(
            x, y
        )
    elif mode == "bridge":
        loss = rtt.InfoNCELoss(temperature=PEAK_TAU, symmetric=True)(encoder(x), encoder(y))
    elif mode == "torch":
        loss = torch_infonce(encoder(x), encoder(y), PEAK_TAU, True)
    if loss is not None:
        loss.backward()
    seconds = time.perf_counter() - started
    peak = peak_rss_bytes()
    return {
        "mode": mode,
        "peak_bytes": peak,
        "loss": None if loss is None else loss.item(),
        "seconds": seconds,
    }


def run_peaks(batch: int) -> None:
    print(
        f"\nPeak RSS of one training step, B={batch}, MLP {IN_DIM}-{HIDDEN}-{HIDDEN}-{OUT_DIM}, "
        f"symmetric InfoNCE, {thread_count()} threads (fresh process each)"
    )
    print(f"{'way':<8} {'peak RSS':>10} {'vs 4 GiB':>9} {'step s':>7} {'loss':>9}", flush=True)
    for mode in ("import", "cached", "bridge", "torch"):
        out = subprocess.run(
            [sys.executable, __file__, "--peak-worker", mode, "--batch", str(batch)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            print(f"{mode:<8} failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        gib = r["peak_bytes"] / 1024**3
        verdict = "within" if r["peak_bytes"] <= TARGET_BYTES else "above"
        loss = "" if r["loss"] is None else f"{r['loss']:.5f}"
        print(f"{mode:<8} {gib:>8.2f} GiB {verdict:>9} {r['seconds']:>7.1f} {loss:>9}", flush=True)


def run_speed(repeats: int) -> None:
    import ruvector_training.torch as rtt
    import torch

    torch.set_num_threads(thread_count())
    g = torch.Generator().manual_seed(0)
    a0 = torch.randn(SPEED_B, SPEED_D, generator=g)
    p0 = a0 + 0.5 * torch.randn(SPEED_B, SPEED_D, generator=g)
    bridge = rtt.InfoNCELoss(temperature=SPEED_TAU)

    def step(fn):
        a, p = a0.clone().requires_grad_(), p0.clone().requires_grad_()
        loss = fn(a, p)
        loss.backward()
        return loss.detach(), a.grad, p.grad

    ways = {
        "bridge": lambda a, p: bridge(a, p),
        "torch": lambda a, p: torch_infonce(a, p, SPEED_TAU, False),
    }
    ours, theirs = step(ways["bridge"]), step(ways["torch"])
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-4, atol=1e-6)
    for o, t in zip(ours[1:], theirs[1:]):
        assert float((o - t).abs().max() / t.abs().max()) < 1e-3
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(repeats):
        for name, fn in ways.items():
            started = time.perf_counter()
            step(fn)
            best[name] = min(best[name], time.perf_counter() - started)
    print(
        f"\nInfoNCE forward + backward, B={SPEED_B}, D={SPEED_D}, float32, "
        f"{thread_count()} threads, best of {repeats}"
    )
    print(f"{'bridge ms':>10} {'torch ms':>10} {'torch / bridge':>15}")
    print(
        f"{best['bridge'] * 1e3:>10.1f} {best['torch'] * 1e3:>10.1f} "
        f"{best['torch'] / best['bridge']:>15.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=PEAK_B, help="pairs in the peak-RSS step")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per way")
    parser.add_argument("--no-peak", action="store_true", help="skip the peak-RSS part")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed part")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"peak RSS at B=4,096 (not {PEAK_B:,}), best of 2: about 30 s (the full run "
        "takes about 1.5 minutes)",
    )
    parser.add_argument("--peak-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_worker:
        print(json.dumps(peak_worker(args.peak_worker, args.batch)))
        return
    if args.quick:
        args.batch, args.repeats = 4096, 2
    if not args.no_speed:
        run_speed(args.repeats)
    if not args.no_peak:
        run_peaks(args.batch)


if __name__ == "__main__":
    main()
