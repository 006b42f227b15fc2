"""One video's results, handed to every output in one pass."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emocap.outputs.overlay import CaptionOverlay
from emocap.outputs.segments import Segment, SegmentBuilder
from emocap.outputs.summary import EmotionSummary
from emocap.outputs.video import AnnotatedVideoWriter
from emocap.outputs.writer import TranscriptWriter
from emocap.types import FrameResult


class TranscriptOutputs:
    """Gives each frame's result to every writer, cuts segments for the writers and the summary,
    and draws the annotated copy when there is one.

    The writers and the video must already be open (their `with` blocks belong
    to the caller, so an error anywhere discards all of them).
    """

    def __init__(
        self,
        writers: Sequence[TranscriptWriter],
        *,
        builder: SegmentBuilder,
        summary: EmotionSummary,
        video: AnnotatedVideoWriter | None = None,
        overlay: CaptionOverlay | None = None,
    ) -> None:
        if video is not None and overlay is None:
            raise ValueError("an annotated video needs an overlay to draw with")
        self.writers = tuple(writers)
        self.builder = builder
        self.summary = summary
        self.video = video
        self.overlay = overlay
        self.frames = 0
        self.faces_seen = 0

    def add(self, frame_bgr: np.ndarray, result: FrameResult) -> None:
        for writer in self.writers:
            writer.frame(result)
        self._take(self.builder.update(result))
        if self.video is not None:
            self.video.write(self._fit(self.overlay.annotate(frame_bgr, result)), result.time_s)
        self.frames += 1
        self.faces_seen += len(result.faces)

    def finish(self, end_time_s: float) -> None:
        """The video ended at `end_time_s`: the open segments are closed and written."""
        self._take(self.builder.finish(end_time_s=end_time_s))

    def _take(self, segments: list[Segment]) -> None:
        for segment in segments:
            self.summary.add(segment)
            if self.video is not None and self.video.subtitles:
                self.video.add_caption(segment.start_s, segment.end_s, segment.caption)
            for writer in self.writers:
                writer.segment(segment)

    def _fit(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The frame at the video file's size (a source may change size midway; the file cannot)."""
        import cv2

        width, height = self.video.frame_size
        if frame_bgr.shape[:2] == (height, width):
            return frame_bgr
        return cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_AREA)
