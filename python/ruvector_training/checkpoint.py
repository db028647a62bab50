"""Checkpoint files without pickle: one ``.npz`` archive holding named NumPy arrays and a JSON
document (stored as a uint8 array under :data:`STATE_KEY`)."""

from __future__ import annotations

import json
import os

import numpy as np

#: The archive member that holds the UTF-8 JSON document.
STATE_KEY = "__state_json__"


def save_checkpoint(path, arrays: dict[str, np.ndarray], state: dict) -> None:
    """Writes ``arrays`` and the JSON-able ``state`` to ``path`` (an ``.npz`` file, written
    exactly at ``path``: no suffix is added)."""
    payload = np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8)
    with open(os.fspath(path), "wb") as handle:
        np.savez(handle, **arrays, **{STATE_KEY: payload})


def load_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """The ``(arrays, state)`` :func:`save_checkpoint` wrote (loaded with
    ``allow_pickle=False``).

    Raises:
        ValueError: the file is not such a checkpoint.
    """
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        if STATE_KEY not in archive.files:
            raise ValueError(f"path: {path} is not a ruvector-training checkpoint")
        arrays = {name: archive[name] for name in archive.files if name != STATE_KEY}
        state = json.loads(archive[STATE_KEY].tobytes().decode("utf-8"))
    return arrays, state


def optimizer_to_checkpoint(state_dict: dict, prefix: str) -> tuple[dict, dict]:
    """Splits an optimizer ``state_dict()`` into JSON scalars and named arrays
    (``{prefix}{i}/{name}``)."""
    scalars = {key: value for key, value in state_dict.items() if key != "state"}
    if "betas" in scalars:
        scalars["betas"] = list(scalars["betas"])
    arrays, names = {}, []
    for i, buffers in enumerate(state_dict["state"]):
        names.append(sorted(buffers))
        for name, value in buffers.items():
            arrays[f"{prefix}{i}/{name}"] = value
    scalars["buffers"] = names
    return scalars, arrays


def optimizer_from_checkpoint(scalars: dict, arrays: dict, prefix: str) -> dict:
    """The optimizer ``state_dict`` :func:`optimizer_to_checkpoint` split."""
    state_dict = {key: value for key, value in scalars.items() if key != "buffers"}
    if "betas" in state_dict:
        state_dict["betas"] = tuple(state_dict["betas"])
    state_dict["state"] = [
        {name: arrays[f"{prefix}{i}/{name}"] for name in names}
        for i, names in enumerate(scalars["buffers"])
    ]
    return state_dict
