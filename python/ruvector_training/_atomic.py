"""Atomic file writes: a file written by this package is either the complete new content or the
previous file, never a truncated mix, even when the disk fills up, a size limit is hit or the
process is interrupted mid-write."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO


def atomic_write(path, writer: Callable[[Any], object]) -> str:
    """Writes a file at ``path`` atomically and returns the path written (``os.fspath``).

    ``writer(handle)`` writes the content to ``handle``, a binary stream (``write``, ``seek``,
    ``tell``, ``flush``) on a temporary file in the same directory as ``path``; the temporary
    file is then flushed, fsynced and renamed over ``path`` (``os.replace``), and the directory
    is fsynced so the rename itself survives a crash. If anything fails (``writer`` raises,
    the disk is full, a ``KeyboardInterrupt``), the temporary file is removed, ``path`` is
    left as it was (the previous content byte for byte, or absent) and the exception
    propagates.

    A new file gets the permissions ``open()`` would give it (``0o666`` minus the umask); an
    existing file keeps its permission bits. When ``path`` is a symbolic link, the file it
    points to is replaced (the link stays).

    Raises:
        IsADirectoryError: ``path`` is a directory.
        OSError: the directory does not exist or is not writable, or a write failed.
    """
    target = os.path.realpath(os.fspath(path))
    if os.path.isdir(target):
        raise IsADirectoryError(21, "Is a directory", os.fspath(path))
    folder, name = os.path.split(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            writer(_Stream(handle))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(folder)
    return os.fspath(path)


class _Stream:
    """The writable, seekable stream :func:`atomic_write` hands to the writer: the temporary
    file's methods, but not an ``io`` file object, so NumPy writes through :meth:`write` (an
    ``OSError`` with the errno, e.g. ``EFBIG`` / ``ENOSPC``) instead of ``ndarray.tofile``
    (which reports a short write without one)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def write(self, data) -> int:
        return self._handle.write(data)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


def _umask() -> int:
    """The process umask, read without changing it where ``/proc`` allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(folder: str) -> None:
    """Makes a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
