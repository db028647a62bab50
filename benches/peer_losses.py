"""Issue-16 loss benchmarks: forward+backward time of SupConLoss and BatchTripletLoss(hardest)
against the same formula in PyTorch autograd (pytorch-metric-learning / sentence-transformers),
and CoSENTLoss against sentence-transformers; each peak RSS measured in its own subprocess.

    python benches/peer_losses.py            # B=4096, D=768 (and the large-B runs)
    python benches/peer_losses.py --quick    # small sizes, to check the script works
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def _case(name: str, b: int, d: int) -> dict:
    """Runs one case in this process and returns its best time of 3 and peak RSS (MiB)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((b, d)).astype(np.float32)
    labels = rng.integers(0, max(2, b // 4), b)
    times = []
    if name.startswith("ours"):
        import ruvector_training as rt

        if name == "ours_supcon":
            run = lambda: rt.SupConLoss()(z, labels)  # noqa: E731
        elif name == "ours_batch_hard":
            run = lambda: rt.BatchTripletLoss()(z, labels)  # noqa: E731
        else:
            v = z + rng.standard_normal((b, d)).astype(np.float32)
            scores = rng.random(b).astype(np.float32)
            run = lambda: rt.CoSENTLoss()(z, v, scores)  # noqa: E731
    else:
        import torch

        tz = torch.tensor(z, requires_grad=True)
        tl = torch.tensor(labels)
        if name == "torch_supcon":
            from pytorch_metric_learning.losses import SupConLoss

            peer = SupConLoss(temperature=0.1)

            def run():
                peer(tz, tl).backward()

        elif name == "torch_batch_hard":
            from sentence_transformers.sentence_transformer.losses import BatchHardTripletLoss

            peer = BatchHardTripletLoss.__new__(BatchHardTripletLoss)
            torch.nn.Module.__init__(peer)
            from sentence_transformers.sentence_transformer.losses.batch_hard_triplet import (
                BatchHardTripletLossDistanceFunction as Distances,
            )

            peer.distance_metric, peer.triplet_margin = Distances.euclidean_distance, 5.0

            def run():
                peer.batch_hard_triplet_loss(tl, tz).backward()

        else:
            from sentence_transformers import util

            tv = torch.tensor(
                z + rng.standard_normal((b, d)).astype(np.float32), requires_grad=True
            )
            scores = torch.tensor(rng.random(b).astype(np.float32))

            def run():
                # sentence-transformers' B x B formulation (before 6.2's sort).
                s = util.pairwise_cos_sim(tz, tv) * 20.0
                s = s[:, None] - s[None, :]
                s = s - (scores[:, None] < scores[None, :]).float() * 1e12
                s = torch.cat((torch.zeros(1), s.view(-1)))
                torch.logsumexp(s, dim=0).backward()

    for _ in range(3):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": name, "B": b, "D": d, "seconds": min(times), "peak_mib": peak}


def measure(name: str, b: int, d: int) -> dict:
    """:func:`_case` in a fresh subprocess (so each peak is its own)."""
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, str(b), str(d)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {"case": name, "B": b, "D": d, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--case", nargs=3)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(_case(args.case[0], int(args.case[1]), int(args.case[2]))))
        return
    b, d, big, cosent_b, ours_cosent_b = (
        (256, 64, 1024, 2048, 8192) if args.quick else (4096, 768, 32768, 16384, 65536)
    )
    rows = []
    for loss in ("supcon", "batch_hard"):
        ours, peer = measure(f"ours_{loss}", b, d), measure(f"torch_{loss}", b, d)
        rows += [ours, peer]
        if "seconds" in ours and "seconds" in peer:
            print(f"{loss} B={b} D={d}: torch/ours = {peer['seconds'] / ours['seconds']:.2f}x")
        rows.append(measure(f"ours_{loss}", big, d))
    ours, peer = measure("ours_cosent", cosent_b, d), measure("torch_cosent", cosent_b, d)
    rows += [ours, peer, measure("ours_cosent", ours_cosent_b, d)]
    if "seconds" in ours and "seconds" in peer:
        print(f"cosent B={cosent_b}: torch/ours = {peer['seconds'] / ours['seconds']:.1f}x")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
