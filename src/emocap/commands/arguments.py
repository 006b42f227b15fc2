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


def real_number(
    minimum: float, *, above: bool = False, maximum: float | None = None, unit: str = "number",
) -> Callable[[str], float]:
    """An argparse type for a finite number >= minimum (> minimum when `above`), and <= maximum when given."""
    if maximum is not None:
        bound = f"> {minimum:g} and <= {maximum:g}" if above else f"in {minimum:g}..{maximum:g}"
    else:
        bound = f"{'>' if above else '>='} {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {unit}, got {text!r}") from None
        if (not math.isfinite(value) or value < minimum or (above and value == minimum)
                or (maximum is not None and value > maximum)):
            raise argparse.ArgumentTypeError(f"expected a {unit} {bound}, got {text!r}")
        return value

    return parse


LONGEST_VIDEO_S = 1e9
"""The most seconds a time option takes (--start, --end, ...): 31 years, beyond any video, and
small enough that a time at FFmpeg's finest time bases (nanoseconds) still fits its 64-bit
timestamps (--start 1e15 overflowed the seek)."""


def seconds(minimum: float, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type for a time in seconds, from `minimum` to `LONGEST_VIDEO_S`."""
    return real_number(minimum, above=above, maximum=LONGEST_VIDEO_S, unit="number of seconds")


positive_int = whole_number(1)


def add_command(subparsers, name: str, *, help: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A subcommand's parser, its description and examples printed as written."""
    return subparsers.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


class _OptionalValue(argparse.Action):
    """Stores the value like argparse's own store, and notes the word it took (see `add_optional_value`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        if values:
            parser.__dict__.setdefault("_optional_values_taken", []).append((option_string, values, self.metavar))


def add_optional_value(parser: argparse.ArgumentParser, *flags: str, **kwargs) -> argparse.Action:
    """An option whose value may be left out (`--annotate` alone: a name made for it), the one definition
    of such options. argparse gives it the next word even when that word was meant as the input
    (`emocap transcribe --annotate clip.mp4`); when that leaves a required argument missing, the
    error says which word the option took and how to write it instead."""
    _explain_swallowed_words(parser)
    return parser.add_argument(*flags, nargs="?", const="", action=_OptionalValue, **kwargs)


def _explain_swallowed_words(parser: argparse.ArgumentParser) -> None:
    if "_explains_swallowed_words" in parser.__dict__:
        return
    parser._explains_swallowed_words = True
    plain_error = parser.error

    def error(message: str):
        taken = parser.__dict__.get("_optional_values_taken", [])
        required = "the following arguments are required: "
        if taken and message.startswith(required):
            flag, value, metavar = taken[-1]
            missing = message[len(required):]
            message = (f"{flag} took {value!r} as its {metavar}, so {missing} is missing: give {missing} "
                       f"before {flag}, or write {flag}={metavar}")
        plain_error(message)

    parser.error = error  # argparse reports through self.error; this parser's own instance says more
