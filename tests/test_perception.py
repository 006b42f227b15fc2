"""Perception, the first half of the pipeline: the detection schedule as a pure function, the `Detector`
protocol it relies on, and a stage that keeps nothing between frames."""

import numpy as np
import pytest

from emocap.detection import HaarFaceDetector, check_detector
from emocap.perception import Detected, Perception, PerceptionFeed, scheduled_scan
from emocap.pipeline_config import PipelineConfig
from emocap.record import Scan
from emocap.tracking.shots import CUT, JUMP, STEADY
from emocap.types import Faces

W, N, C = Scan.WHOLE, Scan.NEAR, Scan.CARRY


def every(shot: int, frames: int, **options) -> list[Scan]:
    return [scheduled_scan(number, shot, **options) for number in range(frames)]


def test_the_schedule_follows_from_the_frame_number_and_the_shot_alone():
    assert every(STEADY, 13, detect_every=2, full_scan_every=3) == [W, C, N, C, N, C, W, C, N, C, N, C, W]
    assert every(STEADY, 5, detect_every=1, full_scan_every=1) == [W] * 5  # the paper's way
    assert every(STEADY, 9, detect_every=1, full_scan_every=4) == [W, N, N, N, W, N, N, N, W]
    assert every(JUMP, 4, detect_every=3, full_scan_every=4) == [W] * 4 == every(CUT, 4, detect_every=3, full_scan_every=4)


class Scripted:
    """A detector that says which calls it had; `searches_near` as the test asks."""

    def __init__(self, searches_near: bool, found: int = 1):
        self.searches_near, self.calls = searches_near, []
        self.faces = Faces(boxes=np.tile([[10, 10, 110, 120]], (found, 1)), scores=np.ones(found))

    def detect(self, frame):
        self.calls.append("scan")
        return self.faces

    def detect_near(self, frame, boxes):
        self.calls.append("near")
        return self.faces


def test_a_detector_that_cannot_search_near_is_scanned_and_a_carry_runs_no_detector():
    frame, known = np.zeros((240, 320, 3), np.uint8), Faces(boxes=[[5, 5, 100, 100]], scores=[0.9])
    cannot, can = Scripted(searches_near=False), Scripted(searches_near=True)
    config = PipelineConfig(brighten_dim_frames=False)
    assert Perception(cannot, None, config).find(frame, Scan.NEAR, known)[1] == Scan.WHOLE and cannot.calls == ["scan"]
    assert Perception(can, None, config).find(frame, Scan.NEAR, known)[1] == Scan.NEAR and can.calls == ["near"]
    faces, scan = Perception(can, None, config).find(frame, Scan.CARRY, known)
    assert faces is known and scan == Scan.CARRY and can.calls == ["near"]
    # Nothing known to search near: a whole scan.
    assert Perception(can, None, config).find(frame, Scan.NEAR, Faces.empty())[1] == Scan.WHOLE


def test_the_haar_cascade_says_it_has_no_search_and_answers_one_by_a_whole_scan():
    from skimage import data

    haar, frame = HaarFaceDetector(), np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    assert haar.searches_near is False
    np.testing.assert_array_equal(haar.detect_near(frame, np.zeros((0, 4), np.float32)).boxes, haar.detect(frame).boxes)


def test_a_detector_outside_the_protocol_is_refused_by_what_it_lacks():
    class DetectOnly:
        def detect(self, frame):
            return Faces.empty()

    with pytest.raises(TypeError, match="DetectOnly lacks searches_near"):
        check_detector(DetectOnly())
    DetectOnly.searches_near = True
    with pytest.raises(TypeError, match="DetectOnly lacks detect_near"):
        check_detector(DetectOnly())
    DetectOnly.searches_near = False
    assert isinstance(check_detector(DetectOnly()), DetectOnly)


def test_the_feed_keeps_the_schedule_and_the_stage_keeps_nothing():
    """Two feeds over one `Perception`, interleaved, each see their own schedule: all the memory is the feed's."""
    detector = Scripted(searches_near=True)
    perception = Perception(detector, None, PipelineConfig(full_scan_every=2, brighten_dim_frames=False))
    first, second = PerceptionFeed(perception), PerceptionFeed(perception)
    frame = np.zeros((240, 320, 3), np.uint8)
    scans = [(first.detect(frame).scan, second.detect(frame).scan) for _ in range(3)]
    assert scans == [(W, W), (N, N), (W, W)] and first.full_scans == second.full_scans == 2
    assert vars(perception).keys() == {"detector", "classifier", "config"}
    first.reset()
    assert first.detect(frame).scan == W and isinstance(first.detect(frame), Detected)


def test_mtcnns_old_name_is_the_public_apis_alias_only():
    import emocap
    import emocap.detection
    import emocap.detection.mtcnn

    assert emocap.FaceDetector is emocap.MtcnnFaceDetector is emocap.detection.MtcnnFaceDetector
    assert not hasattr(emocap.detection, "FaceDetector") and not hasattr(emocap.detection.mtcnn, "FaceDetector")
