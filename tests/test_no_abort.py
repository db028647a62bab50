"""No input makes the library abort the process (issue 13, "Aborts").

Every buffer sized by an input is allocated fallibly, so an input too large to process raises
``MemoryError`` (or a ``ValueError`` naming the argument) before any work starts, never the
allocator's abort (``SIGABRT``, exit 134). Each case runs in its own subprocess under an
address-space limit (``RLIMIT_AS``), so an abort fails the test instead of killing pytest, and
asserts that the script exited normally having caught the error (or, where the input fits,
having computed the right result).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import ruvector_training as rt

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(rt.__file__)))

PRELUDE = """
import resource
import sys

import numpy as np
import ruvector_training as rt


def limit(gib):
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = int(gib * 2**30)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def expect_memory_error(arg, call):
    try:
        call()
    except MemoryError as error:
        assert arg in str(error), f"MemoryError does not name {arg!r}: {error}"
        print(f"raised MemoryError: {error}", flush=True)
        return
    except ValueError as error:
        assert arg in str(error), f"ValueError does not name {arg!r}: {error}"
        print(f"raised ValueError: {error}", flush=True)
        return
    raise AssertionError(f"no error raised for {arg}")


HUGE = 2**40
"""


def run_case(body: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs ``PRELUDE + body`` in a fresh interpreter that imports this build; asserts it
    exited with status 0 (an abort is -6 / 134)."""
    script = PRELUDE + textwrap.dedent(body)
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_DIR + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("RAYON_NUM_THREADS", "2")
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"exit status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


# Broadcast (stride-0) views whose copy would need terabytes: each must be a MemoryError (or
# ValueError) naming the argument, raised before the kernel starts, under a 3 GiB limit.
BROADCAST_CASES = {
    "cosine_u_v": """
        a = np.broadcast_to(np.float32(1), (HUGE, 16))
        s = np.broadcast_to(np.float32(0.5), (HUGE,))
        expect_memory_error("u", lambda: rt.CosineSimilarityLoss()(a, a, s))
    """,
    "infonce_anchors": """
        a = np.broadcast_to(np.float32(1), (HUGE, 16))
        expect_memory_error("anchors", lambda: rt.InfoNCELoss()(a, a))
    """,
    "infonce_negatives": """
        a = np.ones((8, 16), np.float32)
        n = np.broadcast_to(np.float32(1), (8, HUGE, 16))
        expect_memory_error("negatives", lambda: rt.InfoNCELoss()(a, a, n))
    """,
    "triplet_negatives": """
        a = np.ones((8, 16), np.float32)
        n = np.broadcast_to(np.float32(1), (8, HUGE, 16))
        expect_memory_error("negatives", lambda: rt.TripletLoss()(a, a, n))
    """,
    "topk_queries": """
        q = np.broadcast_to(np.float32(1), (HUGE, 16))
        c = np.ones((10, 16), np.float32)
        expect_memory_error("queries", lambda: rt.topk(q, c, k=2))
    """,
    "topk_corpus": """
        q = np.ones((4, 16), np.float32)
        c = np.broadcast_to(np.float32(1), (HUGE, 16))
        expect_memory_error("corpus", lambda: rt.topk(q, c, k=2))
    """,
    "topk_k": """
        q = np.ones((2**20, 4), np.float32)
        c = np.ones((10, 4), np.float32)
        expect_memory_error("k", lambda: rt.topk(q, c, k=2**40))
    """,
    "miner_pool": """
        a = np.ones((4, 16), np.float32)
        pool = np.broadcast_to(np.float32(1), (HUGE, 16))
        expect_memory_error("pool", lambda: rt.HardNegativeMiner("hardest", 2).mine(a, pool))
    """,
    "graph_miner_embeddings": """
        z = np.broadcast_to(np.float32(1), (HUGE, 16))
        edges = np.array([[0, 1], [1, 2]])
        miner = rt.GraphHardNegativeMiner(2, 2)
        expect_memory_error("embeddings", lambda: miner.mine(np.array([0]), z, edges))
    """,
    "local_contrastive_labels": """
        z = np.ones((3, 4), np.float32)
        edges = np.array([[0, 1], [1, 2]])
        labels = np.broadcast_to(np.True_, (HUGE,))
        expect_memory_error("labels", lambda: rt.LocalContrastiveLoss()(z, edges, labels))
    """,
    "local_contrastive_edges": """
        z = np.ones((3, 4), np.float32)
        edges = np.broadcast_to(np.array([0, 1]), (HUGE, 2))
        expect_memory_error("edges", lambda: rt.LocalContrastiveLoss()(z, edges))
    """,
    "spectral_weights": """
        z = np.ones((3, 4), np.float32)
        edges = np.array([[0, 1], [1, 2]])
        w = np.broadcast_to(np.float32(1), (HUGE,))
        expect_memory_error("weights", lambda: rt.SpectralRegularization()(z, edges, w))
    """,
    "topk_exclude": """
        q = np.ones((4, 8), np.float32)
        c = np.ones((10, 8), np.float32)
        exclude = np.broadcast_to(np.int64(0), (4, HUGE))
        expect_memory_error("exclude", lambda: rt.topk(q, c, k=2, exclude=exclude))
    """,
    "optimizer_grad": """
        p = np.zeros(2**20, np.float32)
        g = np.broadcast_to(np.float32(1), (2**20,))
        opt = rt.SGD([p], lr=0.1)
        opt.step([g])  # a small strided gradient is copied and applied
        assert p[0] == np.float32(-0.1), p[0]
        print("ok")
    """,
}


