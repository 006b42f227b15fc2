"""What every benchmark does with its --json report: write it whole, or say in one line why it could not."""

from __future__ import annotations

import sys

from emocap.atomic import atomic_json
from emocap.errors import EmocapError


def save_report(path: str | None, report: dict) -> int:
    """Write `report` to `path` (nothing when path is None); return the benchmark's exit code."""
    if not path:
        return 0
    try:
        atomic_json(path, report)
    except EmocapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"saved {path}")
    return 0
