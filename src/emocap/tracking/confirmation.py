"""Which tracks are real faces: a track is shown only once it has been detected in a few frames.

A detector's one-frame false alarm (a patch of wall, a face-like shadow)
starts a track like any face. Trackers such as SORT and ByteTrack confirm a
track only after it has been matched for a few frames in a row, and so does
`TrackConfirmation`: faces of unconfirmed tracks are dropped from the result
(no box, caption, record or report row), and a confirmed track keeps being
shown for as long as the tracker keeps its identity.

Confirmed tracks are numbered in the order they are confirmed, and faces
confirmed in the same frame in the order they come (reading order, right to
left, when it runs after `order_for_reading`): tracks that were never shown
take no number, so the numbers people see count the people shown.
"""

from __future__ import annotations

import numpy as np

from emocap.checks import check_int
from emocap.defaults import DEFAULT_CONFIRM_FRAMES, DEFAULT_PATIENCE_FRAMES
from emocap.tracking.table import TrackTable
from emocap.types import UNTRACKED, Faces


class TrackConfirmation:
    """`update(faces, detected=True) -> faces`: only the faces of confirmed tracks, with their shown numbers
    (0-based) as `track_ids`.

    confirm_frames   frames in which a track must be detected before its face is shown (1: at once, as
                     a single photo needs)
    patience_frames  frames a track may go unseen before it is forgotten (the tracker's patience)

    `detected` is False for a frame whose boxes were carried over from an earlier detection
    (`Pipeline(detect_every=K)`): it shows the confirmed faces but does not count towards confirmation.
    """

    def __init__(self, confirm_frames: int = DEFAULT_CONFIRM_FRAMES, patience_frames: int = DEFAULT_PATIENCE_FRAMES) -> None:
        self.confirm_frames = check_int("TrackConfirmation", "confirm_frames", confirm_frames, 1)
        self._tracks = TrackTable(check_int("TrackConfirmation", "patience_frames", patience_frames, 0))
        self.reset()

    def reset(self) -> None:
        self._tracks.reset()
        self._next_number = 0

    def update(self, faces: Faces, detected: bool = True) -> Faces:
        if not len(faces) and not len(self._tracks):
            return faces
        if (faces.track_ids == UNTRACKED).any():
            raise ValueError(f"TrackConfirmation needs tracked faces (run IouTracker first), got {faces.track_ids.tolist()}")
        rows = self._tracks.rows_for(faces.track_ids, lambda new: {
            "seen": np.zeros(int(new.sum()), np.int64), "number": np.full(int(new.sum()), -1, np.int64),
        })
        columns = self._tracks.columns
        if detected:
            columns["seen"][rows] += 1
        newly = (columns["number"][rows] < 0) & (columns["seen"][rows] >= self.confirm_frames)
        columns["number"][rows[newly]] = np.arange(self._next_number, self._next_number + int(newly.sum()))
        self._next_number += int(newly.sum())
        numbers = columns["number"][rows]
        self._tracks.end_frame(rows)
        shown = numbers >= 0
        return faces[shown].with_(track_ids=numbers[shown])
