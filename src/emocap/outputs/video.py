"""A copy of a video with the captions drawn in (OpenCV's VideoWriter; the sound is not kept)."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

import cv2
import numpy as np

from emocap.atomic import atomic_path
from emocap.errors import OutputError

VIDEO_CODECS: dict[str, str] = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".webm": "VP80"}
"""Extension -> FourCC. All three codecs ship with OpenCV's own FFmpeg build, so they work everywhere it
does. Browsers play none of them in .mp4 (OpenCV's wheels cannot encode H.264), but they play VP8 .webm."""


class AnnotatedVideoWriter:
    """Frames written at a constant `fps` to `path`, which appears only when the `with` block ends cleanly.

        with AnnotatedVideoWriter("out.mp4", fps=30, frame_size=(640, 360)) as video:
            video.write(frame_bgr)

    A variable-frame-rate source is written at its nominal rate: the frames
    are all there, in order, but their spacing is evened out.
    """

    def __init__(self, path: str | os.PathLike, *, fps: float, frame_size: tuple[int, int]) -> None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        width, height = frame_size
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise ValueError(f"frame_size must be two positive whole numbers (width, height), got {frame_size!r}")
        self.path = Path(path)
        self.codec = video_codec(self.path)
        self.fps = float(fps)
        self.frame_size = (width, height)
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> "AnnotatedVideoWriter":
        with contextlib.ExitStack() as stack:
            temporary = stack.enter_context(atomic_path(self.path))
            writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*self.codec), self.fps, self.frame_size)
            # Registered after the atomic path, so it runs first: the file is complete before the rename.
            stack.callback(writer.release)
            if not writer.isOpened():
                raise OutputError(f"cannot write video {str(self.path)!r}: OpenCV cannot encode {self.codec!r} here")
            self._writer = writer
            self._stack = stack.pop_all()
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        if self._writer is None:
            raise RuntimeError(f"video {str(self.path)!r} is not open: use AnnotatedVideoWriter in a `with` block")
        width, height = self.frame_size
        if frame_bgr.shape != (height, width, 3) or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 ({height}, {width}, 3) like the first one, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        self._writer.write(frame_bgr)
        self.frames_written += 1

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, self._stack, self._writer = self._stack, None, None
        if exc_type is None and self.frames_written == 0:
            with stack:  # an empty video is not a result: the temporary file goes
                raise OutputError(f"no frames to write to {str(self.path)!r}")
        return bool(stack.__exit__(exc_type, exc, traceback))


def video_codec(path: str | os.PathLike) -> str:
    """The FourCC for this path's extension; OutputError naming the supported ones otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_CODECS:
        shown = repr(suffix) if suffix else "no extension"
        raise OutputError(f"cannot write video {str(path)!r}: {shown} is not supported; use {', '.join(VIDEO_CODECS)}")
    return VIDEO_CODECS[suffix]
