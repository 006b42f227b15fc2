"""Shot changes (cuts): the frames where a video jumps to another view, across which no box continues.

An edited video cuts from one shot to another between two frames; a face in the
new shot may sit where another person's face was in the old one, and box overlap
alone would hand it that person's number. Each frame is shrunk to a 32x18 grey
thumbnail and compared with the last one: the mean change per pixel, once the
two are brought to the same mean brightness (a change of exposure is no cut).

That change alone cannot tell every cut from fast camera motion: a pan across
two portraits on a plain wall (the bundled clip) changes a thumbnail as much as
a cut between two such shots (benchmarks/identity.py). So there are two levels:

- JUMP: the picture changed more than motion within a still shot does; a cut or
  a fast pan. Boxes continue only where the faces' looks agree (`AppearanceTracker`).
- CUT: more change than the fastest pan measured; every track ends.
"""

from __future__ import annotations

import cv2
import numpy as np

from emocap.checks import check_number

THUMBNAIL_SIZE = (32, 18)
"""Width and height of the thumbnails compared: a 16:9 frame in 576 pixels, cheap to make and to compare."""
STEADY, JUMP, CUT = 0, 1, 2
"""What `ShotChangeDetector.update` says of a frame: same shot, a jump (a cut, or fast motion), a sure cut."""
DEFAULT_JUMP_CHANGE = 8.0
"""Mean grey-level change (0-255) of a thumbnail, less its change of mean brightness, above which a frame
is a JUMP: still shots and slow drift change a thumbnail by up to 3.4 (benchmarks/identity.py)."""
DEFAULT_CUT_CHANGE = 40.0
"""...and above which it is a CUT: the fastest pan of the bundled clip changes it by 33."""


def thumbnail(frame_bgr: np.ndarray) -> np.ndarray:
    """float32 (18, 32) grey thumbnail of a BGR (or grey) frame."""
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if frame_bgr.ndim == 3 else frame_bgr
    return cv2.resize(gray, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def thumbnail_change(before: np.ndarray, after: np.ndarray) -> float:
    """Mean absolute change per pixel between two thumbnails, less their change of mean brightness."""
    change = after - before
    return float(np.abs(change - change.mean()).mean())


class ShotChangeDetector:
    """`update(frame_bgr) -> STEADY | JUMP | CUT`: how this frame follows the last one (the first is STEADY)."""

    def __init__(self, jump_change: float = DEFAULT_JUMP_CHANGE, cut_change: float = DEFAULT_CUT_CHANGE) -> None:
        self.jump_change = check_number("ShotChangeDetector", "jump_change", jump_change, 0, 255, "(]")
        self.cut_change = check_number("ShotChangeDetector", "cut_change", cut_change, self.jump_change, 255)
        self.reset()

    def reset(self) -> None:
        self._last: np.ndarray | None = None
        self.last_change = 0.0
        """The change measured at the last frame (0 for the first)."""

    def update(self, frame_bgr: np.ndarray) -> int:
        current = thumbnail(frame_bgr)
        last, self._last = self._last, current
        self.last_change = 0.0 if last is None else thumbnail_change(last, current)
        return CUT if self.last_change > self.cut_change else JUMP if self.last_change > self.jump_change else STEADY
