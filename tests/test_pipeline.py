"""`Pipeline` and the public API, on a real photo (scikit-image's astronaut, public domain).

Most tests look at what one frame gives, so their pipelines show a face from its first detection
(confirm_frames=1); the tests at the end look at confirmation itself."""

import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from emocap import EmotionClassifier, Faces, FrameResult, MtcnnFaceDetector, Pipeline
from emocap.tracking.shots import JUMP, STEADY
from emocap.types import NO_LABEL


@pytest.fixture(scope="module")
def astronaut_bgr():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def shared_parts():
    return MtcnnFaceDetector(), EmotionClassifier()


def test_package_import_stays_light_until_the_api_is_used():
    code = "import sys, emocap; assert 'onnxruntime' not in sys.modules and 'cv2' not in sys.modules; emocap.Pipeline"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_default_smoother_captions_a_face_from_its_first_frame(astronaut_bgr, shared_parts):
    result = Pipeline(*shared_parts, confirm_frames=1).process(astronaut_bgr)
    assert int(result.faces.display[0]) == int(result.faces.probs[0].argmax())


def test_a_face_gets_an_identity_probabilities_and_after_agreement_a_label(astronaut_bgr, shared_parts):
    pipeline = Pipeline(*shared_parts, confirm_frames=1, smoother="paper")
    results = [pipeline.process(astronaut_bgr, time_s=i / 30) for i in range(5)]
    assert all(isinstance(r, FrameResult) and isinstance(r.faces, Faces) for r in results)
    assert [len(r.faces) for r in results] == [1] * 5
    assert {int(r.faces.track_ids[0]) for r in results} == {0}
    assert [r.index for r in results] == [0, 1, 2, 3, 4] and results[2].time_s == pytest.approx(2 / 30)
    probs = results[0].faces.probs
    assert probs.shape == (1, 7) and probs.sum() == pytest.approx(1, abs=1e-5)
    # The same frame repeated: the paper memory (4) shows the top class from the 4th frame on.
    assert [int(r.faces.display[0]) for r in results[:3]] == [NO_LABEL] * 3
    assert int(results[3].faces.display[0]) == int(probs.argmax())
    assert results[0].frame_size == (512, 512) and results[0].labels == shared_parts[1].labels
    assert set(results[0].timings_ms) == {"detect", "classify", "track"}


def test_without_stream_times_the_first_frame_is_at_zero_and_time_runs_on(astronaut_bgr, shared_parts):
    pipeline = Pipeline(*shared_parts, confirm_frames=1)
    first, second = pipeline.process(astronaut_bgr), pipeline.process(astronaut_bgr)
    assert first.time_s == 0.0
    assert second.time_s >= sum(first.timings_ms.values()) / 1000  # the first frame's processing lies between


def test_faces_come_right_to_left_with_their_own_identities(astronaut_bgr, shared_parts):
    face = cv2.resize(astronaut_bgr[0:300, 100:400], (200, 200))
    frame = np.full((300, 900, 3), 160, np.uint8)
    frame[50:250, 50:250] = face
    frame[50:250, 650:850] = face
    result = Pipeline(*shared_parts, confirm_frames=1).process(frame)
    assert len(result.faces) == 2
    centres = result.faces.centers[:, 0]
    assert centres[0] > centres[1]  # the right-hand face is read first
    assert len(set(result.faces.track_ids.tolist())) == 2


def test_detect_every_reuses_boxes_between_detections(astronaut_bgr, shared_parts):
    class CountingDetector:
        searches_near = False

        def __init__(self, detector):
            self.detector, self.calls = detector, 0

        def detect(self, frame):
            self.calls += 1
            return self.detector.detect(frame)

    counting = CountingDetector(shared_parts[0])
    pipeline = Pipeline(counting, shared_parts[1], confirm_frames=1, detect_every=3)
    boxes = [pipeline.process(astronaut_bgr).faces.boxes for _ in range(7)]
    assert counting.calls == 3  # frames 0, 3 and 6
    assert all(np.array_equal(b, boxes[0]) for b in boxes)


