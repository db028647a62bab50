"""``HardNegativeMiner``: each strategy's contract against a NumPy reference of the candidate
set, exact sampling frequencies, determinism across thread counts, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt
from helpers import each_dtype, outputs_per_thread_count
from reference_search import candidate_mask, distance_log_weight, pair_probabilities

STRATEGIES = ("hardest", "semi_hard", "weighted", "distance_weighted", "random", "mixed")
#: Chi-square critical values at p = 0.001 (fixed seeds make the tests deterministic).
CHI2_CRITICAL = {5: 20.52, 9: 27.88, 14: 36.12}


def make_problem(seed=0, b=12, m=300, d=16, classes=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    anchors = rng.standard_normal((b, d))
    positives = anchors + 0.8 * rng.standard_normal((b, d))
    pool = rng.standard_normal((m, d))
    return {
        "anchors": anchors.astype(dtype),
        "pool": pool.astype(dtype),
        "positives": positives.astype(dtype),
        "anchor_labels": rng.integers(0, classes, b),
        "pool_labels": rng.integers(0, classes, m),
        "exclude": [rng.choice(m, 10, replace=False).tolist() for _ in range(b)],
    }


def check_common_contract(indices, allowed, k):
    """int64 (B, K); valid rows are candidates, unique, then -1 padding exactly when the
    candidates run out."""
    assert indices.dtype == np.int64 and indices.shape == (len(allowed), k)
    for row, ok in zip(indices, allowed):
        valid = row[row >= 0]
        assert (row[len(valid) :] == -1).all(), "padding must come last"
        assert len(set(valid.tolist())) == len(valid), "duplicates"
        assert ok[valid].all(), "returned a non-candidate"
        assert len(valid) == min(k, ok.sum()), "padding only when candidates run out"


def assert_hardest_first(indices, sims, allowed, k):
    """Rows are the top-K candidates by similarity (ties may go either way)."""
    for row, s, ok in zip(indices, sims, allowed):
        valid = row[row >= 0]
        expected = np.sort(s[ok])[::-1][: len(valid)]
        np.testing.assert_allclose(s[valid], expected, atol=1e-6)


@each_dtype
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("filters", ["none", "labels", "all"])
def test_every_strategy_returns_only_candidates(dtype, strategy, filters):
    problem = make_problem(dtype=dtype)
    kwargs = {"positives": problem["positives"]}
    miner_args = {"margin": 0.5}
    if filters in ("labels", "all"):
        kwargs.update(anchor_labels=problem["anchor_labels"], pool_labels=problem["pool_labels"])
    if filters == "all":
        kwargs["exclude"] = problem["exclude"]
        miner_args.update(max_similarity=0.6, relative_margin=0.05)
    k = 7
    miner = rt.HardNegativeMiner(strategy, k, seed=3, **miner_args)
    indices = miner.mine(problem["anchors"], problem["pool"], **kwargs)
    sims, allowed = candidate_mask(
        problem["anchors"], problem["pool"], strategy=strategy, **kwargs, **miner_args
    )
    check_common_contract(indices, allowed, k)
    if strategy in ("hardest", "semi_hard"):
        assert_hardest_first(indices, sims, allowed, k)


def test_semi_hard_band_and_padding():
    anchors = np.array([[1.0, 0.0]])
    positives = np.array([[np.cos(0.5), np.sin(0.5)]])  # sim(a, p) = 0.8776
    angles = np.array([0.1, 0.6, 0.7, 0.9, 1.2, 2.0])
    pool = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # sims 0.995 .. -0.416
    miner = rt.HardNegativeMiner("semi_hard", 4, margin=0.3)
    got = miner.mine(anchors, pool, positives=positives)
    # band (0.5776, 0.8776): cos 0.6 = 0.825, cos 0.7 = 0.765, cos 0.9 = 0.622
    np.testing.assert_array_equal(got, [[1, 2, 3, -1]])


def test_relative_margin_with_a_negative_positive_similarity():
    anchors = np.array([[1.0, 0.0]])
    positives = np.array([[-0.5, np.sqrt(0.75)]])  # sim(a, p) = -0.5
    sims = np.array([-0.2, -0.5, -0.54, -0.56, -0.9])
    pool = np.stack([sims, np.sqrt(1 - sims**2)], axis=1)
    miner = rt.HardNegativeMiner("hardest", 5, relative_margin=0.1)
    # bound = -0.5 - 0.1 * |-0.5| = -0.55: only sims <= -0.55 qualify.
    got = miner.mine(anchors, pool, positives=positives)
    np.testing.assert_array_equal(got, [[3, 4, -1, -1, -1]])


def test_labels_exclude_and_max_similarity_are_applied_together():
    anchors = np.array([[1.0, 0.0], [0.0, 1.0]])
    pool = np.array([[1.0, 0.0], [0.9, 0.1], [0.7, 0.7], [0.1, 0.9], [0.0, 1.0]])
    miner = rt.HardNegativeMiner("hardest", 3, max_similarity=0.999)
    got = miner.mine(
        anchors,
        pool,
        anchor_labels=np.array([0, 1]),
        pool_labels=np.array([2, 0, 2, 2, 2]),
        exclude=[[2], []],
    )
    # anchor 0: 0 is above max_similarity (1.0), 1 shares its label, 2 is excluded.
    np.testing.assert_array_equal(got, [[3, 4, -1], [3, 2, 1]])


def test_mixed_takes_hardest_then_uniform_from_the_rest():
    problem = make_problem(seed=1, m=200)
    k = 6
    miner = rt.HardNegativeMiner("mixed", k, hard_ratio=0.5, seed=5)
    got = miner.mine(problem["anchors"], problem["pool"])
    _, hardest = rt.topk(problem["anchors"], problem["pool"], 3)
    np.testing.assert_array_equal(got[:, :3], hardest)
    assert (got[:, 3:] >= 0).all()
    # Python's round(): 2.5 -> 2 hardest.
    got = rt.HardNegativeMiner("mixed", 5, hard_ratio=0.5).mine(problem["anchors"], problem["pool"])
    np.testing.assert_array_equal(got[:, :2], hardest[:, :2])


def chi_square(counts: dict, probabilities: dict, total: int) -> float:
    return sum(
        (counts.get(key, 0) - total * p) ** 2 / (total * p) for key, p in probabilities.items()
    )


@pytest.mark.parametrize(
    ("strategy", "alpha"), [("weighted", 2.0), ("weighted", 0.0), ("random", 1.0)]
)
def test_sampling_frequencies_match_exact_without_replacement_probabilities(strategy, alpha):
    # One anchor repeated: each row has its own random stream, so rows are independent draws.
    draws = 6000
    sims = np.array([0.9, 0.6, 0.3, 0.0, -0.4, -0.8])
    pool = np.stack([sims, np.sqrt(1 - sims**2)], axis=1)
    anchors = np.tile([[1.0, 0.0]], (draws, 1))
    got = rt.HardNegativeMiner(strategy, 2, alpha=alpha, seed=11).mine(anchors, pool)
    weights = np.exp(alpha * sims) if strategy == "weighted" else np.ones(6)
    probabilities = pair_probabilities(weights)
    counts: dict = {}
    for row in got:
        key = frozenset(row.tolist())
        counts[key] = counts.get(key, 0) + 1
    assert chi_square(counts, probabilities, draws) < CHI2_CRITICAL[14]
    # The first draw is proportional to the weights.
    first = np.bincount(got[:, 0], minlength=6)
    expected = draws * weights / weights.sum()
    assert ((first - expected) ** 2 / expected).sum() < CHI2_CRITICAL[5]


def test_distance_weighted_samples_by_inverse_density_and_drops_far_items():
    draws = 6000
    dim = 4
    rng = np.random.default_rng(2)
    sims = np.array([0.95, 0.7, 0.5, 0.2, 0.05, -0.3])  # the last one is past d = 1.4
    rest = rng.standard_normal((6, dim - 1))
    rest /= np.linalg.norm(rest, axis=1, keepdims=True)
    pool = np.concatenate([sims[:, None], np.sqrt(1 - sims**2)[:, None] * rest], axis=1)
    anchors = np.tile(np.eye(dim)[:1], (draws, 1))
    got = rt.HardNegativeMiner("distance_weighted", 1, seed=4).mine(anchors, pool)
    assert (got[:, 0] != 5).all()
    weights = np.exp(distance_log_weight(sims[:5], dim))
    counts = np.bincount(got[:, 0], minlength=5)
    expected = draws * weights / weights.sum()
    assert ((counts - expected) ** 2 / expected).sum() < CHI2_CRITICAL[5]


@pytest.mark.parametrize("strategy", ["weighted", "mixed", "random", "distance_weighted"])
def test_same_seed_same_result_on_any_thread_count(strategy, tmp_path):
    script = (
        "import numpy as np, ruvector_training as rt, sys\n"
        "rng = np.random.default_rng(0)\n"
        "a = rng.standard_normal((300, 12)).astype(np.float32)\n"
        "p = rng.standard_normal((9000, 12)).astype(np.float32)\n"
        f"m = rt.HardNegativeMiner({strategy!r}, 8, seed=9, alpha=3.0)\n"
        "np.savez(sys.argv[1], i=m.mine(a, p, anchor_labels=np.arange(300) % 5,\n"
        "                            pool_labels=np.arange(9000) % 5))\n"
    )
    outputs = outputs_per_thread_count(script, tmp_path)
    np.testing.assert_array_equal(outputs[0]["i"], outputs[1]["i"])
    assert (outputs[0]["i"] >= 0).all()


def test_seed_changes_samples_and_is_reproducible():
    problem = make_problem(seed=3, m=500)
    first = rt.HardNegativeMiner("weighted", 5, seed=1).mine(problem["anchors"], problem["pool"])
    again = rt.HardNegativeMiner("weighted", 5, seed=1).mine(problem["anchors"], problem["pool"])
    other = rt.HardNegativeMiner("weighted", 5, seed=2).mine(problem["anchors"], problem["pool"])
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_attributes_are_writable_and_validated():
    miner = rt.HardNegativeMiner()
    assert (miner.strategy, miner.num_negatives, miner.margin, miner.seed) == ("hardest", 5, 0.2, 0)
    miner.num_negatives = 3
    miner.strategy = "semi_hard"
    miner.max_similarity = 0.9
    miner.relative_margin = None
    assert miner.num_negatives == 3 and miner.strategy == "semi_hard"
    assert miner.max_similarity == 0.9
    with pytest.raises(ValueError, match="num_negatives: must be >= 1"):
        miner.num_negatives = 0
    with pytest.raises(ValueError, match="margin: must be finite and >= 0"):
        miner.margin = -0.1
    assert miner.margin == 0.2 and miner.num_negatives == 3
    assert "semi_hard" in repr(miner)


@pytest.mark.parametrize(
    ("ctor", "mine", "error", "match"),
    [
        (
            {"strategy": "hardest", "num_negatives": 0},
            {},
            ValueError,
            "num_negatives: must be >= 1",
        ),
        ({"seed": -1}, {}, ValueError, r"seed: must be in \[0, 2\*\*64\), got -1"),
        ({"seed": 2**64}, {}, ValueError, r"seed: must be in \[0, 2\*\*64\)"),
        ({"num_negatives": 2**70}, {}, ValueError, "num_negatives: must be >= 1"),
        ({"strategy": "nope"}, {}, ValueError, "strategy: unknown strategy"),
        ({"margin": -0.5}, {}, ValueError, "margin: must be finite and >= 0"),
        ({"hard_ratio": 1.5}, {}, ValueError, r"hard_ratio: must be in \[0, 1\]"),
        ({"relative_margin": -1.0}, {}, ValueError, "relative_margin: must be finite and >= 0"),
        ({"max_similarity": float("nan")}, {}, ValueError, "max_similarity: must not be NaN"),
        ({"similarity": "l2"}, {}, ValueError, "similarity"),
        ({"strategy": "distance_weighted", "similarity": "dot"}, {}, ValueError, "unit vectors"),
        ({"strategy": "semi_hard"}, {}, ValueError, "positives: the semi_hard strategy needs"),
        ({"relative_margin": 0.1}, {}, ValueError, "positives: relative_margin"),
        ({}, {"pool": np.zeros((5, 3))}, ValueError, r"pool: expected shape \(M, 4\)"),
        ({}, {"positives": np.zeros((3, 4))}, ValueError, r"positives: expected shape \(2, 4\)"),
        ({}, {"anchor_labels": np.zeros(2, int)}, ValueError, "pool_labels: anchor_labels were"),
        (
            {},
            {"anchor_labels": np.zeros(3, int), "pool_labels": np.zeros(6, int)},
            ValueError,
            r"anchor_labels: expected shape \(2,\)",
        ),
        (
            {},
            {"anchor_labels": np.zeros(2, int), "pool_labels": np.zeros(5, int)},
            ValueError,
            r"pool_labels: expected shape \(6,\)",
        ),
        ({}, {"anchor_labels": np.zeros(2), "pool_labels": np.zeros(6)}, TypeError, "integer"),
        ({}, {"exclude": [[0], [9]]}, ValueError, r"exclude\[1\]: index 9 is out of range"),
        ({}, {"pool": np.zeros((6, 4), np.float32)}, TypeError, "pool: dtype float32"),
    ],
)
def test_bad_inputs_are_clear_errors(ctor, mine, error, match):
    args = {"anchors": np.ones((2, 4)), "pool": np.ones((6, 4))}
    args.update(mine)
    with pytest.raises(error, match=match):
        rt.HardNegativeMiner(**ctor).mine(**args)


@pytest.mark.parametrize("arg", ["anchors", "pool", "positives"])
def test_nan_is_rejected(arg):
    args = {"anchors": np.ones((2, 4)), "pool": np.ones((6, 4)), "positives": np.ones((2, 4))}
    args[arg][1, 1] = np.inf
    with pytest.raises(ValueError, match=f"{arg}: contains a non-finite value"):
        rt.HardNegativeMiner().mine(**args)
