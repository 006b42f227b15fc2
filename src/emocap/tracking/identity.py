"""Face identities across frames: assignment on box overlap (IoU)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from emocap.checks import check_int, check_number
from emocap.defaults import DEFAULT_PATIENCE_FRAMES
from emocap.geometry import iou_matrix
from emocap.tracking.table import TrackTable
from emocap.types import Faces

MAX_EXTRAPOLATED_FRAMES = 5
"""A missing face's box is moved on with its velocity for at most this many frames, then held."""


class IouTracker:
    """Gives each face a `track_id` that stays the same while the face stays in view.

    Each frame, faces are matched to where every live track is expected to be
    by an optimal one-to-one assignment on IoU (`linear_sum_assignment`); a
    pair counts only if its IoU is at least `iou_threshold`. A track is
    expected at its last box moved on by its velocity (the smoothed change of
    its box per frame), so a face that keeps moving, as in a camera pan, keeps
    its id even when it moves most of its width per frame. Unmatched faces
    start new tracks with new, increasing ids (never reused). A track unseen
    for more than `patience_frames` frames in a row is dropped, so a face that
    comes back within that time, near where it was, keeps its id.
    """

    def __init__(self, iou_threshold: float = 0.2, patience_frames: int = DEFAULT_PATIENCE_FRAMES) -> None:
        self.iou_threshold = check_number("IouTracker", "iou_threshold", iou_threshold, 0, 1, "(]")
        self._tracks = TrackTable(check_int("IouTracker", "patience_frames", patience_frames, 0))
        self._next_id = 0

    @property
    def patience_frames(self) -> int:
        return self._tracks.patience_frames

    @property
    def live_ids(self) -> np.ndarray:
        """Ids of the tracks still remembered (seen within patience)."""
        return self._tracks.ids.copy()

    def reset(self) -> None:
        self._tracks.reset()
        self._next_id = 0

    def update(self, faces: Faces) -> Faces:
        ids = np.full(len(faces), -1, np.int64)
        track_rows, face_rows = self._match(faces.boxes)
        ids[face_rows] = self._tracks.ids[track_rows]
        self._follow(track_rows, faces.boxes[face_rows])
        new = ids < 0
        ids[new] = np.arange(self._next_id, self._next_id + new.sum(), dtype=np.int64)
        self._next_id += int(new.sum())
        new_rows = self._tracks.append(
            ids[new], boxes=faces.boxes[new], velocity=np.zeros((int(new.sum()), 4), np.float32)
        )
        self._tracks.end_frame(np.concatenate([track_rows, new_rows]))
        return faces.with_(track_ids=ids)

    def _follow(self, track_rows: np.ndarray, boxes: np.ndarray) -> None:
        """Move the matched tracks to their new `boxes`, and on their velocities."""
        if not len(track_rows):
            return
        columns = self._tracks.columns
        frames_apart = (self._tracks.missed[track_rows] + 1)[:, None]
        step = (boxes - columns["boxes"][track_rows]) / frames_apart
        # Half the new step, half the old velocity: one jittery box does not send a track flying.
        columns["velocity"][track_rows] = 0.5 * columns["velocity"][track_rows] + 0.5 * step
        columns["boxes"][track_rows] = boxes

    def _match(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(track rows, face rows) of the accepted pairs."""
        if not len(self._tracks) or not len(boxes):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        overlap = iou_matrix(self._expected_boxes(), boxes)
        track_rows, face_rows = linear_sum_assignment(overlap, maximize=True)
        accepted = overlap[track_rows, face_rows] >= self.iou_threshold
        return track_rows[accepted].astype(np.int64), face_rows[accepted].astype(np.int64)

    def _expected_boxes(self) -> np.ndarray:
        """Where each live track should be this frame: its last box moved on by its velocity."""
        frames_ahead = np.minimum(self._tracks.missed + 1, MAX_EXTRAPOLATED_FRAMES)[:, None]
        return self._tracks.columns["boxes"] + self._tracks.columns["velocity"] * frames_ahead