def test_fresh_pipelines_share_the_models_but_not_the_memory(astronaut_bgr, shared_parts):
    first = Pipeline(*shared_parts, confirm_frames=1, smoother="ema")
    for _ in range(3):
        first.process(astronaut_bgr)
    second = first.fresh()
    assert second.detector is first.detector and second.classifier is first.classifier
    assert int(second.process(astronaut_bgr).faces.track_ids[0]) == 0  # its own tracker starts afresh
    assert int(first.process(astronaut_bgr).index) == 3
    assert Pipeline(*shared_parts, confirm_frames=2, min_face_size=30).fresh().captioning.confirmation.confirm_frames == 2
    assert Pipeline(*shared_parts, min_face_size=30).fresh().config.min_face_size == 30


def test_upright_from_turns_a_tilted_face_by_its_eye_line_before_classifying_it(astronaut_bgr, shared_parts):
    from emocap.preprocessing import eye_line_angles

    height, width = astronaut_bgr.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 25, 1.0)
    tilted = cv2.warpAffine(astronaut_bgr, turn, (width, height), borderMode=cv2.BORDER_REPLICATE)
    detector, classifier = shared_parts
    plain = Pipeline(*shared_parts, confirm_frames=1, smoother="none").process(tilted).faces
    upright_pipeline = Pipeline(*shared_parts, confirm_frames=1, smoother="none", upright_from=10)
    upright = upright_pipeline.process(tilted).faces
    angles = eye_line_angles(upright.landmarks)
    assert len(upright) == 1 and abs(np.degrees(angles[0])) > 10
    np.testing.assert_allclose(upright.probs, classifier.classify_boxes(tilted, upright.boxes, angles=angles), atol=1e-6)
    assert not np.allclose(upright.probs, plain.probs, atol=1e-3)
    assert upright_pipeline.fresh().config.upright_from == 10
    # Below the threshold nothing turns.
    np.testing.assert_allclose(Pipeline(*shared_parts, confirm_frames=1, smoother="none", upright_from=60).process(tilted).faces.probs,
                               plain.probs, atol=1e-6)


def test_a_dim_frame_is_brightened_for_the_detector_and_its_faces_cropped_as_they_came(astronaut_bgr, shared_parts):
    detector, classifier = shared_parts
    dim = np.round(astronaut_bgr * np.float32(0.08)).astype(np.uint8)
    seen = []

    class Recording:
        searches_near = False

        def detect(self, frame):
            seen.append(frame)
            return detector.detect(frame)

    found = Pipeline(Recording(), classifier, confirm_frames=1, smoother="none").process(dim).faces
    assert len(found) == 1 and seen[0].mean() > 4 * dim.mean()  # the detector saw a brighter frame
    np.testing.assert_allclose(found.probs, classifier.classify_boxes(dim, found.boxes), atol=1e-6)
    as_they_come = Pipeline(Recording(), classifier, confirm_frames=1, smoother="none", brighten_dim_frames=False)
    as_they_come.process(dim)
    assert seen[1] is not seen[0] and np.array_equal(seen[1], dim)
    assert Pipeline(*shared_parts, confirm_frames=1, brighten_dim_frames=False).fresh().config.brighten_dim_frames is False


