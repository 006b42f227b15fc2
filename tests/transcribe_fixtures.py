"""`emocap transcribe` run in this process on tiny clips made here, with a stand-in pipeline.

`write_clip` writes a clip with OpenCV whose frames hold one bright square (or none); `SquarePipeline`
reads such clips exactly, the square being face 0 and its colour the emotion (blue happy, red angry);
the `pipeline` fixture (conftest.py) puts it in the place of the real one, and `run` runs the command
with one worker. Plain helpers (imported like `frame_fixtures`: pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from emocap.commands import transcribe
from emocap.errors import DataError
from emocap.labels import FER2013_LABELS
from emocap.types import Faces, FrameResult

HAPPY, ANGRY = FER2013_LABELS.index("happy"), FER2013_LABELS.index("angry")
BLUE, RED = (255, 0, 0), (0, 0, 255)


class SquarePipeline:
    """Reads the synthetic clips: the bright square is face 0, its colour the emotion."""

    def __init__(self, fail_at_frame: int | None = None) -> None:
        self.fail_at_frame = fail_at_frame
        self.frames = 0
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        return frame_bgr  # the two stages of Pipeline, as transcription runs them: all the work is in finish

    def finish(self, frame_bgr: np.ndarray, time_s: float | None = None) -> FrameResult:
        return self.process(frame_bgr, time_s)

    def process(self, frame_bgr: np.ndarray, time_s: float | None = None) -> FrameResult:
        if self.frames == self.fail_at_frame:
            raise DataError("the model broke")
        self.frames += 1
        bright = frame_bgr.max(axis=2) > 128
        faces = Faces.empty(len(FER2013_LABELS))
        if bright.any():
            ys, xs = np.nonzero(bright)
            blue = frame_bgr[bright, 0].mean() > frame_bgr[bright, 2].mean()
            shown = HAPPY if blue else ANGRY
            probs = np.full((1, len(FER2013_LABELS)), 0.01, np.float32)
            probs[0, shown] = 0.94
            faces = Faces(
                boxes=[[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], scores=[0.99],
                track_ids=[0], probs=probs, display=[shown], runner_up=[-1],
            )
        height, width = frame_bgr.shape[:2]
        return FrameResult(self.frames - 1, float(time_s), (width, height), faces, FER2013_LABELS)


def write_clip(path, colours, fps=10.0, size=(160, 120)):
    """One frame per entry of `colours`: a 40x40 square of that colour moving right, or none for None."""
    width, height = size
    codec = "MJPG" if str(path).endswith(".avi") else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    try:
        for i, colour in enumerate(colours):
            frame = np.zeros((height, width, 3), np.uint8)
            if colour is not None:
                frame[40:80, 10 + i: 50 + i] = colour
            writer.write(frame)
    finally:
        writer.release()
    return path


HAPPY_THEN_ANGRY = [BLUE] * 15 + [RED] * 15  # 3 s at 10 fps


def run(argv: list[str]) -> int:
    """The command in this process (--workers 1: the stand-in pipeline cannot travel to Ray workers)."""
    parser = argparse.ArgumentParser(prog="emocap")
    transcribe.add_parser(parser.add_subparsers())
    args = parser.parse_args(["transcribe", "--workers", "1", *map(str, argv)])
    return args.run(args)


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())
