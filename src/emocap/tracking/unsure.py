"""Saying "unsure" instead of an emotion the model is not sure of.

A wrong caption said with confidence is worse than none: on PrivateTest the
built-in model is right on 69% of faces, but far more often on the faces it is
surest about (benchmarks/confidence.py). So a face whose smoothed confidence
(`Faces.confidence`, after the model's calibration temperature) is under a
threshold is shown as UNSURE: the caption reads "unsure" and names no emotion,
while its records keep the probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emocap.checks import check_number
from emocap.labels import UNSURE_WORD
from emocap.types import NO_LABEL, UNSURE, Faces

__all__ = ["UNSURE_WORD", "UnsureRule"]


@dataclass(frozen=True)
class UnsureRule:
    """Faces shown with a confidence under `below` (0..1; 0 never) become UNSURE, without a runner-up."""

    below: float

    def __post_init__(self) -> None:
        check_number("UnsureRule", "below", self.below, 0, 1, "[)")

    def update(self, faces: Faces) -> Faces:
        unsure = (faces.display >= 0) & (faces.confidence < self.below)  # NaN (nothing chosen) is never under
        if not unsure.any():
            return faces
        return faces.with_(
            display=np.where(unsure, UNSURE, faces.display), runner_up=np.where(unsure, NO_LABEL, faces.runner_up),
        )
