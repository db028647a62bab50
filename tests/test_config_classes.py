"""One field table per class (issue 14): repr, equality, pickling and setter validation of
every Rust-backed class, driven by the runtime's own ``config_fields``."""

from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest
import ruvector_training as rt
import torch
from ruvector_training import _core
from ruvector_training.torch import losses as tl

# One non-default configuration per class (every field changed where it can be).
CONFIGS = [
    rt.InfoNCELoss(0.25, "dot", True, "sum", 4096),
    rt.TripletLoss(margin=0.5, distance="cosine", reduction="none"),
    rt.CosineSimilarityLoss(reduction="sum"),
    rt.LocalContrastiveLoss(margin=2.0, reduction="none"),
    rt.SpectralRegularization(lam=0.1, normalized=False),
    rt.HardNegativeMiner(
        strategy="mixed",
        num_negatives=3,
        margin=0.3,
        alpha=2.0,
        hard_ratio=0.25,
        relative_margin=0.1,
        max_similarity=0.9,
        similarity="dot",
        seed=2**63 + 5,
    ),
    rt.GraphHardNegativeMiner(hop_distance=3, num_negatives=2, similarity="dot"),
]
IDS = [type(c).__name__ for c in CONFIGS]


def config_of(obj):
    return {name: getattr(obj, name) for name in type(obj).config_fields}


@pytest.mark.parametrize("obj", CONFIGS, ids=IDS)
def test_repr_round_trips(obj):
    text = repr(obj)
    assert text.startswith(type(obj).__name__ + "(")
    assert "Some(" not in text and "true" not in text and "false" not in text
    again = eval(text, vars(_core))  # noqa: S307
    assert again == obj and config_of(again) == config_of(obj)
    assert again is not obj


@pytest.mark.parametrize("obj", CONFIGS, ids=IDS)
def test_equality_is_on_configuration(obj):
    cls = type(obj)
    assert cls() == cls() and cls() != obj
    assert obj != object() and (obj == "x") is False
    with pytest.raises(TypeError):
        hash(obj)


@pytest.mark.parametrize("obj", CONFIGS, ids=IDS)
def test_pickle_deepcopy_and_torch_save(obj):
    for copied in (
        pickle.loads(pickle.dumps(obj)),
        copy.deepcopy(obj),
        copy.copy(obj),
        _torch_round_trip(obj),
    ):
        assert type(copied) is type(obj) and copied == obj and copied is not obj
        assert config_of(copied) == config_of(obj)


def _torch_round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


@pytest.mark.parametrize(
    ("module", "numpy_cls"),
    [
        (tl.InfoNCELoss(temperature=0.2, symmetric=True), rt.InfoNCELoss),
        (tl.TripletLoss(margin=0.3), rt.TripletLoss),
        (tl.CosineSimilarityLoss(reduction="sum"), rt.CosineSimilarityLoss),
        (tl.LocalContrastiveLoss(margin=0.7), rt.LocalContrastiveLoss),
        (tl.SpectralRegularization(lam=0.2), rt.SpectralRegularization),
    ],
)
def test_torch_module_holding_one(module, numpy_cls):
    holder = torch.nn.Sequential(torch.nn.Linear(2, 2), module)
    restored = _torch_round_trip(holder)
    assert restored[1].numpy_loss == module.numpy_loss
    assert copy.deepcopy(holder)[1].numpy_loss == module.numpy_loss
    # The forwarded attributes come from config_fields (no list in the wrapper).
    for name in numpy_cls.config_fields:
        assert getattr(restored[1], name) == getattr(module.numpy_loss, name)
        assert type(module).__dict__[name].__doc__ == getattr(numpy_cls, name).__doc__


BAD_VALUES = [
    (rt.InfoNCELoss, "temperature", 0.0),
    (rt.InfoNCELoss, "temperature", "hot"),
    (rt.InfoNCELoss, "similarity", "l2"),
    (rt.InfoNCELoss, "similarity", 1),
    (rt.InfoNCELoss, "symmetric", 1),
    (rt.InfoNCELoss, "reduction", "avg"),
    (rt.InfoNCELoss, "logits_budget_bytes", -1),
    (rt.InfoNCELoss, "logits_budget_bytes", 1.5),
    (rt.TripletLoss, "margin", -1.0),
    (rt.TripletLoss, "margin", float("nan")),
    (rt.TripletLoss, "distance", "manhattan"),
    (rt.TripletLoss, "reduction", None),
    (rt.CosineSimilarityLoss, "reduction", "median"),
    (rt.LocalContrastiveLoss, "margin", 10**400),
    (rt.SpectralRegularization, "lam", -0.5),
    (rt.SpectralRegularization, "normalized", None),
    (rt.HardNegativeMiner, "strategy", "softest"),
    (rt.HardNegativeMiner, "num_negatives", 0),
    (rt.HardNegativeMiner, "hard_ratio", 1.5),
    (rt.HardNegativeMiner, "relative_margin", float("nan")),
    (rt.HardNegativeMiner, "max_similarity", float("nan")),
    (rt.HardNegativeMiner, "seed", -1),
    (rt.HardNegativeMiner, "seed", True),
    (rt.GraphHardNegativeMiner, "hop_distance", 0),
    (rt.GraphHardNegativeMiner, "num_negatives", 2.0),
]


