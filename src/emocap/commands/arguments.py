"""Argument types shared by the commands: numbers checked at parse time, so a bad one is a usage error."""

from __future__ import annotations

import argparse
import math
from typing import Callable


def whole_number(minimum: int, maximum: int | None = None, *, note: str = "") -> Callable[[str], int]:
    """An argparse type for a whole number in minimum..maximum (no upper bound when maximum is None)."""
    bounds = f"in {minimum}..{maximum}" if maximum is not None else f"at least {minimum}"
    note = f" ({note})" if note else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected a whole number {bounds}{note}, got {text!r}")
        return value

    return parse


def real_number(minimum: float, *, above: bool = False, unit: str = "number") -> Callable[[str], float]:
    """An argparse type for a finite number >= minimum (> minimum when `above`)."""
    bound = f"{'>' if above else '>='} {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {unit}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise argparse.ArgumentTypeError(f"expected a {unit} {bound}, got {text!r}")
        return value

    return parse


positive_int = whole_number(1)


def add_command(subparsers, name: str, *, help: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand's parser, its description and examples printed as written."""
    return subparsers.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
