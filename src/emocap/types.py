"""The two values that flow through the pipeline: `Faces` and `FrameResult`.

`Faces` holds every face of one frame as parallel arrays (one row per face),
so each stage works on whole arrays instead of looping over faces. "No face"
is an instance with zero rows, never `None`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

NO_LABEL = -1
"""Value of `Faces.display` / `Faces.runner_up` when nothing is shown."""

UNSURE = -2
"""Value of `Faces.display` when the face's smoothed confidence is under the unsure threshold
(`UnsureRule`): its caption says "unsure" and names no emotion."""

UNTRACKED = -1
"""Value of `Faces.track_ids` before the tracker has assigned an identity."""


def _as(array, dtype, name: str, shape_tail: tuple[int | None, ...]) -> np.ndarray:
    out = np.asarray(array, dtype=dtype)
    if out.ndim != 1 + len(shape_tail):
        raise ValueError(
            f"Faces.{name} must have {1 + len(shape_tail)} dimensions, got shape {out.shape}"
        )
    for axis, size in enumerate(shape_tail, start=1):
        if size is not None and out.shape[axis] != size:
            raise ValueError(f"Faces.{name} must have shape (n, {', '.join(str(s) if s is not None else 'k' for s in shape_tail)}), got {out.shape}")
    return out


@dataclass(frozen=True)
class Faces:
    """All faces of one frame.

    boxes      float32 (n, 4)    x1, y1, x2, y2 in frame pixels
    scores     float32 (n,)      detector confidence
    landmarks  float32 (n, 5, 2) eyes, nose, mouth corners (x, y); NaN when the detector gives none
    track_ids  int64   (n,)      identity across frames, UNTRACKED before tracking
    probs      float32 (n, k)    class probabilities of this frame (k = 0 before classification)
    display    int64   (n,)      class shown to the user after smoothing, NO_LABEL when none yet
    runner_up  int64   (n,)      a second class shown beside `display` when the two are close, else NO_LABEL
    confidence float32 (n,)      the smoothed probability of the class the smoother chose (before any
                                 UNSURE), NaN when it has chosen none
    embeddings float32 (n, d)    the classifier's features of each face, its appearance (d = 0 when not computed)
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray = None  # type: ignore[assignment]
    track_ids: np.ndarray = None  # type: ignore[assignment]
    probs: np.ndarray = None  # type: ignore[assignment]
    display: np.ndarray = None  # type: ignore[assignment]
    runner_up: np.ndarray = None  # type: ignore[assignment]
    confidence: np.ndarray = None  # type: ignore[assignment]
    embeddings: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        boxes = _as(self.boxes, np.float32, "boxes", (4,))
        n = len(boxes)
        set_ = object.__setattr__
        set_(self, "boxes", boxes)
        set_(self, "scores", _as(self.scores, np.float32, "scores", ()))
        defaults = {
            "landmarks": (np.full((n, 5, 2), np.nan, np.float32), np.float32, (5, 2)),
            "track_ids": (np.full(n, UNTRACKED, np.int64), np.int64, ()),
            "probs": (np.zeros((n, 0), np.float32), np.float32, (None,)),
            "display": (np.full(n, NO_LABEL, np.int64), np.int64, ()),
            "runner_up": (np.full(n, NO_LABEL, np.int64), np.int64, ()),
            "confidence": (np.full(n, np.nan, np.float32), np.float32, ()),
            "embeddings": (np.zeros((n, 0), np.float32), np.float32, (None,)),
        }
        for name, (default, dtype, tail) in defaults.items():
            value = getattr(self, name)
            set_(self, name, default if value is None else _as(value, dtype, name, tail))
        for name in ("scores", "landmarks", "track_ids", "probs", "display", "runner_up", "confidence", "embeddings"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Faces.{name} has {len(getattr(self, name))} rows but boxes has {n}"
                )

    @classmethod
    def empty(cls, num_classes: int = 0) -> "Faces":
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros(0, np.float32),
            probs=np.zeros((0, num_classes), np.float32),
        )

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> "Faces":
        """Select rows with a boolean mask, an index array or a slice."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Faces(
            boxes=self.boxes[index],
            scores=self.scores[index],
            landmarks=self.landmarks[index],
            track_ids=self.track_ids[index],
            probs=self.probs[index],
            display=self.display[index],
            runner_up=self.runner_up[index],
            confidence=self.confidence[index],
            embeddings=self.embeddings[index],
        )

    def with_(self, **changes) -> "Faces":
        """A copy with some arrays replaced (shapes are validated again)."""
        return replace(self, **changes)

    @property
    def centers(self) -> np.ndarray:
        return np.stack(
            [(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2],
            axis=1,
        ) if len(self) else np.zeros((0, 2), np.float32)


@dataclass(frozen=True)
class FrameResult:
    """What the pipeline says about one frame.

    `faces` are ordered for reading: right to left across the frame by default
    (the paper's order), so captions can be listed as they come.
    """

    index: int
    time_s: float
    frame_size: tuple[int, int]  # (width, height)
    faces: Faces
    labels: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