@pytest.mark.parametrize(("cls", "name", "value"), BAD_VALUES)
def test_setters_validate_exactly_as_constructors(cls, name, value):
    with pytest.raises((TypeError, ValueError)) as at_construction:
        cls(**{name: value})
    obj = cls()
    before = repr(obj)
    with pytest.raises(type(at_construction.value)) as at_setting:
        setattr(obj, name, value)
    assert str(at_setting.value) == str(at_construction.value)
    assert str(at_setting.value).startswith(name)
    assert repr(obj) == before  # an invalid write changes nothing


def test_cross_field_validation_applies_to_setters():
    miner = rt.HardNegativeMiner(strategy="distance_weighted")
    with pytest.raises(ValueError) as at_construction:
        rt.HardNegativeMiner(strategy="distance_weighted", similarity="dot")
    with pytest.raises(ValueError) as at_setting:
        miner.similarity = "dot"
    assert str(at_setting.value) == str(at_construction.value)
    assert miner.similarity == "cosine"


# --- Optimizers: pickle = params + hyper-parameters + state_dict ----------------------------


def _stepped(cls, **kwargs):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(5).astype(np.float32)]
    opt = cls(params, lr=0.05, **kwargs)
    for _ in range(3):
        opt.step([rng.standard_normal(p.shape).astype(p.dtype) for p in params])
    return opt, rng


OPTIMIZERS = [
    (rt.SGD, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (rt.Adam, {"betas": (0.8, 0.99), "amsgrad": True, "max_grad_norm": 1.0}),
    (rt.AdamW, {"eps": 1e-6, "check_finite": False}),
]


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("how", ["pickle", "deepcopy", "torch"])
def test_optimizer_round_trip_resumes_bit_identically(cls, kwargs, how):
    opt, rng = _stepped(cls, **kwargs)
    if how == "pickle":
        copied = pickle.loads(pickle.dumps(opt))
    elif how == "deepcopy":
        copied = copy.deepcopy(opt)
    else:
        copied = _torch_round_trip(opt)
    assert type(copied) is cls and copied == opt and repr(copied) == repr(opt)
    assert copied.step_count == opt.step_count == 3
    assert all(a is not b for a, b in zip(copied.params, opt.params))
    grads = [rng.standard_normal(p.shape).astype(p.dtype) for p in opt.params]
    for o in (opt, copied):
        o.step([g.copy() for g in grads])
    for a, b in zip(opt.params, copied.params):
        np.testing.assert_array_equal(a, b)
    for sa, sb in zip(opt.state_dict()["state"], copied.state_dict()["state"]):
        assert sa.keys() == sb.keys()
        for key in sa:
            np.testing.assert_array_equal(sa[key], sb[key])


def test_pickled_optimizer_keeps_sharing_the_model_weights():
    weights = np.zeros(4)
    opt = rt.SGD([weights], lr=0.5)
    model, opt2 = pickle.loads(pickle.dumps(({"w": weights}, opt)))
    opt2.step([np.ones(4)])
    np.testing.assert_array_equal(model["w"], -0.5)


def test_optimizer_equality_and_state_dict_on_the_base():
    params = [np.ones(3)]
    assert rt.SGD(params) == rt.SGD([np.zeros(3)])  # configuration only
    assert rt.SGD(params) != rt.SGD(params, lr=0.1)
    assert rt.Adam(params) != rt.AdamW(params, weight_decay=0.0)
    assert rt.Optimizer.state_dict is rt.SGD.state_dict  # one implementation, on the base
    assert "state_dict" in vars(rt.Optimizer) and "load_state_dict" in vars(rt.Optimizer)


@pytest.mark.parametrize(
    ("cls", "name", "value"),
    [
        (rt.SGD, "momentum", -0.5),
        (rt.SGD, "nesterov", 1),
        (rt.SGD, "weight_decay", "a lot"),
        (rt.Adam, "betas", (0.9, 1.0)),
        (rt.Adam, "betas", "ab"),
        (rt.Adam, "eps", -1.0),
        (rt.AdamW, "weight_decay", float("inf")),
    ],
)
def test_optimizer_setters_validate_as_constructors(cls, name, value):
    params = [np.ones(3)]
    with pytest.raises((TypeError, ValueError)) as at_construction:
        cls(params, **{name: value})
    opt = cls(params)
    with pytest.raises(type(at_construction.value)) as at_setting:
        setattr(opt, name, value)
    assert str(at_setting.value) == str(at_construction.value)
