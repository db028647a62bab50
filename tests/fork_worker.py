"""Child-process side of test_fork.py.

``python fork_worker.py SCENARIO`` calls every kernel in this process first (so its thread
pools exist), then runs them again in child processes created the way SCENARIO says, and
checks that each child returns exactly the parent's results. Prints ``ok`` on success; any
mismatch raises. test_fork.py runs it with a timeout, so a child that hangs fails the test.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time

import numpy as np
import ruvector_training as rt

#: Seconds a child (or a pool of children) may take.
CHILD_TIMEOUT = 60.0


def kernels(seed: int) -> dict[str, np.ndarray]:
    """Runs topk, InfoNCE, AdamW.step, the miners and local contrastive on data from `seed`."""
    rng = np.random.default_rng(seed)
    anchors = rng.standard_normal((300, 24), dtype=np.float32)
    positives = anchors + 0.3 * rng.standard_normal((300, 24), dtype=np.float32)
    pool = rng.standard_normal((3000, 24), dtype=np.float32)
    edges = rng.integers(0, 300, (900, 2))
    scores, indices = rt.topk(anchors, pool, k=5)
    loss, (grad_a, grad_p, _) = rt.InfoNCELoss(temperature=0.1)(anchors, positives)
    param = anchors.copy()
    rt.AdamW([param], lr=0.01, max_grad_norm=1.0).step([grad_a])
    hardest = rt.HardNegativeMiner("hardest", num_negatives=4).mine(anchors, pool)
    weighted = rt.HardNegativeMiner("weighted", num_negatives=4, seed=seed).mine(anchors, pool)
    graph = rt.GraphHardNegativeMiner(num_negatives=3).mine(np.arange(20), anchors, edges)
    local, (grad_local, _, _) = rt.LocalContrastiveLoss()(anchors, edges)
    return {
        "topk_scores": scores,
        "topk_indices": indices,
        "infonce": np.array([loss]),
        "infonce_grad_anchors": grad_a,
        "infonce_grad_positives": grad_p,
        "adamw_param": param,
        "miner_hardest": hardest,
        "miner_weighted": weighted,
        "graph_miner": graph,
        "local": np.array([local]),
        "local_grad": grad_local,
    }


def mine_batch(batch: list[int]) -> np.ndarray:
    """A DataLoader collate_fn: mines negatives for the anchors of `batch` (seed 0 data)."""
    rng = np.random.default_rng(0)
    anchors = rng.standard_normal((64, 24), dtype=np.float32)
    pool = rng.standard_normal((2000, 24), dtype=np.float32)
    return rt.HardNegativeMiner("hardest", num_negatives=4).mine(anchors[batch], pool)


def check_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def run_in_forked_child(task) -> object:
    """`task()` in an os.fork() child; its pickled result comes back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            payload = pickle.dumps(task())
            with os.fdopen(write, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as source:
        payload = source.read()
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return pickle.loads(payload)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise TimeoutError("forked child did not finish")
        time.sleep(0.01)


def pool_map(method: str) -> None:
    import multiprocessing

    expected = [kernels(seed) for seed in (0, 1)]
    with multiprocessing.get_context(method).Pool(2) as workers:
        results = workers.map_async(kernels, [0, 1, 0, 1]).get(timeout=CHILD_TIMEOUT)
    for got, want in zip(results, expected * 2):
        check_same(got, want)


def data_loader() -> None:
    import torch.utils.data

    expected = [mine_batch(list(range(i, i + 8))) for i in range(0, 64, 8)]
    loader = torch.utils.data.DataLoader(
        list(range(64)),
        batch_size=8,
        num_workers=2,
        multiprocessing_context="fork",
        collate_fn=mine_batch,
        timeout=CHILD_TIMEOUT,
    )
    got = list(loader)
    assert len(got) == len(expected)
    for batch, want in zip(got, expected):
        np.testing.assert_array_equal(batch, want)


def fork_while_kernels_run() -> None:
    """Forks while another thread of the parent is inside kernels (its pools are busy)."""
    expected = kernels(0)
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            kernels(1)

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        time.sleep(0.2)
        for _ in range(3):
            check_same(run_in_forked_child(lambda: kernels(0)), expected)
    finally:
        stop.set()
        thread.join()


def main(scenario: str) -> None:
    if scenario == "os_fork":
        expected = kernels(0)
        check_same(run_in_forked_child(lambda: kernels(0)), expected)
        # A grandchild: the child's own pools are rebuilt again after its fork.
        nested = run_in_forked_child(lambda: (kernels(0), run_in_forked_child(lambda: kernels(0))))
        check_same(nested[0], expected)
        check_same(nested[1], expected)
    elif scenario in ("fork_pool", "spawn_pool"):
        pool_map(scenario.split("_")[0])
    elif scenario == "data_loader":
        data_loader()
    elif scenario == "fork_while_kernels_run":
        fork_while_kernels_run()
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    print("ok", flush=True)


if __name__ == "__main__":
    # Run as the importable module, so spawned children find `kernels` by its module name.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fork_worker

    fork_worker.main(sys.argv[1])
