"""Perception, the first half of the pipeline: a frame's faces found and looked at, as one `FaceRecord`.

`Perception` keeps no memory of earlier frames: it is given the frame, what the detector is to do on
it (a `Scan`) and the faces found last (for a search near them, or to carry them over), and returns
the faces with their probabilities and embeddings (one run of the classifier). So it runs wherever
the frames are: on a second thread in `live`, in a Ray worker for a chunk of a video.

What to do on each frame is the schedule's, a pure function of the frame's number and of how it
follows the last one (`scheduled_scan`). `PerceptionFeed` is the little memory the schedule needs,
kept beside the stage rather than inside it: the frame number, the faces found last, and the shot-change
detector. That detector belongs here, not with captioning, for three reasons: it needs the frame's
pixels, which only perception has (a Ray driver never decodes a frame); it decides the schedule (across a
jump or a cut no box is carried or searched for near where it was); and its state is one thumbnail, which
one frame of a chunk's warm-up rebuilds. Its verdict travels in the record (`FaceRecord.shot`) to the
tracker, which ends or checks tracks across it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from emocap.classifier import EmotionClassifier
from emocap.detection.exposure import brightened_for_detection
from emocap.detection.factory import Detector, check_detector, make_detector
from emocap.images import check_bgr_frame
from emocap.pipeline_config import PipelineConfig
from emocap.preprocessing import upright_angles
from emocap.record import FaceRecord, Scan
from emocap.tracking.shots import STEADY, ShotChangeDetector
from emocap.types import Faces


def scheduled_scan(frame_number: int, shot: int, *, detect_every: int, full_scan_every: int) -> Scan:
    """What the detector does on frame `frame_number` (counted from 0) that follows the last as `shot`:
    a whole scan after a jump or a cut; else it runs on every `detect_every`-th frame (CARRY between),
    and of those runs every `full_scan_every`-th one scans the whole frame (NEAR between). The scheduled
    scans follow from the frame number alone, not from the detections run (a jump brings more): a chunk
    that starts on a frame whose number is a multiple of `detect_every * full_scan_every` finds the
    schedule of a single pass (`emocap.chunking.WarmUp`)."""
    if shot != STEADY:
        return Scan.WHOLE
    if frame_number % detect_every:
        return Scan.CARRY
    return Scan.NEAR if (frame_number // detect_every) % full_scan_every else Scan.WHOLE


@dataclass(frozen=True)
class Detected:
    """A frame after detection, before classification: the checked frame, its faces, what the detector
    did (`scan`, after any fall-back), how the frame follows the last, when it arrived, the detector's ms."""

    frame: np.ndarray
    faces: Faces
    scan: Scan = Scan.WHOLE
    shot: int = STEADY
    arrived_s: float = 0.0
    detect_ms: float = 0.0

    @property
    def fresh(self) -> bool:
        """Found by the detector in this frame, not carried over from an earlier one (detect_every > 1)."""
        return self.scan != Scan.CARRY


