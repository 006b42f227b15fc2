"""What every transcript writer shares: an atomic file, and one call per frame and per segment."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import ClassVar, TextIO

from emocap.atomic import atomic_text
from emocap.labels import DEFAULT_WORDING, check_wording
from emocap.outputs.segments import Segment
from emocap.types import FrameResult

RECORD_KINDS: tuple[str, ...] = ("frame", "segment")
"""What one record of a JSON Lines or CSV transcript describes."""


class TranscriptWriter:
    """A transcript file written as the video plays, appearing at `path` only when complete.

        with WebVTTWriter("talk.vtt") as writer:
            writer.frame(result)      # every frame, in order
            writer.segment(segment)   # every segment, in order of start time

    If the block ends with an error the file is not created (an older file at
    `path` stays as it was). Subclasses write in `begin`, `frame`, `segment`, `end`. Captions a writer
    makes from frames are in its `wording`; segments come worded by their `SegmentBuilder`.
    """

    suffix: ClassVar[str]
    newline: ClassVar[str | None] = None

    def __init__(self, path: str | os.PathLike, *, records: str = "frame", wording: str = DEFAULT_WORDING) -> None:
        if records not in RECORD_KINDS:
            raise ValueError(f"records must be one of {RECORD_KINDS}, got {records!r}")
        self.path = Path(path)
        self.records = records
        self.wording = check_wording(wording)
        self._stream: TextIO | None = None
        self._stack: contextlib.ExitStack | None = None

    @property
    def stream(self) -> TextIO:
        if self._stream is None:
            raise RuntimeError(f"{type(self).__name__} for {str(self.path)!r} is not open: use it in a `with` block")
        return self._stream

    def __enter__(self) -> "TranscriptWriter":
        with contextlib.ExitStack() as stack:
            self._stream = stack.enter_context(atomic_text(self.path, newline=self.newline))
            self.begin()
            self._stack = stack.pop_all()
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, self._stack = self._stack, None
        try:
            if exc_type is None:
                # An error while finishing also discards the temporary file.
                with stack:
                    self.end()
                return False
            return bool(stack.__exit__(exc_type, exc, traceback))
        finally:
            self._stream = None

    def begin(self) -> None:
        """Write what comes before the first record."""

    def frame(self, result: FrameResult) -> None:
        """Take one frame (called for every frame, whatever the writer records)."""

    def segment(self, segment: Segment) -> None:
        """Take one finished segment."""

    def end(self) -> None:
        """Write what comes after the last record."""
