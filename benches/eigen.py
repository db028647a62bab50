"""Laplacian eigenvalue benchmark: ``SpectralRegularization.eigenvalues`` vs SciPy.

Problem (defaults from issue 13): a uniform random graph with N=200,000 nodes and E=1,000,000
edges (``rng.integers(0, N, (E, 2))``, seed 0: duplicates summed, self-loops ignored, a few
isolated nodes), normalised Laplacian ``L_sym``, the k smallest eigenvalues for k = 10, 20
and 50. The graph is an expander: its smallest non-zero eigenvalues crowd the edge of the
bulk, which is what makes it hard (the sparse Cholesky factor fills in, so shift-invert is
out, and restarted Krylov methods converge slowly).

Peers, each run in a subprocess with a time limit (``--peer-timeout``, default 300 s; a peer
that exceeds it is reported as ``> limit``) on the same ``scipy.sparse`` Laplacian:

- ``lobpcg``: ``scipy.sparse.linalg.lobpcg(L, X0, largest=False, tol=1e-8, maxiter=2000)``
  with a random ``(N, k)`` start (no preconditioner);
- ``eigsh-SM``: ``scipy.sparse.linalg.eigsh(L, k, which="SM", tol=1e-10)`` (ARPACK, no
  factorisation);
- ``eigsh-sigma``: ``eigsh(L, k, sigma=-1e-3)`` (shift-invert through SuperLU: the factor of an
  expander fills in; only tried with ``--shift-invert``).

Agreement: the largest absolute difference between our values and each peer's (when the peer
finished). Times are single runs (minutes each); the ratio is peer time / our time, both
measured in this one run under the same load.

Run::

    python benches/eigen.py                       # 200k / 1M, k = 10, 20, 50
    python benches/eigen.py --quick               # 20k / 100k, k = 10, 20: ~1 minute
    python benches/eigen.py --ks 50 --peer-timeout 120
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ruvector_training as rt
from bench_env import thread_count

PEER = """
import json, sys, time
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

data = np.load(sys.argv[1])
n, k, method = int(data["n"]), int(sys.argv[2]), sys.argv[3]
edges = data["edges"]
keep = edges[:, 0] != edges[:, 1]
i, j = edges[keep, 0], edges[keep, 1]
w = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n)).tocsr()
w = w + w.T
d = np.asarray(w.sum(axis=1)).ravel()
inv = np.zeros(n)
inv[d > 0] = 1 / np.sqrt(d[d > 0])
lap = sp.diags((d > 0).astype(float)) - sp.diags(inv) @ w @ sp.diags(inv)
lap = lap.tocsr()
start = time.perf_counter()
if method == "lobpcg":
    x0 = np.random.default_rng(1).standard_normal((n, k))
    values = sla.lobpcg(lap, x0, largest=False, tol=1e-8, maxiter=2000)[0]
elif method == "eigsh-SM":
    values = sla.eigsh(lap, k, which="SM", tol=1e-10, return_eigenvectors=False)
else:
    values = sla.eigsh(lap, k, sigma=-1e-3, return_eigenvectors=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "values": np.sort(values).tolist()}))
"""


def random_graph(n: int, e: int, seed: int) -> np.ndarray:
    """``e`` uniform random node pairs (duplicates and self-loops kept: the solvers' conventions
    sum and drop them)."""
    return np.random.default_rng(seed).integers(0, n, size=(e, 2))


def run_peer(path: str, k: int, method: str, timeout: float) -> dict | None:
    """Runs one SciPy peer in a subprocess; ``None`` when it exceeds ``timeout`` or fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", PEER, path, str(k), method],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        print(f"  {method} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--peer-timeout", type=float, default=300.0)
    parser.add_argument("--peers", nargs="*", default=["lobpcg", "eigsh-SM"])
    parser.add_argument("--shift-invert", action="store_true", help="also try eigsh(sigma=)")
    parser.add_argument("--quick", action="store_true", help="20k nodes, 100k edges, k=10,20")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.edges, args.ks = 20_000, 100_000, [10, 20]
    peers = list(args.peers) + (["eigsh-sigma"] if args.shift_invert else [])
    n, edges = args.nodes, random_graph(args.nodes, args.edges, 0)
    spectral = rt.SpectralRegularization(normalized=True)
    print(f"# L_sym of a uniform random graph, N={n:,}, E={args.edges:,}, threads={thread_count()}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "graph.npz")
        np.savez(path, n=n, edges=edges)
        for k in args.ks:
            start = time.perf_counter()
            ours = spectral.eigenvalues(n, edges, k)
            seconds = time.perf_counter() - start
            print(f"  ruvector k={k}: {seconds:.1f} s", file=sys.stderr, flush=True)
            row = {"k": k, "ours": seconds, "peers": {}}
            for method in peers:
                result = run_peer(path, k, method, args.peer_timeout)
                if result is None:
                    row["peers"][method] = (None, None)
                else:
                    diff = float(np.max(np.abs(np.asarray(result["values"]) - ours)))
                    row["peers"][method] = (result["seconds"], diff)
                shown = "timeout/failed" if result is None else f"{result['seconds']:.1f} s"
                print(f"  {method} k={k}: {shown}", file=sys.stderr, flush=True)
            rows.append(row)
    header = "| k | ruvector (s) | " + " | ".join(f"{m} (s) | ratio | max diff" for m in peers)
    print(header + " |")
    print("|" + "---|" * (2 + 3 * len(peers)))
    for row in rows:
        cells = [str(row["k"]), f"{row['ours']:.1f}"]
        for method in peers:
            seconds, diff = row["peers"][method]
            if seconds is None:
                cells += [
                    f"> {args.peer_timeout:.0f}",
                    f"> {args.peer_timeout / row['ours']:.1f}x",
                    "-",
                ]
            else:
                cells += [f"{seconds:.1f}", f"{seconds / row['ours']:.1f}x", f"{diff:.1e}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
