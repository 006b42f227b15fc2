"""`Pipeline`: one frame in, every face with its identity and emotion out.

Stages, each a small object with one job, run in this order on every frame:

    cuts (shot changes) -> detect (MTCNN or Haar) -> classify (all faces in one batch, probabilities and
    embeddings from one run) -> track (identities: boxes, looks, cuts) -> smooth (the paper's memory, or another)
    -> unsure (a face the smoothed output is not sure of says "unsure") -> order (right to left)
    -> confirm (only faces detected in a few frames are shown, numbered as they are)

Faces smaller than the detector's smallest face (`min_face_size`, the larger side
of the box) are dropped as they are found: MTCNN's pyramid only starts there, and
finds smaller ones too.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from emocap.classifier import EmotionClassifier
from emocap.detection.exposure import brightened_for_detection
from emocap.detection.factory import Detector, make_detector
from emocap.images import check_bgr_frame
from emocap.pipeline_config import PipelineConfig
from emocap.preprocessing import upright_angles
from emocap.tracking import (
    AppearanceTracker, ShotChangeDetector, TrackConfirmation, UnsureRule, make_smoother, order_for_reading,
)
from emocap.tracking.shots import STEADY
from emocap.types import Faces, FrameResult


class Pipeline:
    """Detector, classifier, tracker and smoother composed: `process(frame_bgr) -> FrameResult`.

    Its settings are one `PipelineConfig` (`config`), or its fields by name (`Pipeline(smoother="paper")`),
    or both (the names change the config). A detector (anything with `detect(frame_bgr) -> Faces`) and
    a classifier (an `EmotionClassifier`) may be given ready-made, as the first two arguments, and shared
    between pipelines; otherwise they are built from the config (MTCNN at confidence 0.95 and the built-in
    model by default). `Pipeline(detector="haar")` is the setting: the config's detector by name.
    """

    def __init__(
        self,
        detector: Detector | None = None,
        classifier: EmotionClassifier | None = None,
        /,  # so that detector="haar", a setting, reaches the config
        *,
        config: PipelineConfig | None = None,
        **settings,
    ) -> None:
        config = (config or PipelineConfig()).with_settings(**settings)
        self.config = config
        self.detector = detector if detector is not None else _make_detector(config)
        self.classifier = classifier if classifier is not None else EmotionClassifier(
            config.model, threads=config.threads, lift_light=config.lift_light, mirror=config.mirror)
        options = {"patience_frames": config.patience_frames}
        if config.memory is not None:
            options["length"] = config.memory
        self.smoother = make_smoother(config.smoother, **options)
        self.shots = ShotChangeDetector()
        self.tracker = AppearanceTracker(patience_frames=config.patience_frames)
        calibrated = self.classifier.calibration.unsure_below
        below = calibrated if config.unsure_below is None else config.unsure_below
        band = min(config.unsure_band, below, 1 - below - 1e-6)  # the band stays inside 0..1
        self.unsure = UnsureRule(below, lower=band, upper=band, patience_frames=config.patience_frames)
        # A face's number is remembered as long as the tracker may give its track back.
        self.confirmation = TrackConfirmation(
            config.confirm_frames, patience_frames=max(config.patience_frames, self.tracker.remember_frames)
        )
        self.reset()

    @property
    def detect_every(self) -> int:
        return self.config.detect_every

    @property
    def full_scan_every(self) -> int:
        return self.config.full_scan_every

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def reset(self) -> None:
        """Forget every face: the next frame starts new identities and empty memories."""
        self.shots.reset()
        self.tracker.reset()
        self.smoother.reset()
        self.unsure.reset()
        self.confirmation.reset()
        self._index = 0
        self._detected = 0
        self.full_scans = 0
        self._started: float | None = None
        self._carried = Faces.empty()

    def fresh(self) -> "Pipeline":
        """A new pipeline with the same config that shares this one's detector and classifier
        (the costly parts) but keeps its own identities and memory: one per viewer or video."""
        return Pipeline(self.detector, self.classifier, config=self.config)

    def process(self, frame_bgr: np.ndarray, time_s: float | None = None) -> FrameResult:
        """Faces of one frame, tracked and smoothed, right to left. `time_s` is the frame's time in the
        stream; None takes the seconds since the first frame this pipeline processed."""
        _check_time(time_s)
        return self.finish(self.detect(frame_bgr), time_s)

    def detect(self, frame_bgr: np.ndarray) -> Detected:
        """The first stage of `process`: the frame checked and its faces found (or carried over from
        the last detection, with detect_every > 1). It depends on no later stage, so the frames of a
        video can be detected one ahead, on another thread, while `finish` handles the one before;
        it must be called in frame order, as must `finish`."""
        frame = check_bgr_frame(frame_bgr)
        clock = time.perf_counter()
        if self._started is None:
            self._started = clock
        arrived_s = clock - self._started  # stamped on arrival, so processing time does not move it
        shot = self.shots.update(frame)
        scheduled = self._detected % self.detect_every == 0
        # Boxes are not carried, nor searched for near where they were, across a cut or fast motion.
        fresh = shot != STEADY or scheduled
        if fresh:
            # Which detections scan the whole frame follows from the frame number alone, not from the detections
            # run (a jump brings more): a chunk that starts at a frame a single pass scans whole finds the same
            # schedule (chunking.py).
            near = shot == STEADY and (self._detected // self.detect_every) % self.full_scan_every != 0
            faces = self._search_or_scan(frame, near=near)
            self._carried = faces
        else:
            faces = self._carried
        self._detected += 1
        return Detected(frame, faces, arrived_s, (time.perf_counter() - clock) * 1000, fresh, shot)

    def _search_or_scan(self, frame: np.ndarray, near: bool) -> Faces:
        """The faces of `frame`: searched for around the last ones if `near` (and the detector can), else everywhere."""
        if self.config.brighten_dim_frames:
            frame = brightened_for_detection(frame)
        known = self._carried
        faces = None
        if near and len(known) and hasattr(self.detector, "detect_near"):
            faces = self.detector.detect_near(frame, known.boxes)
            if len(faces) < len(known):
                faces = None  # a face was lost (or moved faster than the search reaches): look everywhere
        if faces is None:
            faces = self.detector.detect(frame)
            self.full_scans += 1
        # A face's size is its box's larger side, the square MTCNN searches for: its boxes are some
        # 25% taller than wide, and a 40 px face found by a search from 40 px is often 37-39 px wide.
        sides = np.maximum(faces.boxes[:, 2] - faces.boxes[:, 0], faces.boxes[:, 3] - faces.boxes[:, 1])
        return faces[sides >= self.config.min_face_size]

    def finish(self, detected: Detected, time_s: float | None = None) -> FrameResult:
        """The rest of `process` for a frame from `detect`: classify, track, smooth, order."""
        _check_time(time_s)
        frame = detected.frame
        clock = time.perf_counter()
        timings: dict[str, float] = {"detect": detected.detect_ms}

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = (now - clock) * 1000
            clock = now

        faces = self.look(detected)
        lap("classify")
        faces = self.follow(faces, shot=detected.shot, fresh=detected.fresh)
        lap("track")
        result = FrameResult(
            index=self._index,
            time_s=float(time_s) if time_s is not None else detected.arrived_s,
            frame_size=(frame.shape[1], frame.shape[0]),
            faces=faces,
            labels=self.labels,
            timings_ms=timings,
        )
        self._index += 1
        return result

    def look(self, detected: Detected) -> Faces:
        """The classify stage: the detected faces with their probabilities and embeddings (one network run)."""
        faces = detected.faces
        upright_from = self.config.upright_from
        angles = None if upright_from is None else upright_angles(faces.landmarks, upright_from)
        probs, embeddings = self.classifier.look_at_boxes(detected.frame, faces.boxes, angles=angles)
        return faces.with_(probs=probs, embeddings=embeddings)

    def follow(self, faces: Faces, *, shot: int = STEADY, fresh: bool = True) -> Faces:
        """The stages after `look`: track, smooth, unsure, order, confirm. They need no network and remember a
        face for up to `tracker.remember_frames`, longer than a chunk's warm-up, so a video transcribed in
        chunks runs them once, on the driver, over the chunks' looked-at faces (chunking.py)."""
        faces = self.unsure.update(self.smoother.update(self.tracker.update(faces, shot=shot)))
        faces = order_for_reading(faces, right_to_left=self.config.right_to_left)
        return self.confirmation.update(faces, detected=fresh)


@dataclass(frozen=True)
class Detected:
    """A frame after `Pipeline.detect`: the checked frame, its faces, when it arrived, the detector's ms."""

    frame: np.ndarray
    faces: Faces
    arrived_s: float
    detect_ms: float
    fresh: bool = True
    """Found by the detector in this frame, not carried over from an earlier one (detect_every > 1)."""
    shot: int = STEADY
    """How the frame follows the last (`ShotChangeDetector`): STEADY, JUMP (boxes continue where looks agree), CUT."""


def _make_detector(config: PipelineConfig) -> Detector:
    options = {"min_face_size": config.min_face_size}
    if config.threads is not None and config.detector == "mtcnn":  # the Haar cascade is OpenCV's, without ONNX Runtime
        options["threads"] = config.threads
    return make_detector(config.detector, **options)


def _check_time(time_s) -> None:
    # NaN or infinity would only fail later, when a subtitle or JSON record is written.
    if time_s is not None and not (isinstance(time_s, (int, float)) and math.isfinite(time_s) and time_s >= 0):
        raise ValueError(f"Pipeline.process time_s must be a finite number of seconds >= 0 or None, got {time_s!r}")
