"""Argument checks for constructors across emocap (ValueErrors that name the owner and quote the bad value)."""

from __future__ import annotations

import json
import math

import numpy as np


def check_int(owner: str, name: str, value, minimum: int) -> int:
    if not is_whole(value) or value < minimum:
        raise ValueError(f"{owner}.{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def is_whole(value) -> bool:
    """An integer, and not a bool (True is 1 to Python, not to a user)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A finite real number, and not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(value)


def check_number(owner: str, name: str, value, low: float, high: float = math.inf, interval: str = "[]") -> float:
    """`value` as a float, if it is finite and lies in the interval from `low` to `high`
    (`interval`: "[]", "(]", "[)" or "()"; no upper bound when `high` is infinite)."""
    is_number = is_real(value)
    above = is_number and (value > low if interval[0] == "(" else value >= low)
    below = is_number and (value < high if interval[1] == ")" else value <= high)
    if not (above and below):
        if math.isinf(high):
            bound = f"a number {'>' if interval[0] == '(' else '>='} {low:g}"
        else:
            bound = f"in {interval[0]}{low:g}, {high:g}{interval[1]}"
        raise ValueError(f"{owner}.{name} must be {bound}, got {value!r}")
    return float(value)


def read_json(text: str):
    """`json.loads` of a value a file brought (a model's metadata, a checkpoint's config): ValueError
    for anything that is not JSON text, arrays nested too deep for the parser among it (Python's
    parser ends those in RecursionError: 100,000 brackets make a 200 KB string)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise ValueError(f"expected JSON text, got {type(text).__name__}")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("arrays or objects nested too deep to read") from None
