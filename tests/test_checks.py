"""The shared constructor checks: bounds, open ends and non-numbers, each quoted in the error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emocap.checks import check_int, check_number


def test_whole_numbers_at_or_above_the_minimum_pass_as_int():
    assert check_int("Owner", "n", np.int64(3), 3) == 3 and type(check_int("Owner", "n", 3, 1)) is int


@pytest.mark.parametrize("value", [2, True, 3.0, "3", None])
def test_other_values_are_not_whole_numbers(value):
    with pytest.raises(ValueError, match=rf"Owner\.n must be an integer >= 3, got {value!r}"):
        check_int("Owner", "n", value, 3)


def test_intervals_open_and_closed():
    assert check_number("Owner", "x", 1, 0, 1, "(]") == 1.0
    with pytest.raises(ValueError, match=r"Owner\.x must be in \[0, 1\), got 1"):
        check_number("Owner", "x", 1, 0, 1, "[)")
    with pytest.raises(ValueError, match=r"must be in \(0, 1\], got 0"):
        check_number("Owner", "x", 0, 0, 1, "(]")


@pytest.mark.parametrize("value", [11.5, math.nan, math.inf, "12", False])
def test_an_open_upper_end_still_wants_a_finite_number(value):
    with pytest.raises(ValueError, match=rf"Owner\.size must be a number >= 12, got {value!r}"):
        check_number("Owner", "size", value, 12)
    assert check_number("Owner", "size", 1e6, 12) == 1e6
