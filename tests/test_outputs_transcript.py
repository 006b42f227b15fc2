import cv2
import numpy as np
import pytest
import webvtt
from frame_fixtures import HAPPY, SAD, make_results

from emocap.outputs import (
    AnnotatedVideoWriter,
    CaptionOverlay,
    EmotionSummary,
    SegmentBuilder,
    TranscriptOutputs,
    WebVTTWriter,
)
from emocap.types import NO_LABEL


def test_each_result_reaches_every_output_in_one_pass(tmp_path):
    results = make_results(np.arange(20) / 10, [[(0, HAPPY if i < 10 else SAD, NO_LABEL)] for i in range(20)])
    summary = EmotionSummary()
    with WebVTTWriter(tmp_path / "t.vtt") as vtt, AnnotatedVideoWriter(
        tmp_path / "t.mkv", fps=10, frame_size=(640, 360)
    ) as video:
        outputs = TranscriptOutputs([vtt], builder=SegmentBuilder(), summary=summary, video=video,
                                    overlay=CaptionOverlay())
        for i, result in enumerate(results):
            # The source changes size midway: the annotated copy keeps the first size.
            size = (360, 640, 3) if i < 10 else (180, 320, 3)
            outputs.add(np.zeros(size, np.uint8), result)
        outputs.finish(end_time_s=2.0)
    assert (outputs.frames, outputs.faces_seen) == (20, 20)
    assert [c.text for c in webvtt.read(str(tmp_path / "t.vtt")).captions] == [
        "Face 1 (left): looks happy — positive", "Face 1 (left): looks sad — negative"
    ]
    np.testing.assert_allclose(summary.seconds.sum(), 2.0)
    capture = cv2.VideoCapture(str(tmp_path / "t.mkv"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
    capture.release()


def test_an_annotated_video_needs_an_overlay(tmp_path):
    video = AnnotatedVideoWriter(tmp_path / "t.mp4", fps=10, frame_size=(64, 48))
    with pytest.raises(ValueError, match="needs an overlay"):
        TranscriptOutputs([], builder=SegmentBuilder(), summary=EmotionSummary(), video=video)
