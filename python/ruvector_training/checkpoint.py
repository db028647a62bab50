"""Checkpoint files without pickle: one ``.npz`` archive holding named NumPy arrays and a JSON
document (stored as a uint8 array under :data:`STATE_KEY`)."""

from __future__ import annotations

import json
import os
import zipfile
import zlib

import numpy as np

from ruvector_training._atomic import atomic_write

#: The archive member that holds the UTF-8 JSON document.
STATE_KEY = "__state_json__"
#: The first bytes of a zip archive (an ``.npz``): a local file header or an empty archive.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
#: What reading a damaged archive can raise besides ValueError.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, TypeError, OSError)


def save_checkpoint(path, arrays: dict[str, np.ndarray], state: dict) -> None:
    """Writes ``arrays`` and the JSON-able ``state`` to ``path`` (an ``.npz`` file, written
    exactly at ``path``: no suffix is added), atomically: a failed save (disk full, a size
    limit, an interrupt) leaves the previous file at ``path`` untouched and no temporary file
    behind (see :func:`~ruvector_training._atomic.atomic_write`)."""
    payload = np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda handle: np.savez(handle, **arrays, **{STATE_KEY: payload}))


def load_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """The ``(arrays, state)`` :func:`save_checkpoint` wrote (loaded with
    ``allow_pickle=False``; every array is read, so a damaged member is found here).

    Raises:
        ValueError: the file is not such a checkpoint (not a zip archive, truncated or
            corrupted, a member that is not a NumPy array, no JSON document or an invalid
            one); the message names the file and what is wrong.
        OSError: the file cannot be opened (missing, a directory, no permission).
    """
    name = os.fspath(path)
    with open(name, "rb") as handle:
        head = handle.read(4)
        if head not in _ZIP_MAGIC:
            what = "an empty file" if not head else "not a zip archive"
            if head.startswith(b"\x93NUM"):
                what = "a single .npy array, not an .npz archive"
            raise ValueError(f"{name}: not a ruvector-training checkpoint ({what})")
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as archive:
                if STATE_KEY not in archive.files:
                    raise ValueError(
                        f"{name}: not a ruvector-training checkpoint (no {STATE_KEY} document)"
                    )
                arrays = {key: archive[key] for key in archive.files}
        except ValueError as error:
            if str(error).startswith(name):
                raise
            raise ValueError(f"{name}: damaged checkpoint: {error}") from None
        except _DAMAGED as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise ValueError(
                f"{name}: damaged checkpoint ({type(error).__name__}: {reason})"
            ) from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{name}: damaged checkpoint: member {key!r} is not a NumPy array")
    payload = arrays.pop(STATE_KEY)
    if payload.dtype != np.uint8 or payload.ndim != 1:
        raise ValueError(f"{name}: damaged checkpoint: {STATE_KEY} is not a uint8 byte string")
    try:
        state = json.loads(payload.tobytes().decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError
        raise ValueError(f"{name}: damaged checkpoint: invalid JSON document ({error})") from None
    if not isinstance(state, dict):
        raise ValueError(
            f"{name}: damaged checkpoint: the JSON document is a {type(state).__name__}, "
            "not an object"
        )
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
    """The optimizer ``state_dict`` :func:`optimizer_to_checkpoint` split.

    Raises:
        ValueError: ``scalars`` is not a dict with a ``"buffers"`` list of lists of names, or a
            named buffer array is missing (the message names the key).
    """
    if not isinstance(scalars, dict):
        raise ValueError(f"optimizer: expected an object, got {type(scalars).__name__}")
    buffers = scalars.get("buffers")
    if not isinstance(buffers, list) or not all(
        isinstance(names, list) and all(isinstance(n, str) for n in names) for names in buffers
    ):
        raise ValueError("optimizer['buffers']: expected a list of lists of buffer names")
    state_dict = {key: value for key, value in scalars.items() if key != "buffers"}
    if isinstance(state_dict.get("betas"), list):
        state_dict["betas"] = tuple(state_dict["betas"])
    state_dict["state"] = []
    for i, names in enumerate(buffers):
        entry = {}
        for name in names:
            key = f"{prefix}{i}/{name}"
            if key not in arrays:
                raise ValueError(f"{key}: the optimizer buffer array is missing")
            entry[name] = arrays[key]
        state_dict["state"].append(entry)
    return state_dict