def test_broadcast_inputs_raise_instead_of_aborting():
    # One subprocess runs every case in turn (an interpreter start per case would cost more
    # than the cases); each prints its name first, so an abort shows which case it was.
    body = "".join(
        f"\nprint('case {name}', flush=True)\n" + textwrap.dedent(code)
        for name, code in sorted(BROADCAST_CASES.items())
    )
    result = run_case("limit(3)\n" + body)
    for name in BROADCAST_CASES:
        assert f"case {name}" in result.stdout
    assert result.stdout.count("raised ") == len(BROADCAST_CASES) - 1, result.stdout


def test_fortran_ordered_corpus_is_searched_in_place_under_a_memory_limit():
    # 2,000,000 x 128 float32 (977 MiB) in Fortran order under a 2 GiB address-space limit:
    # the corpus is read tile by tile (no whole copy), so the search succeeds and equals the
    # C-ordered result. Values are small-integer products (exact in float32 whatever the
    # summation order), so both layouts hold the same bits without existing at once.
    run_case(
        """
        m, d, r = 2_000_000, 128, 8
        rng = np.random.default_rng(0)
        u = rng.integers(-8, 9, (m, r)).astype(np.float32)
        w = rng.integers(-8, 9, (r, d)).astype(np.float32)
        q = rng.standard_normal((3, d), dtype=np.float32)
        limit(2)
        corpus = np.empty((d, m), np.float32).T  # Fortran order
        np.matmul(w.T, u.T, out=corpus.T)
        assert corpus.flags.f_contiguous and not corpus.flags.c_contiguous
        got = rt.topk(q, corpus, k=5)
        del corpus
        c_order = np.empty((m, d), np.float32)
        np.matmul(u, w, out=c_order)
        want = rt.topk(q, c_order, k=5)
        assert np.array_equal(got[1], want[1]), (got[1], want[1])
        assert np.array_equal(got[0], want[0])
        print("ok")
        """,
        timeout=120,
    )


def test_large_infonce_under_a_memory_limit_raises_memory_error():
    # B=65536, D=768 float32 (192 MiB per input) under 1 GB: the kernel's buffers (gradients,
    # normalised copies, logits panel) and gemm's packing buffers (probed before each GEMM, see
    # linalg::gemm_into) cannot all be allocated: a MemoryError before any work, never an abort.
    run_case(
        """
        b, d = 65536, 768
        a = np.ones((b, d), np.float32)
        a[:, 0] = np.arange(b, dtype=np.float32)
        limit(1.0)
        expect_memory_error("", lambda: rt.InfoNCELoss()(a, a))
        """,
    )


def test_torch_expand_raises_memory_error():
    pytest.importorskip("torch", reason="torch is not installed")
    run_case(
        """
        import torch
        from ruvector_training.torch import CosineSimilarityLoss

        t = torch.ones(1, 1).expand(2**20, 2**20)
        s = torch.full((1,), 0.5).expand(2**20)
        limit(3)
        expect_memory_error("u", lambda: CosineSimilarityLoss()(t, t, s))
        """,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_corpus_and_pool_read_in_place_equal_contiguous(dtype):
    # Fortran order, row and column slices: read tile by tile, never copied whole, with the
    # same results (scores bit for bit) as the C-contiguous copy; NaN positions are reported
    # as row-major flat indices.
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3000, 40)).astype(dtype)
    q = rng.standard_normal((7, 17)).astype(dtype)
    views = [
        np.asfortranarray(base[:, :17]),
        base[::2, 3:20],
        base[:, 1:35:2],
        np.asfortranarray(base)[::3, :17],
    ]
    for view in views:
        dense = np.ascontiguousarray(view)
        for similarity in ("dot", "cosine"):
            got = rt.topk(q, view, k=9, similarity=similarity)
            want = rt.topk(q, dense, k=9, similarity=similarity)
            np.testing.assert_array_equal(got[1], want[1])
            np.testing.assert_array_equal(got[0], want[0])
            miner = rt.HardNegativeMiner("hardest", 4, similarity=similarity)
            np.testing.assert_array_equal(miner.mine(q, view), miner.mine(q, dense))
    bad = np.asfortranarray(base[:, :17])
    bad[1234, 5] = np.nan
    with pytest.raises(ValueError, match="corpus: contains a non-finite value .* 20983"):
        rt.topk(q, bad, k=2)
