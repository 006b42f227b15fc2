"""What every benchmark does with its figures at the end: name the CPU they were measured on, and
write them whole to --json, or say in one line why it could not."""

from __future__ import annotations

import sys

from emocap.atomic import atomic_json
from emocap.errors import EmocapError
from emocap.onnx_session import cpu_features


def save_report(path: str | None, report: dict) -> int:
    """Print the CPU, write `report` (with it) to `path` (nothing when path is None); return the exit code."""
    report = {**report, "cpu": cpu_features().describe()}
    # The same code ran 2-5x slower, and int8 models once less accurately, on CPUs without AVX-512 / VNNI.
    print(f"measured on: {report['cpu']}")
    if not path:
        return 0
    try:
        atomic_json(path, report)
    except EmocapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"saved {path}")
    return 0
