"""Synthetic `FrameResult`s for the output tests (no model, no video needed).

A face is written as (track_id, display, runner_up); a frame as a list of
faces. Face `t` sits at x = 20 + 200 * t in a 640x360 frame, so track 0 is on
the left, 1 in the centre, 2 on the right.

For the tracking tests, detected faces are given by their boxes alone (`boxes_faces`), as
`square`s of a side of 100 pixels by default.
"""

from __future__ import annotations

import numpy as np

from emocap.labels import FER2013_LABELS
from emocap.types import NO_LABEL, Faces, FrameResult

ANGRY, DISGUST, FEAR, HAPPY, NEUTRAL, SAD, SURPRISE = range(7)
FRAME_SIZE = (640, 360)


def face_box(track_id: int) -> list[float]:
    x = 20.0 + 200.0 * track_id
    return [x, 100.0, x + 120.0, 240.0]


def make_faces(faces: list[tuple[int, int, int]], num_classes: int = len(FER2013_LABELS)) -> Faces:
    """Faces with boxes by track id and probabilities peaked at the displayed class."""
    if not faces:
        return Faces.empty(num_classes)
    track_ids, display, runner_up = (np.array(column, np.int64) for column in zip(*faces))
    probs = np.full((len(faces), num_classes), 0.02, np.float32)
    shown = display != NO_LABEL
    probs[np.flatnonzero(shown), display[shown]] = 1.0 - 0.02 * (num_classes - 1)
    return Faces(
        boxes=np.array([face_box(int(t)) for t in track_ids], np.float32),
        scores=np.full(len(faces), 0.99, np.float32),
        track_ids=track_ids,
        probs=probs,
        display=display,
        runner_up=runner_up,
    )


def boxes_faces(boxes) -> Faces:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Faces(boxes=boxes, scores=np.full(len(boxes), 0.99, np.float32))


def square(x: float, y: float = 0.0, side: float = 100.0) -> list[float]:
    return [x, y, x + side, y + side]


def make_result(index: int, time_s: float, faces: list[tuple[int, int, int]]) -> FrameResult:
    return FrameResult(
        index=index, time_s=time_s, frame_size=FRAME_SIZE, faces=make_faces(faces), labels=FER2013_LABELS
    )


def make_results(times, frames: list[list[tuple[int, int, int]]]) -> list[FrameResult]:
    return [make_result(i, float(t), faces) for i, (t, faces) in enumerate(zip(times, frames))]


def one_face(states: list[int], fps: float = 10.0, track_id: int = 0) -> list[FrameResult]:
    """One face whose displayed class per frame is `states` (NO_LABEL: not in the frame)."""
    frames = [[(track_id, state, NO_LABEL)] if state != NO_LABEL else [] for state in states]
    return make_results(np.arange(len(states)) / fps, frames)


def feed(writer, results: list[FrameResult], builder) -> None:
    """Every frame, then every segment as `builder` (a SegmentBuilder) cuts them, to `writer`, the way
    `transcribe` does."""
    for result in results:
        writer.frame(result)
        for segment in builder.update(result):
            writer.segment(segment)
    for segment in builder.finish():
        writer.segment(segment)
