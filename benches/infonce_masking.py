"""What false-negative masking, GIST guides and a queue cost: InfoNCE forward + backward with
and without them, timed round-robin in one process (the same load hits every variant).

Inputs: in-batch cosine InfoNCE, float32, tau 0.05, B=4096, D=768 (``--b``, ``--d``); ids with
about 5% of the texts repeated (``anchor_ids`` and ``candidate_ids``); a guide of dimension
``D/2``; a queue of ``B`` past embeddings with ids. Each row prints the best of ``--repeats``
calls and its ratio to the plain call.

Run::

    python benches/infonce_masking.py             # B=4096, D=768, best of 5
    python benches/infonce_masking.py --quick     # B=1024, best of 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import ruvector_training as rt
from bench_env import thread_count


def make_inputs(b: int, d: int, seed: int = 0) -> tuple[list[np.ndarray], dict[str, dict]]:
    rng = np.random.default_rng(seed)
    anchors = rng.standard_normal((b, d), dtype=np.float32)
    positives = anchors + 0.5 * rng.standard_normal((b, d), dtype=np.float32)
    # About 5% of the positives repeat another row's text (same id).
    candidate_ids = np.arange(b)
    repeats = rng.choice(b, size=b // 20, replace=False)
    candidate_ids[repeats] = rng.integers(0, b, size=len(repeats))
    anchor_ids = np.arange(b, 2 * b)
    ids = {"anchor_ids": anchor_ids, "candidate_ids": candidate_ids}
    dg = max(1, d // 2)
    guide = {
        "guide_anchors": rng.standard_normal((b, dg), dtype=np.float32),
        "guide_positives": rng.standard_normal((b, dg), dtype=np.float32),
    }
    queue = rt.EmbeddingQueue(b, d, np.float32)
    queue.push(rng.standard_normal((b, d), dtype=np.float32), ids=np.arange(3 * b, 4 * b))
    variants = {
        "plain": {},
        "ids": ids,
        "guide": guide,
        "ids + queue (Q=B)": {**ids, "queue": queue},
    }
    return [anchors, positives], variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--b", type=int, default=4096)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="B=1024, best of 2")
    args = parser.parse_args()
    if args.quick:
        args.b, args.repeats = 1024, 2
    arrays, variants = make_inputs(args.b, args.d)
    print(f"InfoNCE in-batch cosine float32, B={args.b}, D={args.d}, {thread_count()} threads")
    for symmetric in (False, True):
        loss = rt.InfoNCELoss(temperature=0.05, symmetric=symmetric)
        for kwargs in variants.values():
            loss(*arrays, **kwargs)  # warm-up (and workspace)
        best = {name: float("inf") for name in variants}
        for _ in range(args.repeats):
            for name, kwargs in variants.items():
                start = time.perf_counter()
                loss(*arrays, **kwargs)
                best[name] = min(best[name], time.perf_counter() - start)
        for name, seconds in best.items():
            ratio = seconds / best["plain"]
            print(
                f"symmetric={symmetric!s:5}  {name:18}  {seconds * 1e3:8.1f} ms  "
                f"{ratio:5.2f}x plain",
                flush=True,
            )


if __name__ == "__main__":
    main()
