"""``topk`` against a brute-force NumPy reference (full matrix + stable argsort), FAISS when
installed, and its bad-input contract."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype, outputs_per_thread_count
from reference_search import similarity_matrix, topk_reference

SIMILARITIES = ("cosine", "dot")


def assert_topk_matches(queries, corpus, k, similarity, exclude=None):
    """Scores match the reference to dtype precision; indices match exactly wherever the
    reference has no near-tie at that rank (near-ties may legitimately order either way)."""
    scores, indices = rt.topk(queries, corpus, k, similarity=similarity, exclude=exclude)
    ref_scores, ref_indices = topk_reference(queries, corpus, k, similarity, exclude)
    assert scores.dtype == queries.dtype and indices.dtype == np.int64
    assert scores.shape == indices.shape == (len(queries), k)
    tol = 1e-5 if queries.dtype == np.float32 else 1e-12
    scale = max(1.0, float(np.abs(ref_scores[np.isfinite(ref_scores)]).max(initial=0.0)))
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=tol * scale)
    full = similarity_matrix(queries, corpus, similarity)
    for i in range(len(queries)):
        for slot in range(k):
            j, ref_j = indices[i, slot], ref_indices[i, slot]
            if j == ref_j:
                continue
            assert j != -1 and ref_j != -1, (i, slot)
            assert abs(full[i, j] - full[i, ref_j]) <= tol * scale, (i, slot, j, ref_j)
        kept = indices[i][indices[i] >= 0]
        assert len(set(kept.tolist())) == len(kept)
    return scores, indices


@each_dtype
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize(
    ("q", "m", "d", "k"),
    [(1, 1, 1, 1), (7, 50, 3, 5), (40, 3000, 16, 10), (300, 2100, 64, 1), (5, 20, 8, 25)],
)
def test_random_data_matches_brute_force(dtype, similarity, q, m, d, k):
    rng = np.random.default_rng(q * 1000 + m + d + k)
    queries = rng.standard_normal((q, d)).astype(dtype)
    corpus = rng.standard_normal((m, d)).astype(dtype)
    assert_topk_matches(queries, corpus, k, similarity)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_exact_ties_resolve_to_the_lower_index(similarity):
    rng = np.random.default_rng(3)
    # Small integers: every product is exact, so equal scores are really equal.
    queries = rng.integers(-2, 3, size=(64, 3)).astype(np.float32)
    corpus = rng.integers(-2, 3, size=(2600, 3)).astype(np.float32)
    corpus[1000:1100] = corpus[:100]  # duplicated rows tie exactly
    scores, indices = rt.topk(queries, corpus, 30, similarity=similarity)
    ref_scores, ref_indices = topk_reference(queries, corpus, 30, similarity)
    if similarity == "dot":
        np.testing.assert_array_equal(indices, ref_indices)
        np.testing.assert_array_equal(scores, ref_scores.astype(np.float32))
    else:
        np.testing.assert_allclose(scores, ref_scores, atol=1e-6)


def test_k_at_least_m_returns_everything_then_pads():
    rng = np.random.default_rng(4)
    queries = rng.standard_normal((3, 5))
    corpus = rng.standard_normal((4, 5))
    scores, indices = assert_topk_matches(queries, corpus, 6, "cosine")
    assert (indices[:, 4:] == -1).all() and np.isneginf(scores[:, 4:]).all()
    assert sorted(indices[0, :4].tolist()) == [0, 1, 2, 3]


def test_zero_vectors_score_zero_under_cosine():
    queries = np.array([[0.0, 0.0], [1.0, 0.0]])
    corpus = np.array([[0.0, 0.0], [-1.0, 0.0], [2.0, 0.0]])
    scores, indices = rt.topk(queries, corpus, 3)
    np.testing.assert_array_equal(scores, [[0.0, 0.0, 0.0], [1.0, 0.0, -1.0]])
    np.testing.assert_array_equal(indices, [[0, 1, 2], [2, 0, 1]])


@pytest.mark.parametrize("form", ["lists", "array", "sets"])
def test_exclude_is_never_returned(form):
    rng = np.random.default_rng(5)
    queries = rng.standard_normal((20, 8)).astype(np.float32)
    corpus = rng.standard_normal((500, 8)).astype(np.float32)
    _, plain = rt.topk(queries, corpus, 5)
    lists = [list(row[:3]) + [int(i)] for i, row in enumerate(plain)]
    exclude = {
        "lists": lists,
        "array": np.array(lists, dtype=np.int32),
        "sets": [set(row) for row in lists],
    }[form]
    _, indices = assert_topk_matches(queries, corpus, 5, "cosine", exclude=lists)
    _, again = rt.topk(queries, corpus, 5, exclude=exclude)
    np.testing.assert_array_equal(again, indices)
    for row, skip in zip(indices, lists):
        assert not set(row.tolist()) & set(skip)


def test_minus_one_padding_in_exclude_is_ignored_and_everything_excluded_pads():
    corpus = np.eye(3)
    queries = np.ones((2, 3))
    _, indices = rt.topk(queries, corpus, 2, exclude=np.array([[-1, 1], [0, 1]]))
    np.testing.assert_array_equal(indices, [[0, 2], [2, -1]])


def test_non_contiguous_and_fortran_inputs():
    rng = np.random.default_rng(6)
    base = rng.standard_normal((60, 20))
    queries = base[::3, ::2]
    corpus = np.asfortranarray(rng.standard_normal((70, 10)))
    assert_topk_matches(queries, corpus, 4, "dot")


def test_results_do_not_depend_on_the_thread_count(tmp_path):
    script = (
        "import numpy as np, ruvector_training as rt, sys\n"
        "rng = np.random.default_rng(7)\n"
        "q = rng.standard_normal((600, 24)).astype(np.float32)\n"
        "c = rng.standard_normal((9000, 24)).astype(np.float32)\n"
        "s, i = rt.topk(q, c, 7)\n"
        "np.savez(sys.argv[1], s=s, i=i)\n"
    )
    outputs = outputs_per_thread_count(script, tmp_path)
    np.testing.assert_array_equal(outputs[0]["i"], outputs[1]["i"])
    np.testing.assert_array_equal(outputs[0]["s"], outputs[1]["s"])


def test_matches_faiss_index_flat_ip():
    faiss = pytest.importorskip("faiss", reason="faiss-cpu is not installed")
    rng = np.random.default_rng(8)
    queries = rng.standard_normal((200, 32)).astype(np.float32)
    corpus = rng.standard_normal((5000, 32)).astype(np.float32)
    index = faiss.IndexFlatIP(32)
    index.add(corpus)
    faiss_scores, faiss_indices = index.search(queries, 10)
    scores, indices = rt.topk(queries, corpus, 10, similarity="dot")
    np.testing.assert_allclose(scores, faiss_scores, rtol=1e-5, atol=1e-4)
    assert (indices == faiss_indices).mean() > 0.999


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 0}, ValueError, "k: must be >= 1"),
        ({"k": -3}, ValueError, "k: must be >= 1"),
        ({"k": 2**70}, ValueError, "k: must be >= 1"),
        ({"k": 2.0}, TypeError, "k: expected an integer, got float"),
        ({"similarity": "l2"}, ValueError, "similarity"),
        ({"corpus": np.zeros((5, 3))}, ValueError, r"corpus: expected shape \(M, 4\)"),
        ({"corpus": np.zeros(5)}, ValueError, "corpus: expected a 2-D array"),
        ({"corpus": np.zeros((5, 4), dtype=np.float32)}, TypeError, "corpus: dtype float32"),
        ({"queries": np.zeros((2, 4), dtype=np.int64)}, TypeError, "queries: expected dtype"),
        ({"queries": [[1.0] * 4]}, TypeError, "queries: expected a numpy.ndarray"),
        ({"exclude": [[0]]}, ValueError, r"exclude: expected one list of indices per query \(2\)"),
        ({"exclude": [[0], [5]]}, ValueError, r"exclude\[1\]: index 5 is out of range"),
        ({"exclude": [[0], [-2]]}, ValueError, r"exclude\[1\]: index -2"),
        ({"exclude": [[0], ["a"]]}, TypeError, r"exclude\[1\]: expected an iterable of integer"),
        ({"exclude": np.zeros(2, dtype=int)}, ValueError, "exclude: expected a 2-D array"),
        ({"exclude": 3}, TypeError, "exclude: expected a sequence"),
    ],
)
def test_bad_inputs_are_clear_errors(kwargs, error, match):
    args = {"queries": np.ones((2, 4)), "corpus": np.ones((5, 4)), "k": 2}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        rt.topk(**args)


@pytest.mark.parametrize("arg", ["queries", "corpus"])
def test_nan_is_rejected(arg):
    args = {"queries": np.ones((2, 4)), "corpus": np.ones((5, 4))}
    args[arg][1, 2] = np.nan
    with pytest.raises(ValueError, match=f"{arg}: contains a non-finite value"):
        rt.topk(args["queries"], args["corpus"], 2)
