"""Saying "unsure" instead of an emotion the model is not sure of.

A wrong caption said with confidence is worse than none: on PrivateTest the
built-in model is right on 69% of faces, but far more often on the faces it is
surest about (benchmarks/confidence.py). So a face whose smoothed confidence
(`Faces.confidence`, after the model's calibration temperature) is under a
threshold is shown as UNSURE: the caption reads "unsure" and names no emotion,
while its records keep the probabilities.
"""

from __future__ import annotations

import numpy as np

from emocap.checks import check_number
from emocap.defaults import DEFAULT_PATIENCE_FRAMES
from emocap.labels import UNSURE_WORD
from emocap.tracking.table import TrackTable
from emocap.types import NO_LABEL, UNSURE, UNTRACKED, Faces

__all__ = ["UNSURE_WORD", "UnsureRule"]


class UnsureRule:
    """Faces shown with a confidence under `below` (0..1; 0 never) become UNSURE, without a runner-up.

    With a band (hysteresis), a tracked face that names an emotion turns unsure only under
    `below - lower`, and one that reads "unsure" names an emotion again only at `below + upper`: a
    confidence that wavers about the threshold, as a smoothed one does on a face the model half knows,
    then changes the caption once, not every few frames. A face seen for the first time, or without a
    track id (a single photo), is judged against `below` itself.
    """

    def __init__(
        self, below: float, lower: float = 0.0, upper: float = 0.0, patience_frames: int = DEFAULT_PATIENCE_FRAMES,
    ) -> None:
        self.below = check_number("UnsureRule", "below", below, 0, 1, "[)")
        self.lower = check_number("UnsureRule", "lower", lower, 0, self.below)
        self.upper = check_number("UnsureRule", "upper", upper, 0, 1 - self.below, "[)")
        self._tracks = TrackTable(patience_frames)

    def reset(self) -> None:
        self._tracks.reset()

    def update(self, faces: Faces) -> Faces:
        shown = faces.display >= 0
        unsure = shown & (faces.confidence < self.below)  # NaN (nothing chosen) is never under
        if self.below > 0 and (self.lower > 0 or self.upper > 0):
            unsure = self._with_hysteresis(faces, shown, unsure)
        if not unsure.any():
            return faces
        return faces.with_(
            display=np.where(unsure, UNSURE, faces.display), runner_up=np.where(unsure, NO_LABEL, faces.runner_up),
        )

    def _with_hysteresis(self, faces: Faces, shown: np.ndarray, unsure: np.ndarray) -> np.ndarray:
        tracked = faces.track_ids != UNTRACKED
        rows = self._tracks.rows_for(faces.track_ids[tracked], lambda new: {"unsure": unsure[tracked][new]})
        was_unsure = self._tracks.columns["unsure"][rows] if len(rows) else np.zeros(0, bool)
        confidence = faces.confidence[tracked]
        threshold = np.where(was_unsure, self.below + self.upper, self.below - self.lower)
        unsure = unsure.copy()
        unsure[tracked] = shown[tracked] & (confidence < threshold)
        if len(rows):
            self._tracks.columns["unsure"][rows] = unsure[tracked]
        self._tracks.end_frame(rows)
        return unsure
