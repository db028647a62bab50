"""``mine_hard_negatives`` speed and peak memory: ours (Rust ``topk``) against
sentence-transformers' function on the same precomputed embeddings.

``--queries`` anchors (each with one positive, the corpus text of the same number) against a
``--corpus`` of texts, D=384 float32 random unit vectors (seed 0), ``num_negatives=3``,
``"top"``, triplets. Each implementation runs in a fresh subprocess that reports the wall time
of the mining call and its peak RSS (``VmHWM``) above the RSS before the call (the embeddings
and the data set are built before). sentence-transformers gets a stand-in model whose
``encode_query`` / ``encode_document`` look the embeddings up; ours gets them as
``anchor_embeddings`` / ``corpus_embeddings``. The two outputs are checked equal.

Run (needs the sentence-transformers extra)::

    python benches/st_mining.py                    # 10,000 x 100,000
    python benches/st_mining.py --queries 1000 --corpus 10000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time

D = 384


def rss(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def worker(mode: str, queries: int, corpus: int) -> dict:
    import datasets
    import numpy as np

    rng = np.random.default_rng(0)
    q = rng.standard_normal((queries, D), dtype=np.float32)
    c = rng.standard_normal((corpus, D), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    texts = [f"d{j}" for j in range(corpus)]
    data = datasets.Dataset.from_dict(
        {"anchor": [f"q{i}" for i in range(queries)], "positive": texts[:queries]}
    )
    if mode == "ours":
        from ruvector_training.sentence_transformers import mine_hard_negatives

        before = rss("VmRSS")
        start = time.perf_counter()
        out = mine_hard_negatives(
            data, anchor_embeddings=q, corpus_embeddings=c, corpus=texts, output_scores=True
        )
    else:
        import torch
        from sentence_transformers.util import cos_sim, mine_hard_negatives, pairwise_cos_sim

        index = {t: i for i, t in enumerate(texts)}
        qindex = {f"q{i}": i for i in range(queries)}

        class Table:
            device = torch.device("cpu")

            def encode_document(self, t, **_):
                return c[[index[x] for x in t]]

            def encode_query(self, t, **_):
                return q[[qindex[x] for x in t]]

            similarity = staticmethod(cos_sim)
            similarity_pairwise = staticmethod(pairwise_cos_sim)

        before = rss("VmRSS")
        start = time.perf_counter()
        out = mine_hard_negatives(data, Table(), corpus=texts, output_scores=True, verbose=False)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(json.dumps(list(out["negative"])).encode()).hexdigest()
    return {"seconds": seconds, "peak_extra_bytes": rss("VmHWM") - before, "digest": digest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--corpus", type=int, default=100_000)
    parser.add_argument("--worker", choices=["ours", "st"])
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.queries, args.corpus)))
        return
    results = {}
    for mode in ("ours", "st"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                mode,
                "--queries",
                str(args.queries),
                "--corpus",
                str(args.corpus),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    same = results["ours"]["digest"] == results["st"]["digest"]
    print(f"{args.queries:,} queries x {args.corpus:,} corpus, D={D}; same negatives: {same}")
    for mode, label in (("ours", "ruvector_training"), ("st", "sentence-transformers")):
        r = results[mode]
        print(f"{label:>22}: {r['seconds']:7.2f} s, peak +{r['peak_extra_bytes'] / 2**20:8.0f} MiB")
    print(f"speed-up: {results['st']['seconds'] / results['ours']['seconds']:.1f}x")


if __name__ == "__main__":
    main()
