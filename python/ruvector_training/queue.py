"""A FIFO of past embeddings used as extra negatives (MoCo / CrossBatchMemory style)."""

from __future__ import annotations

from typing import Any

import numpy as np

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _as_array(name: str, value: Any) -> np.ndarray:
    """``value`` as an ndarray (a torch tensor is detached and moved to the CPU first)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: expected an array, got {type(value).__name__}: {error}") from None


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


class EmbeddingQueue:
    """A first-in first-out queue of the last ``size`` embeddings pushed, with optional ids.

    Pass it to :meth:`InfoNCELoss.forward` as ``queue=``: its entries are extra negatives of
    every anchor, without gradient (they are constants: embeddings of earlier steps). An entry
    whose id equals the anchor's id or the id of the anchor's positive is removed from that
    anchor's denominator (this needs ``anchor_ids`` and ``candidate_ids`` in the call). Push
    the step's (detached) embeddings after the loss is computed, so a batch never sees itself
    in the queue.

    Args:
        size: capacity (``>= 0``; a queue of size 0 stays empty and changes nothing).
        dim: embedding dimension D (``>= 1``), which must equal the anchors' D.
        dtype: ``numpy.float32`` or ``numpy.float64``, the dtype of the loss's inputs.

    The queue pickles (``pickle``, ``copy.deepcopy``) and has ``state_dict()`` /
    ``load_state_dict()`` so a training run can checkpoint it.

    Protocol for losses: :meth:`entries` returns the stored rows in storage order (the loss does
    not depend on the order of its negatives): ``(embeddings (n, D), ids (n,) int64,
    has_id (n,) bool)``. Any loss accepting a queue reads it through this method only.

    Example::

        queue = EmbeddingQueue(size=4, dim=2, dtype=np.float64)
        queue.push(np.eye(2), ids=[7, 8])
        len(queue)  # 2
    """

    def __init__(self, size: int, dim: int, dtype: Any = np.float32) -> None:
        size = _count("size", size, 0)
        dim = _count("dim", dim, 1)
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
        if dtype not in _DTYPES:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
        self._embeddings = np.zeros((size, dim), dtype=dtype)
        self._ids = np.zeros(size, dtype=np.int64)
        self._has_id = np.zeros(size, dtype=bool)
        self._next = 0  # slot the next row is written to
        self._count = 0  # rows stored (size once full)

    @property
    def size(self) -> int:
        """Capacity."""
        return self._embeddings.shape[0]

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return self._embeddings.shape[1]

    @property
    def dtype(self) -> np.dtype:
        """Element dtype."""
        return self._embeddings.dtype

    def __len__(self) -> int:
        return self._count

    def push(self, embeddings: Any, ids: Any = None) -> None:
        """Appends ``embeddings (n, D)`` (cast to the queue's dtype), evicting the oldest rows
        beyond ``size``; ``ids (n,)`` integers or None (entries without an id are never
        removed by the id rule). A torch tensor is detached and copied to the CPU.

        Raises:
            ValueError: wrong shape (naming ``embeddings`` or ``ids``), non-finite values.
            TypeError: ids of a non-integer dtype.
        """
        x = _as_array("embeddings", embeddings)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"embeddings: expected shape (n, {self.dim}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"embeddings: expected a real dtype, got {x.dtype}")
        x = x.astype(self.dtype, copy=False)
        if not np.all(np.isfinite(x)):
            raise ValueError("embeddings: contains NaN or infinite values")
        n = x.shape[0]
        if ids is None:
            id_values, has_id = np.zeros(n, np.int64), np.zeros(n, bool)
        else:
            id_values = _as_array("ids", ids)
            if id_values.shape != (n,):
                raise ValueError(
                    f"ids: expected shape ({n},) like embeddings, got {id_values.shape}"
                )
            if id_values.dtype.kind not in "iu":
                raise TypeError(f"ids: expected an integer dtype, got {id_values.dtype}")
            id_values, has_id = id_values.astype(np.int64), np.ones(n, bool)
        if self.size == 0 or n == 0:
            return
        if n > self.size:  # only the newest `size` rows survive
            x, id_values, has_id = x[-self.size :], id_values[-self.size :], has_id[-self.size :]
            n = self.size
        slots = (self._next + np.arange(n)) % self.size
        self._embeddings[slots] = x
        self._ids[slots] = id_values
        self._has_id[slots] = has_id
        self._next = int((self._next + n) % self.size)
        self._count = min(self._count + n, self.size)

    def clear(self) -> None:
        """Removes every entry."""
        self._next = self._count = 0

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored rows in storage order (read-only views): ``(embeddings (n, D), ids (n,)
        int64, has_id (n,) bool)``."""
        views = (
            self._embeddings[: self._count],
            self._ids[: self._count],
            self._has_id[: self._count],
        )
        for view in views:
            view.flags.writeable = False
        return views

    def _order(self) -> np.ndarray:
        """Slots from the oldest to the newest entry."""
        if self._count < self.size:
            return np.arange(self._count)
        return (self._next + np.arange(self.size)) % self.size

    @property
    def embeddings(self) -> np.ndarray:
        """A copy of the stored embeddings, oldest first, ``(len(self), D)``."""
        return self._embeddings[self._order()]

    @property
    def ids(self) -> np.ndarray:
        """The stored ids, oldest first, ``(len(self),)`` int64 (``-1`` where an entry has no
        id; :attr:`has_id` tells them apart)."""
        order = self._order()
        return np.where(self._has_id[order], self._ids[order], -1)

    @property
    def has_id(self) -> np.ndarray:
        """Whether each stored entry (oldest first) has an id, ``(len(self),)`` bool."""
        return self._has_id[self._order()].copy()

    def state_dict(self) -> dict[str, Any]:
        """The queue's contents and settings as plain NumPy arrays and ints (oldest first)."""
        return {
            "size": self.size,
            "dim": self.dim,
            "dtype": self.dtype.name,
            "embeddings": self.embeddings,
            "ids": self._ids[self._order()].copy(),
            "has_id": self.has_id,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a :meth:`state_dict` (same ``size``, ``dim`` and ``dtype``)."""
        for key in ("size", "dim", "dtype"):
            mine = self.dtype.name if key == "dtype" else getattr(self, key)
            if state.get(key) != mine:
                raise ValueError(
                    f"state: {key} {state.get(key)!r} differs from this queue's {mine!r}"
                )
        self.clear()
        ids = np.asarray(state["ids"], np.int64)
        has_id = np.asarray(state["has_id"], bool)
        embeddings = np.asarray(state["embeddings"])
        self.push(embeddings, ids)
        self._has_id[: len(has_id)] = has_id

    def __getstate__(self) -> dict[str, Any]:
        return self.state_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["size"], state["dim"], state["dtype"])  # type: ignore[misc]
        self.load_state_dict(state)

    def __repr__(self) -> str:
        return (
            f"EmbeddingQueue(size={self.size}, dim={self.dim}, dtype={self.dtype.name}, "
            f"len={len(self)})"
        )


__all__ = ["EmbeddingQueue"]
