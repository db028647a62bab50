"""Graph-loss benchmark: ruvector_training vs NumPy (np.add.at) vs PyTorch (CPU), forward +
backward, on the Facebook page-page graph shipped with the package
(``ruvector_training.datasets.load_facebook()``: 22,470 nodes, 170,823 undirected edges).

What is timed, per case, is one call that returns the loss *and* the gradient w.r.t. the
embeddings (N=22,470, D=128, standard normal, seed 0):

- ``local``: LocalContrastiveLoss(margin=1.0, mean) over the graph's edges labelled similar plus
  as many uniformly random node pairs labelled dissimilar (seed 0);
- ``spectral``: SpectralRegularization(lam=0.01, normalized=True) over the graph's edges.

Also timed: ``SpectralRegularization.eigenvalues(N, edges, k=10)`` (the 10 smallest Laplacian
eigenvalues, ``L_sym`` and ``D - W``; target under 5 s), against ``scipy.sparse.linalg.eigsh(L,
k=10, which="SA")`` (ARPACK Lanczos, the usual call) when scipy is installed; scipy runs once per
case (it takes from ~1 s to over a minute here) and the table gives the largest difference
between its values and ours.

Peers: a self-contained NumPy implementation (gather rows, per-edge terms, ``np.add.at`` scatter
of the edge gradients into both endpoints) and, when torch is importable, the same computation
with autograd (``index_select`` + ``.backward()``). The first call of each library is also the
check that its loss and gradient agree with ours. Times are best-of-N, round-robin. Threads:
``RAYON_NUM_THREADS`` if set, else the CPUs this process may run on (torch gets the same).

Run::

    python benches/losses.py                 # float32, 10 rounds
    python benches/losses.py --dtype float64 --rounds 5
    python benches/losses.py --no-scipy      # skip the (slow) scipy eigsh baseline
    python benches/losses.py --quick         # 3 rounds, eigenvalues once, no scipy: ~20 s
    .venv/bin/python benches/losses.py   # in the test venv (torch installed)
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

import numpy as np
from bench_env import thread_count

DIM = 128
SEED = 0
MARGIN = 1.0
LAM = 0.01
LOSS_RTOL = 1e-4
GRAD_TOL = 1e-4  # max |ours - peer| / max |peer|


def import_torch(n_threads: int, wanted: bool) -> Any | None:
    if not wanted:
        return None
    try:
        import torch
    except ImportError as exc:
        print(f"note: torch is not importable ({exc}); the torch column is n/a")
        return None
    torch.set_num_threads(n_threads)
    return torch


# --------------------------------------------------------------------------------------------
# NumPy peers


def numpy_local(z: np.ndarray, edges: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    i, j = edges[:, 0], edges[:, 1]
    diff = z[i] - z[j]
    d2 = np.einsum("ed,ed->e", diff, diff)
    d = np.sqrt(d2)
    gap = MARGIN - d
    items = np.where(labels, d2, np.maximum(gap, 0) ** 2)
    weight = 1.0 / len(edges)
    safe = np.where(d > 0, d, 1)
    coef = np.where(labels, 2.0, np.where(gap > 0, -2.0 * gap / safe, 0.0)) * weight
    g_edge = coef[:, None].astype(z.dtype) * diff
    grad = np.zeros_like(z)
    np.add.at(grad, i, g_edge)
    np.add.at(grad, j, -g_edge)
    return float(items.sum(dtype=np.float64) * weight), grad


def numpy_spectral(z: np.ndarray, edges: np.ndarray) -> tuple[float, np.ndarray]:
    keep = edges[:, 0] != edges[:, 1]
    i, j = edges[keep, 0], edges[keep, 1]
    degree = np.bincount(i, minlength=len(z)) + np.bincount(j, minlength=len(z))
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1)), 0.0).astype(z.dtype)
    y = z * scale[:, None]
    diff = y[i] - y[j]
    loss = LAM * float(np.einsum("ed,ed->", diff, diff, dtype=np.float64))
    g_edge = (2.0 * LAM) * diff
    grad_y = np.zeros_like(z)
    np.add.at(grad_y, i, g_edge)
    np.add.at(grad_y, j, -g_edge)
    return loss, grad_y * scale[:, None]


# --------------------------------------------------------------------------------------------
# torch peers


def torch_local(torch: Any, z: np.ndarray, edges: np.ndarray, labels: np.ndarray) -> Callable:
    i, j = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1])
    similar = torch.from_numpy(labels)

    def run() -> tuple[float, np.ndarray]:
        zt = torch.from_numpy(z).requires_grad_(True)
        diff = zt.index_select(0, i) - zt.index_select(0, j)
        d2 = (diff * diff).sum(dim=1)
        # sqrt(d2 + 0) has an infinite gradient at 0; clamp like a careful torch user would.
        d = d2.clamp_min(1e-30).sqrt()
        items = torch.where(similar, d2, (MARGIN - d).clamp_min(0) ** 2)
        loss = items.mean()
        loss.backward()
        return float(loss.detach()), zt.grad.numpy()

    return run


def torch_spectral(torch: Any, z: np.ndarray, edges: np.ndarray) -> Callable:
    keep = edges[:, 0] != edges[:, 1]
    i, j = torch.from_numpy(edges[keep, 0]), torch.from_numpy(edges[keep, 1])
    degree = torch.bincount(i, minlength=len(z)) + torch.bincount(j, minlength=len(z))
    scale = torch.where(degree > 0, degree.clamp_min(1).to(torch.float64).rsqrt(), 0.0)
    scale = scale.to(torch.from_numpy(z).dtype)[:, None]

    def run() -> tuple[float, np.ndarray]:
        zt = torch.from_numpy(z).requires_grad_(True)
        y = zt * scale
        diff = y.index_select(0, i) - y.index_select(0, j)
        loss = LAM * (diff * diff).sum()
        loss.backward()
        return float(loss.detach()), zt.grad.numpy()

    return run


# --------------------------------------------------------------------------------------------
# eigenvalues


def import_scipy(wanted: bool) -> Any | None:
    if not wanted:
        return None
    try:
        import scipy.sparse
        import scipy.sparse.linalg
    except ImportError as exc:
        print(f"note: scipy is not importable ({exc}); the scipy column is n/a")
        return None
    return scipy


def scipy_laplacian(scipy: Any, n: int, edges: np.ndarray, normalized: bool) -> Any:
    """The same Laplacian as ours, as a scipy CSR matrix (self-loops dropped, duplicates summed)."""
    sparse = scipy.sparse
    keep = edges[:, 0] != edges[:, 1]
    i, j = edges[keep, 0], edges[keep, 1]
    w = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    w = w + w.T
    degree = np.asarray(w.sum(axis=1)).ravel()
    if not normalized:
        return (sparse.diags(degree) - w).tocsr()
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-300)), 0.0)
    s = sparse.diags(scale)
    return (sparse.diags((degree > 0).astype(float)) - s @ w @ s).tocsr()


def eigenvalue_table(rt: Any, scipy: Any, n: int, edges: np.ndarray, rounds: int) -> None:
    k = 10
    print(f"\neigenvalues(k={k}), N={n:,}, E={len(edges):,}, best of {rounds} (scipy: one run)\n")
    print("| Laplacian | ours (s) | scipy eigsh SA (s) | scipy / ours | max abs diff |")
    print("| --- | ---: | ---: | ---: | ---: |", flush=True)
    for normalized in (True, False):
        spectral = rt.SpectralRegularization(normalized=normalized)
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            ours = spectral.eigenvalues(n, edges, k)
            best = min(best, time.perf_counter() - start)
        cells = ["n/a", "n/a", "n/a"]
        if scipy is not None:
            lap = scipy_laplacian(scipy, n, edges, normalized)
            start = time.perf_counter()
            theirs = scipy.sparse.linalg.eigsh(lap, k=k, which="SA", return_eigenvectors=False)
            elapsed = time.perf_counter() - start
            diff = float(np.max(np.abs(np.sort(theirs) - ours)))
            cells = [f"{elapsed:.2f}", f"{elapsed / best:.1f}x", f"{diff:.1e}"]
        name = "L_sym" if normalized else "D - W"
        print(f"| {name} | {best:.2f} | {' | '.join(cells)} |", flush=True)


# --------------------------------------------------------------------------------------------


def best_of(cases: dict[str, Callable], rounds: int) -> dict[str, float]:
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def check(name: str, ours: tuple[float, np.ndarray], peer: tuple[float, np.ndarray]) -> None:
    loss_err = abs(ours[0] - peer[0]) / max(abs(peer[0]), 1e-30)
    grad_err = float(np.max(np.abs(ours[1] - peer[1])) / max(np.max(np.abs(peer[1])), 1e-30))
    if loss_err > LOSS_RTOL or grad_err > GRAD_TOL:
        sys.exit(f"{name}: disagrees with ours (loss rel {loss_err:.2e}, grad {grad_err:.2e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--rounds", type=int, default=10, help="best of this many calls")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--no-scipy", action="store_true", help="skip scipy's eigsh baseline")
    parser.add_argument("--eigen-rounds", type=int, default=3, help="best of, for eigenvalues")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds, eigenvalues once, no scipy: about 20 s (the full run, whose scipy "
        "D - W eigsh alone takes about a minute, about 2 minutes)",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.eigen_rounds, args.no_scipy = 3, 1, True
    import ruvector_training as rt

    n_threads = thread_count()
    torch = import_torch(n_threads, not args.no_torch)
    graph = rt.datasets.load_facebook()
    edges, n = graph.edges, graph.num_nodes
    rng = np.random.default_rng(SEED)
    z = rng.standard_normal((n, DIM)).astype(args.dtype)
    random_pairs = rng.integers(0, n, size=edges.shape)
    local_edges = np.concatenate([edges, random_pairs])
    labels = np.concatenate([np.ones(len(edges), bool), np.zeros(len(random_pairs), bool)])

    local = rt.LocalContrastiveLoss(margin=MARGIN)
    spectral = rt.SpectralRegularization(lam=LAM, normalized=True)

    def ours_local():
        value, grads = local(z, local_edges, labels)
        return value, grads[0]

    def ours_spectral():
        value, grads = spectral(z, edges)
        return value, grads[0]

    suites = {
        f"local contrastive (E={len(local_edges):,})": {
            "ours": ours_local,
            "numpy": lambda: numpy_local(z, local_edges, labels),
            **({"torch": torch_local(torch, z, local_edges, labels)} if torch else {}),
        },
        f"spectral, normalized (E={len(edges):,})": {
            "ours": ours_spectral,
            "numpy": lambda: numpy_spectral(z, edges),
            **({"torch": torch_spectral(torch, z, edges)} if torch else {}),
        },
    }
    print(
        f"Facebook graph: N={n:,}, D={DIM}, {args.dtype}, {n_threads} threads, "
        f"best of {args.rounds} (forward + backward)\n",
        flush=True,
    )
    print("| case | ours (ms) | numpy (ms) | torch (ms) | numpy / ours | torch / ours |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for case, runs in suites.items():
        ours = runs["ours"]()
        for name, run in runs.items():
            if name != "ours":
                check(f"{case} {name}", ours, run())
        best = best_of(runs, args.rounds)
        t_ours = best["ours"]
        cells = [f"{best[k] * 1e3:.1f}" if k in best else "n/a" for k in ("numpy", "torch")]
        ratios = [f"{best[k] / t_ours:.1f}x" if k in best else "n/a" for k in ("numpy", "torch")]
        print(
            f"| {case} | {t_ours * 1e3:.1f} | {' | '.join(cells)} | {' | '.join(ratios)} |",
            flush=True,
        )
    eigenvalue_table(rt, import_scipy(not args.no_scipy), n, edges, args.eigen_rounds)


if __name__ == "__main__":
    main()