class Perception:
    """Detect and classify, with no memory: `find` (the detector, as a `Scan` says) and `look` (the classifier).

    Settings from `config`: min_face_size (smaller faces are dropped as found: MTCNN's pyramid starts
    there but finds smaller ones too), brighten_dim_frames, upright_from."""

    def __init__(self, detector: Detector, classifier: EmotionClassifier, config: PipelineConfig) -> None:
        self.detector = check_detector(detector)
        self.classifier = classifier
        self.config = config

    @classmethod
    def build(cls, config: PipelineConfig) -> "Perception":
        """The networks `config` names: its detector, and its model on ONNX Runtime."""
        return cls(detector_of(config), classifier_of(config), config)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def find(self, frame: np.ndarray, scan: Scan, known: Faces) -> tuple[Faces, Scan]:
        """The faces of `frame` (checked) and the scan that found them: `known` as they are for CARRY; for
        NEAR, searched for around `known` where the detector can (else, with no face known, or when one is
        lost there, a WHOLE scan)."""
        if scan == Scan.CARRY:
            return known, scan
        if self.config.brighten_dim_frames:
            frame = brightened_for_detection(frame)
        if scan == Scan.NEAR and len(known) and self.detector.searches_near:
            faces = self.detector.detect_near(frame, known.boxes)
            if len(faces) >= len(known):  # else a face was lost (or moved faster than the search reaches)
                return self._large_enough(faces), Scan.NEAR
        return self._large_enough(self.detector.detect(frame)), Scan.WHOLE

    def _large_enough(self, faces: Faces) -> Faces:
        # A face's size is its box's larger side, the square MTCNN searches for: its boxes are some
        # 25% taller than wide, and a 40 px face found by a search from 40 px is often 37-39 px wide.
        sides = np.maximum(faces.boxes[:, 2] - faces.boxes[:, 0], faces.boxes[:, 3] - faces.boxes[:, 1])
        return faces[sides >= self.config.min_face_size]

    def look(self, detected: Detected, time_s: float) -> FaceRecord:
        """The record of a detected frame at `time_s`: its faces with their probabilities and embeddings
        (one network run)."""
        clock = time.perf_counter()
        frame, faces = detected.frame, detected.faces
        upright_from = self.config.upright_from
        angles = None if upright_from is None else upright_angles(faces.landmarks, upright_from)
        probs, embeddings = self.classifier.look_at_boxes(frame, faces.boxes, angles=angles)
        return FaceRecord(
            time_s=time_s, frame_size=(frame.shape[1], frame.shape[0]),
            faces=faces.with_(probs=probs, embeddings=embeddings), shot=detected.shot, scan=detected.scan,
            detect_ms=detected.detect_ms, classify_ms=(time.perf_counter() - clock) * 1000,
        )


def detector_of(config: PipelineConfig) -> Detector:
    """The detector `config` names, with its smallest face and threads."""
    options = {"min_face_size": config.min_face_size}
    if config.threads is not None and config.detector == "mtcnn":  # the Haar cascade is OpenCV's, without ONNX Runtime
        options["threads"] = config.threads
    return make_detector(config.detector, **options)


def classifier_of(config: PipelineConfig) -> EmotionClassifier:
    """The emotion model `config` names, on ONNX Runtime."""
    return EmotionClassifier(config.model, threads=config.threads, lift_light=config.lift_light, mirror=config.mirror)


class PerceptionFeed:
    """`Perception` over one stream of frames, in order: what the schedule needs to remember (the frame
    number, the faces found last, the last frame's thumbnail for `ShotChangeDetector`) kept here, so that
    the stage itself keeps nothing. `detect(frame)` then `perception.look(detected, time_s)`; or
    `perceive(frame, time_s)`, both at once. One per stream; `reset()` starts a new one."""

    def __init__(self, perception: Perception) -> None:
        self.perception = perception
        self.shots = ShotChangeDetector()
        self.reset()

    def reset(self) -> None:
        self.shots.reset()
        self._number = 0
        self._known = Faces.empty()
        self._started: float | None = None
        self.full_scans = 0
        """Whole-frame scans run since the reset (scheduled, or brought by a jump or a lost face)."""

    def detect(self, frame_bgr: np.ndarray) -> Detected:
        """The frame checked, how it follows the last, and its faces found as the schedule says (or carried)."""
        frame = check_bgr_frame(frame_bgr)
        clock = time.perf_counter()
        if self._started is None:
            self._started = clock
        arrived_s = clock - self._started  # stamped on arrival, so processing time does not move it
        config = self.perception.config
        shot = self.shots.update(frame)
        scan = scheduled_scan(self._number, shot, detect_every=config.detect_every,
                              full_scan_every=config.full_scan_every)
        faces, scan = self.perception.find(frame, scan, self._known)
        self._number += 1
        self._known = faces
        self.full_scans += scan == Scan.WHOLE
        return Detected(frame, faces, scan, shot, arrived_s, (time.perf_counter() - clock) * 1000)

    def perceive(self, frame_bgr: np.ndarray, time_s: float | None = None) -> FaceRecord:
        """The record of the next frame; `time_s` None: the seconds since the first frame."""
        detected = self.detect(frame_bgr)
        return self.perception.look(detected, detected.arrived_s if time_s is None else time_s)
