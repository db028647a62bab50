"""Error messages name the argument (issue 13, "Clear messages"): every float/int configuration
argument goes through one conversion, so a value that does not convert is a ValueError or
TypeError starting with the argument's name, never an anonymous OverflowError."""

from __future__ import annotations

import numpy as np
import pytest
import ruvector_training as rt

HUGE = 10**400
PARAMS = [np.ones(3)]


def _negated(value):
    """``-value`` for numbers (a huge negative byte count), the value itself otherwise."""
    return value if isinstance(value, str) else -value


CONSTRUCTORS = [
    ("temperature", lambda v: rt.InfoNCELoss(temperature=v)),
    ("logits_budget_bytes", lambda v: rt.InfoNCELoss(logits_budget_bytes=_negated(v))),
    ("margin", lambda v: rt.TripletLoss(margin=v)),
    ("margin", lambda v: rt.LocalContrastiveLoss(margin=v)),
    ("lam", lambda v: rt.SpectralRegularization(lam=v)),
    ("margin", lambda v: rt.HardNegativeMiner(margin=v)),
    ("alpha", lambda v: rt.HardNegativeMiner(alpha=v)),
    ("hard_ratio", lambda v: rt.HardNegativeMiner(hard_ratio=v)),
    ("max_similarity", lambda v: rt.HardNegativeMiner(max_similarity=v)),
    ("relative_margin", lambda v: rt.HardNegativeMiner(relative_margin=v)),
    ("lr", lambda v: rt.SGD(PARAMS, lr=v)),
    ("momentum", lambda v: rt.SGD(PARAMS, momentum=v)),
    ("dampening", lambda v: rt.SGD(PARAMS, dampening=v)),
    ("weight_decay", lambda v: rt.SGD(PARAMS, weight_decay=v)),
    ("max_grad_norm", lambda v: rt.SGD(PARAMS, max_grad_norm=v)),
    ("lr", lambda v: rt.Adam(PARAMS, lr=v)),
    ("eps", lambda v: rt.AdamW(PARAMS, eps=v)),
    ("weight_decay", lambda v: rt.AdamW(PARAMS, weight_decay=v)),
    ("max_norm", lambda v: rt.clip_grad_norm([np.ones(3)], v)),
    ("infonce", lambda v: rt.LossWeights(infonce=v)),
    ("reconstruction", lambda v: rt.LossWeights(reconstruction=v)),
]


CONSTRUCTOR_IDS = [f"{arg}-{i}" for i, (arg, _) in enumerate(CONSTRUCTORS)]


@pytest.mark.parametrize(("arg", "build"), CONSTRUCTORS, ids=CONSTRUCTOR_IDS)
def test_huge_integers_are_value_errors_naming_the_argument(arg, build):
    with pytest.raises(ValueError, match=rf"^{arg}: "):
        build(HUGE)


@pytest.mark.parametrize(("arg", "build"), CONSTRUCTORS, ids=CONSTRUCTOR_IDS)
def test_non_numbers_are_type_errors_naming_the_argument(arg, build):
    with pytest.raises(TypeError, match=rf"^{arg}: expected"):
        build("0.5")


SETTERS = [
    (lambda: rt.InfoNCELoss(), "temperature"),
    (lambda: rt.InfoNCELoss(), "logits_budget_bytes"),
    (lambda: rt.TripletLoss(), "margin"),
    (lambda: rt.LocalContrastiveLoss(), "margin"),
    (lambda: rt.SpectralRegularization(), "lam"),
    (lambda: rt.HardNegativeMiner(), "alpha"),
    (lambda: rt.HardNegativeMiner(), "max_similarity"),
    (lambda: rt.SGD(PARAMS), "lr"),
    (lambda: rt.SGD(PARAMS), "momentum"),
    (lambda: rt.AdamW(PARAMS), "eps"),
    (lambda: rt.AdamW(PARAMS), "max_grad_norm"),
]


@pytest.mark.parametrize(("make", "attr"), SETTERS, ids=[a for _, a in SETTERS])
def test_setters_name_the_attribute(make, attr):
    obj = make()
    before = getattr(obj, attr)
    with pytest.raises(ValueError, match=rf"^{attr}: "):
        setattr(obj, attr, HUGE if attr != "logits_budget_bytes" else -HUGE)
    with pytest.raises(TypeError, match=rf"^{attr}: expected"):
        setattr(obj, attr, "x")
    assert getattr(obj, attr) == before


def test_eigenvalue_and_miner_integers_name_the_argument():
    edges = np.array([[0, 1]])
    with pytest.raises(ValueError, match=r"^num_nodes: must be in \[1, 2\*\*64\)"):
        rt.SpectralRegularization().eigenvalues(HUGE, edges, 1)
    with pytest.raises(ValueError, match=r"^k: "):
        rt.SpectralRegularization().eigenvalues(2, edges, -HUGE)
    with pytest.raises(TypeError, match=r"^num_nodes: expected an integer, got float"):
        rt.SpectralRegularization().eigenvalues(2.0, edges, 1)


def test_log_vars_that_overflow_exp_are_value_errors():
    objective = rt.MultiObjectiveLoss(adaptive="uncertainty")
    with pytest.raises(ValueError, match=r"^log_vars\[0\]: -745.0 is too small"):
        objective.log_vars = [-745.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^log_vars: "):
        objective.log_vars = [HUGE, 0, 0, 0]
    assert (objective.log_vars == 0).all()
    objective.log_vars = [-700.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^log_vars: exp\(-log_vars\) \* loss overflows"):
        objective({"infonce": 1e300})
    total, (multipliers, _) = objective({"infonce": 1e-300})
    assert np.isfinite(total) and multipliers.infonce == pytest.approx(np.exp(700.0))


def test_labels_as_a_list_names_labels():
    emb = np.ones((3, 4))
    edges = np.array([[0, 1], [1, 2]])
    with pytest.raises(TypeError, match=r"^labels: expected a numpy.ndarray of dtype bool"):
        rt.LocalContrastiveLoss()(emb, edges, [True, False])
    miner = rt.HardNegativeMiner()
    with pytest.raises(TypeError, match=r"^anchor_labels: expected a numpy.ndarray .*got list"):
        miner.mine(emb, emb, anchor_labels=[0, 1, 2], pool_labels=np.zeros(3, int))


def test_exclude_entries_beyond_int64_name_the_entry():
    q = np.ones((1, 4), np.float32)
    out_of_range = r"^exclude\[0\]: index 18446744073709551616 is out of range"
    with pytest.raises(ValueError, match=out_of_range):
        rt.topk(q, q, k=1, exclude=[[2**64]])
    not_integer = r"^exclude\[0\]: expected an iterable of integer indices, got an entry of type"
    with pytest.raises(TypeError, match=not_integer + " float"):
        rt.topk(q, q, k=1, exclude=[[1.5]])
    with pytest.raises(ValueError, match=r"^exclude"):
        rt.topk(q, q, k=1, exclude=[[-(2**70)]])


def test_graph_miner_rejects_zero_dimensional_embeddings():
    miner = rt.GraphHardNegativeMiner()
    with pytest.raises(ValueError, match=r"^embeddings: embedding dimension D must be at least 1"):
        miner.mine(np.array([0]), np.zeros((3, 0), np.float32), np.array([[0, 1], [1, 2]]))
