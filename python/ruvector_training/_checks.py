"""Helpers shared by the pure-Python modules: argument checks (each returns the plain Python
value or raises a ``TypeError`` / ``ValueError`` whose message starts with the argument's name)."""

from __future__ import annotations

import math
import numbers


def check_int(arg: str, value, *, minimum: int = 0) -> int:
    """``int(value)`` for an integer (Python or NumPy, not bool) that is ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{arg}: expected an integer, got {type(value).__name__}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{arg}: expected an integer >= {minimum}, got {number}")
    return number


def check_float(arg: str, value, *, positive: bool = False, minimum: float | None = None) -> float:
    """``float(value)`` for a finite real number (Python or NumPy, not bool); ``> 0`` when
    ``positive``, ``>= minimum`` when given. The one conversion of float arguments on the
    Python side: an integer too large for a float (``10**400``) is a ``ValueError`` naming
    ``arg``, never an anonymous ``OverflowError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{arg}: expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(
            f"{arg}: expected a finite number, got {_short_repr(value)} (beyond the float range)"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{arg}: expected a finite number, got {value}")
    if positive and number <= 0.0:
        raise ValueError(f"{arg}: expected a number > 0, got {value}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{arg}: expected a finite number >= {minimum:g}, got {value}")
    return number


def _short_repr(value) -> str:
    """``repr(value)`` cut to 40 characters (a 400-digit integer is not worth printing)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"
