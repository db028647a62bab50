"""Child process of test_interrupt.py: one long kernel call, interrupted by SIGINT.

``python interrupt_worker.py CASE`` builds the case's inputs, computes a small reference
result with the same object, prints ``ready``, then starts a call that takes well over 5 s
here. When it raises ``KeyboardInterrupt`` the worker prints ``interrupted``, checks that the
object still gives the reference result (an interrupted call leaves it unchanged) and prints
``intact``. A call that completes prints ``finished`` instead.
"""

from __future__ import annotations

import signal
import sys

import numpy as np
import ruvector_training as rt

# A worker spawned by a background job inherits SIGINT ignored; Ctrl-C must raise here.
signal.signal(signal.SIGINT, signal.default_int_handler)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Cheap float32 data centred on 0 (generating normals would dominate the setup)."""
    return rng.random(shape, dtype=np.float32) - np.float32(0.5)


def _infonce(symmetric: bool, batch: int) -> tuple:
    rng = np.random.default_rng(0)
    anchors, positives = _uniform(rng, (batch, 64)), _uniform(rng, (batch, 64))
    loss = rt.InfoNCELoss(temperature=0.1, symmetric=symmetric)
    small = (anchors[:64].copy(), positives[:64].copy())
    return (lambda: loss(anchors, positives)), (lambda: loss(*small)[0])


def _topk() -> tuple:
    rng = np.random.default_rng(1)
    queries, corpus = _uniform(rng, (6144, 128)), _uniform(rng, (200_000, 128))
    return (lambda: rt.topk(queries, corpus, 10)), (
        lambda: rt.topk(queries[:8], corpus[:5000], 10)[1]
    )


def _weighted_miner() -> tuple:
    rng = np.random.default_rng(2)
    anchors, pool = _uniform(rng, (3072, 128)), _uniform(rng, (250_000, 128))
    miner = rt.HardNegativeMiner("weighted", num_negatives=8, seed=3)
    return (lambda: miner.mine(anchors, pool)), (lambda: miner.mine(anchors[:8], pool[:5000]))


def _graph_miner() -> tuple:
    rng = np.random.default_rng(4)
    nodes = 50_000
    embeddings = _uniform(rng, (nodes, 64))
    edges = rng.integers(0, nodes, (5 * nodes, 2))
    miner = rt.GraphHardNegativeMiner(hop_distance=3, num_negatives=5)
    anchors = np.arange(nodes)
    return (lambda: miner.mine(anchors, embeddings, edges)), (
        lambda: miner.mine(anchors[:20], embeddings, edges)
    )


def _eigenvalues() -> tuple:
    # A 240 x 240 grid: the sparse Cholesky factor is cheap and block Lanczos iterates for
    # many seconds at k=24, one cancellation check per iteration.
    side = 240
    grid = np.arange(side * side).reshape(side, side)
    edges = np.concatenate(
        [
            np.stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()], axis=1),
            np.stack([grid[:-1].ravel(), grid[1:].ravel()], axis=1),
        ]
    )
    spectral = rt.SpectralRegularization()
    ring = np.stack([np.arange(50), (np.arange(50) + 1) % 50], axis=1)
    return (lambda: spectral.eigenvalues(side * side, edges, 24, method="sparse")), (
        lambda: spectral.eigenvalues(50, ring, 5)
    )


CASES = {
    "infonce_streamed": lambda: _infonce(False, 32768),
    "infonce_symmetric_streamed": lambda: _infonce(True, 32768),
    "topk": _topk,
    "weighted_miner": _weighted_miner,
    "graph_miner": _graph_miner,
    "eigenvalues_sparse": _eigenvalues,
}


def adamw_steps() -> None:
    """Steps AdamW until interrupted, then checks that parameters and state are exactly those
    of ``step_count`` uninterrupted steps: a step is either applied whole or not at all."""
    rng = np.random.default_rng(6)
    initial, grad = _uniform(rng, (4_000_000,)), _uniform(rng, (4_000_000,))

    def optimizer(param: np.ndarray) -> rt.AdamW:
        return rt.AdamW([param], lr=1e-3, max_grad_norm=1.0)

    param = initial.copy()
    opt = optimizer(param)
    print("ready", flush=True)
    try:
        while True:
            opt.step([grad])
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    replay = initial.copy()
    reference = optimizer(replay)
    for _ in range(opt.step_count):
        reference.step([grad])
    np.testing.assert_array_equal(param, replay)
    state, expected = opt.state_dict(), reference.state_dict()
    np.testing.assert_array_equal(state["state"][0]["exp_avg"], expected["state"][0]["exp_avg"])
    opt.step([grad])
    reference.step([grad])
    np.testing.assert_array_equal(param, replay)
    print("intact", flush=True)


def concurrent_topk() -> None:
    """Ctrl-C cancels the main thread's call only: a call another thread is running at the
    same time finishes, with the right result."""
    import threading
    import time

    rng = np.random.default_rng(7)
    queries, corpus = _uniform(rng, (6144, 128)), _uniform(rng, (200_000, 128))
    # The other thread's call does twice the main call's work, so that on an idle machine too
    # it is still running when the main call is interrupted.
    side_corpus = np.concatenate([corpus, corpus])
    side: list = []

    def side_call() -> None:
        side.append(rt.topk(queries, side_corpus, 10))
        side.append(time.monotonic())

    thread = threading.Thread(target=side_call)
    thread.start()
    print("ready", flush=True)
    try:
        rt.topk(queries, corpus, 10)
    except KeyboardInterrupt:
        interrupted_at = time.monotonic()
        print("interrupted", flush=True)
    else:
        print("finished", flush=True)
        return
    thread.join()
    scores, indices = side[0]
    assert side[1] > interrupted_at, "the other thread's call ended before the interrupt"
    expected_scores, expected_indices = rt.topk(queries[:16], side_corpus, 10)
    np.testing.assert_array_equal(indices[:16], expected_indices)
    np.testing.assert_array_equal(scores[:16], expected_scores)
    print("intact", flush=True)


def main(case: str) -> None:
    if case == "adamw_steps":
        adamw_steps()
        return
    if case == "concurrent_topk":
        concurrent_topk()
        return
    long_call, small_call = CASES[case]()
    before = small_call()
    print("ready", flush=True)
    try:
        long_call()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        after = small_call()
        np.testing.assert_array_equal(np.asarray(after), np.asarray(before))
        print("intact", flush=True)
        return
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