def test_reset_forgets_identities_and_frame_count(astronaut_bgr, shared_parts):
    pipeline = Pipeline(*shared_parts, confirm_frames=1)
    pipeline.process(astronaut_bgr)
    pipeline.process(np.zeros_like(astronaut_bgr))
    pipeline.reset()
    result = pipeline.process(astronaut_bgr)
    assert result.index == 0 and int(result.faces.track_ids[0]) == 0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"detect_every": 0}, "PipelineConfig.detect_every must be an integer >= 1, got 0"),
        ({"patience_frames": -1}, "PipelineConfig.patience_frames must be an integer >= 0, got -1"),
        ({"smoother": "median"}, "PipelineConfig.smoother must be one of ema, paper, none, got 'median'"),
        ({"smoother": "ema", "memory": 3}, "PipelineConfig.memory 3 applies to the paper smoother only, not 'ema'"),
        ({"smoother": "paper", "memory": 0}, "PipelineConfig.memory must be an integer >= 1, got 0"),
        ({"upright_from": 100}, "PipelineConfig.upright_from must be 0..90 degrees, got 100"),
        ({"unsure_below": 1.0}, "PipelineConfig.unsure_below must be in [0, 1), got 1.0"),
        ({"right_to_left": "yes"}, "PipelineConfig.right_to_left must be True or False, got 'yes'"),
        ({"memroy": 3}, "PipelineConfig has no setting 'memroy'"),
    ],
)
def test_bad_options_quote_the_value(shared_parts, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Pipeline(*shared_parts, confirm_frames=1, **options)


@pytest.mark.parametrize(
    "frame, message",
    [
        (np.zeros((10, 10), np.uint8), r"got shape \(10, 10\)"),
        (np.zeros((10, 10, 3), np.float32), "got dtype float32"),
        ([[0, 0, 0]], "got list"),
    ],
)
def test_bad_frames_are_value_errors(shared_parts, frame, message):
    with pytest.raises(ValueError, match=message):
        Pipeline(*shared_parts, confirm_frames=1).process(frame)


class ScheduleRecorder:
    """A detector that records which frames were scanned whole and which searched near known faces."""

    searches_near = True

    def __init__(self, detector, lose_on_search: set[int] = frozenset()):
        self.detector, self.calls, self.lose_on_search = detector, [], lose_on_search

    def detect(self, frame):
        self.calls.append("scan")
        return self.detector.detect(frame)

    def detect_near(self, frame, boxes):
        self.calls.append("near")
        found = self.detector.detect_near(frame, boxes)
        return Faces.empty() if len(self.calls) - 1 in self.lose_on_search else found


def test_between_full_scans_the_detector_searches_where_the_faces_were(astronaut_bgr, shared_parts):
    recorder = ScheduleRecorder(shared_parts[0])
    pipeline = Pipeline(recorder, shared_parts[1], confirm_frames=1, full_scan_every=3)
    results = [pipeline.process(astronaut_bgr) for _ in range(7)]
    assert recorder.calls == ["scan", "near", "near", "scan", "near", "near", "scan"]
    scanned = shared_parts[0].detect(astronaut_bgr).boxes
    side = scanned[0, 2] - scanned[0, 0]
    for result in results:  # the same face, in the same place (the frame does not move): O-Net's box, a few px off
        assert len(result.faces) == 1 and np.abs(result.faces.boxes - scanned).max() < 0.06 * side
    assert {int(r.faces.track_ids[0]) for r in results} == {0}


def test_the_scans_a_jump_brings_leave_the_schedule_where_the_frame_numbers_put_it(astronaut_bgr, shared_parts):
    """Frames 2 and 3 jump (the picture moves 10 px and back, as in a fast pan): each is scanned whole, and the scheduled
    scans stay on frames 0, 3 and 6, as a chunk starting at frame 3 or 6 expects (chunking.py)."""
    recorder = ScheduleRecorder(shared_parts[0])
    pipeline = Pipeline(recorder, shared_parts[1], confirm_frames=1, full_scan_every=3)
    moved = np.roll(astronaut_bgr, 10, axis=1)
    shots = [pipeline.detect(frame).shot for frame in [astronaut_bgr] * 2 + [moved] + [astronaut_bgr] * 4]
    assert shots == [STEADY, STEADY, JUMP, JUMP, STEADY, STEADY, STEADY]
    assert recorder.calls == ["scan", "near", "scan", "scan", "near", "near", "scan"]


def test_a_face_lost_by_the_search_brings_a_full_scan_at_once(astronaut_bgr, shared_parts):
    recorder = ScheduleRecorder(shared_parts[0], lose_on_search={1})
    pipeline = Pipeline(recorder, shared_parts[1], confirm_frames=1, full_scan_every=4)
    results = [pipeline.process(astronaut_bgr) for _ in range(3)]
    assert recorder.calls == ["scan", "near", "scan", "near"]
    assert [len(r.faces) for r in results] == [1, 1, 1] and pipeline.full_scans == 2


def test_no_faces_known_means_every_frame_is_scanned(shared_parts):
    recorder = ScheduleRecorder(shared_parts[0])
    pipeline = Pipeline(recorder, shared_parts[1], confirm_frames=1, full_scan_every=4)
    for _ in range(3):
        pipeline.process(np.full((240, 320, 3), 128, np.uint8))
    assert recorder.calls == ["scan"] * 3


def test_the_search_follows_faces_across_the_bundled_clip_as_a_scan_finds_them(shared_parts):
    from emocap.geometry import iou_matrix
    from emocap.sources import open_source, sample_clip

    detector = shared_parts[0]
    with open_source(str(sample_clip())) as source:
        frames = [frame.image_bgr for frame in source][::3]
    previous = detector.detect(frames[0]).boxes
    followed = distances = 0
    for frame in frames[1:]:
        scanned = detector.detect(frame).boxes
        near = detector.detect_near(frame, previous).boxes
        if len(scanned) and len(near):
            overlaps = iou_matrix(scanned, near)
            matched = overlaps.max(axis=1) >= 0.5
            followed += int(matched.sum())
            distances = max(distances, float(np.abs(scanned[matched] - near[overlaps.argmax(axis=1)[matched]]).max(initial=0)))
        previous = scanned
    assert followed >= 30  # faces that stayed from one sampled frame to the next were found again
    assert distances < 25  # within a few pixels of the scan's boxes (faces are 60-120 px)


class ScriptedDetector:
    """Gives the boxes scripted for each call, in turn; `min_face_size` as the real detectors have it."""

    searches_near = False

    def __init__(self, boxes_per_call, min_face_size=40):
        self.boxes_per_call, self.min_face_size, self.calls = list(boxes_per_call), min_face_size, 0

    def detect(self, frame):
        boxes = np.asarray(self.boxes_per_call[self.calls], np.float32).reshape(-1, 4)
        self.calls += 1
        return Faces(boxes=boxes, scores=np.full(len(boxes), 0.99, np.float32))


def test_faces_smaller_than_the_min_face_size_are_dropped(astronaut_bgr, shared_parts):
    small, large = [10, 10, 35, 40], [200, 100, 300, 200]  # 25x30 px and 100x100 px
    at_the_limit = [400, 300, 438, 350]  # 38x50: MTCNN's box of a face it found by searching from 40 px
    detector = ScriptedDetector([[small, large, at_the_limit]] * 3)
    pipeline = Pipeline(detector, shared_parts[1], confirm_frames=1)
    np.testing.assert_allclose(pipeline.process(astronaut_bgr).faces.boxes, [at_the_limit, large])
    pipeline = Pipeline(detector, shared_parts[1], confirm_frames=1, min_face_size=20)
    assert len(pipeline.process(astronaut_bgr).faces) == 3


def test_a_one_frame_detection_is_not_shown_and_a_steady_face_is_from_its_third_frame(astronaut_bgr, shared_parts):
    face, flash = [180, 60, 270, 170], [350, 300, 420, 370]
    pipeline = Pipeline(ScriptedDetector([[face, flash], [face], [face], [face]]), shared_parts[1])
    results = [pipeline.process(astronaut_bgr, i / 30) for i in range(4)]
    assert [r.faces.track_ids.tolist() for r in results] == [[], [], [0], [0]]


def test_build_passes_the_min_face_size_to_the_filter_and_a_photo_pipeline_confirms_at_once(astronaut_bgr):
    pipeline = Pipeline(min_face_size=200, confirm_frames=1)
    assert pipeline.config.min_face_size == 200 and len(pipeline.process(astronaut_bgr).faces) == 0  # her face is ~100 px
    assert len(Pipeline(confirm_frames=1).process(astronaut_bgr).faces) == 1


def test_a_detector_by_name_is_a_setting_and_one_given_ready_made_is_used_as_it_is(shared_parts):
    from emocap.detection.haar import HaarFaceDetector

    named = Pipeline(None, shared_parts[1], detector="haar", min_face_size=48)
    assert isinstance(named.detector, HaarFaceDetector) and named.config.detector == "haar"
    assert Pipeline(*shared_parts).detector is shared_parts[0]


def test_the_unsure_band_reaches_the_rule_and_stays_inside_the_probabilities(shared_parts):
    banded = Pipeline(*shared_parts, unsure_below=0.7, unsure_band=0.05).captioning.unsure
    assert (banded.below, banded.lower, banded.upper) == (0.7, 0.05, 0.05)
    assert Pipeline(*shared_parts, unsure_below=0.0, unsure_band=0.05).captioning.unsure.lower == 0.0  # never unsure: no band
    assert Pipeline(*shared_parts, unsure_below=0.9, unsure_band=0.2).captioning.unsure.upper < 0.1


def test_captions_hold_about_the_unsure_threshold_by_default_and_band_0_turns_that_off(shared_parts):
    steady = Pipeline(*shared_parts, unsure_below=0.7).captioning.unsure
    assert (steady.lower, steady.upper) == (0.05, 0.05)  # DEFAULT_UNSURE_BAND, chosen by benchmarks/steadiness.py
    plain = Pipeline(*shared_parts, unsure_below=0.7, unsure_band=0).captioning.unsure
    assert (plain.lower, plain.upper) == (0, 0)
