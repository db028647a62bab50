"""The stub file ``_core.pyi`` agrees with the compiled module (issue 14: stubs that cannot lie).

``mypy.stubtest`` imports ``ruvector_training._core`` and compares every class, method,
property, signature (names, kinds, defaults), ``@final`` and ``__all__`` with the stub. No
allowlist is needed: every runtime signature is visible to it (pyo3's ``__text_signature__``,
and the class docstring's signature line that the field tables write).
"""

from __future__ import annotations

import inspect
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import ruvector_training as rt

PYTHON_DIR = Path(rt.__file__).resolve().parent.parent


def _stubtest_env() -> dict[str, str]:
    """The environment stubtest runs in: an installed wheel is found through site-packages
    (putting site-packages itself on ``PYTHONPATH`` would make mypy read every module there as
    user code); a source checkout's ``python/`` folder goes on ``PYTHONPATH``."""
    env = dict(os.environ)
    installed = {
        Path(p).resolve() for p in (*site.getsitepackages(), sysconfig.get_path("platlib"))
    }
    if PYTHON_DIR not in installed:
        env["PYTHONPATH"] = str(PYTHON_DIR)
    return env


def test_stubtest_passes(tmp_path):
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "ruvector_training._core", "--concise"],
        cwd=tmp_path,
        env=_stubtest_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "cls",
    [
        rt.InfoNCELoss,
        rt.TripletLoss,
        rt.CosineSimilarityLoss,
        rt.LocalContrastiveLoss,
        rt.SpectralRegularization,
        rt.HardNegativeMiner,
        rt.GraphHardNegativeMiner,
        rt.SGD,
        rt.Adam,
        rt.AdamW,
    ],
)
def test_runtime_docs_without_the_stub(cls):
    """``help()`` works from the runtime alone: a docstring, a real signature with the
    defaults, and a docstring on every configuration property."""
    assert cls.__doc__ and len(cls.__doc__) > 40
    signature = inspect.signature(cls)
    assert list(signature.parameters)[: len(getattr(cls, "config_fields", ()))] == list(
        getattr(cls, "config_fields", ())
    )
    for name in getattr(cls, "config_fields", ()):
        assert signature.parameters[name].default is not inspect.Parameter.empty
        assert getattr(cls, name).__doc__, name
    assert cls.forward.__doc__ if hasattr(cls, "forward") else True


def test_signature_defaults_are_the_real_ones():
    signature = inspect.signature(rt.InfoNCELoss)
    assert signature.parameters["temperature"].default == 0.07
    assert signature.parameters["similarity"].default == "cosine"
    assert signature.parameters["symmetric"].default is False
    assert signature.parameters["logits_budget_bytes"].default == rt.DEFAULT_LOGITS_BUDGET_BYTES
    assert inspect.signature(rt.HardNegativeMiner).parameters["relative_margin"].default is None
    for cls in (rt.InfoNCELoss, rt.HardNegativeMiner, rt.TripletLoss):
        made = cls()
        for name in cls.config_fields:
            assert getattr(made, name) == inspect.signature(cls).parameters[name].default
