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

from emocap.checks import check_int, check_number
from emocap.classifier import EmotionClassifier
from emocap.detection.exposure import brightened_for_detection
from emocap.detection.factory import Detector
from emocap.detection.mtcnn import FaceDetector
from emocap.images import check_bgr_frame
from emocap.preprocessing import upright_angles
from emocap.schedule import DEFAULT_FULL_SCAN_EVERY
from emocap.tracking import (
    DEFAULT_CONFIRM_FRAMES, AppearanceTracker, ShotChangeDetector, TrackConfirmation, TrackSmoother, UnsureRule,
    make_smoother, order_for_reading,
)
from emocap.tracking.shots import STEADY
from emocap.types import Faces, FrameResult

DEFAULT_SMOOTHER = "ema"
"""benchmarks/smoothing.py: on simulated video of PrivateTest faces, the EMA smoother beats the paper's
memory of 4 on the mean of its two frame models in accuracy, flicker and delay (docs/BENCHMARKS.md)."""
DEFAULT_PATIENCE_FRAMES = 15
"""Frames a face may go undetected and still keep its identity and memory (half a second at 30 fps)."""


class Pipeline:
    """Detector, classifier, tracker and smoother composed: `process(frame_bgr) -> FrameResult`.

    detector         anything with `detect(frame_bgr) -> Faces` (default: MTCNN, confidence 0.95)
    classifier       an `EmotionClassifier` (default: the built-in model)
    smoother         "ema" (probabilities averaged over time, with hysteresis; the default),
                     "paper" (the last `memory` predictions must agree), "none", or a `TrackSmoother`
    memory           length of the paper memory (default 4); only for smoother="paper"
    detect_every     run the detector on every K-th frame; in between, the last boxes are
                     carried over and their faces classified again (faster, lags fast motion)
    full_scan_every  of the frames the detector runs on, scan the whole frame on every K-th one
                     and search only around the faces already found on the others (a detector
                     with `detect_near`, MTCNN; a face lost there brings a whole scan at once);
                     new faces appear within K detections; 1 scans every frame (the paper's way)
    patience_frames  frames a face may be missed and still keep its identity and memory
    right_to_left    order faces right to left across the frame (the paper's reading order)
    confirm_frames   frames a face must be detected in before it is shown (`TrackConfirmation`); 1 for a
                     single photo
    min_face_size    faces whose box's larger side is under this many pixels are dropped; None: the detector's own
                     `min_face_size` (the smallest it searches for), or none dropped if it has none
    brighten_dim_frames  let the detector see a dim frame brightened (`emocap.detection.exposure`);
                     faces are still cropped from the frame as it came
    unsure_below     a face whose smoothed confidence is under this reads "unsure" (`UnsureRule`); None (the
                     default): the model's own threshold (`classifier.calibration`), 0: never
    upright_from     turn a face's crop upright when its eye line (the detector's landmarks) tilts at
                     least this many degrees; None (the default) never turns: on PublicTest 10 scored
                     best over heads tilted 0-30 degrees but lost 0.6 points on untilted ones
                     (benchmarks/pipeline_accuracy.py --align, docs/BENCHMARKS.md)
    """

    def __init__(
        self,
        detector: Detector | None = None,
        classifier: EmotionClassifier | None = None,
        *,
        smoother: str | TrackSmoother = DEFAULT_SMOOTHER,
        memory: int | None = None,
        detect_every: int = 1,
        full_scan_every: int = DEFAULT_FULL_SCAN_EVERY,
        patience_frames: int = DEFAULT_PATIENCE_FRAMES,
        right_to_left: bool = True,
        upright_from: float | None = None,
        brighten_dim_frames: bool = True,
        confirm_frames: int = DEFAULT_CONFIRM_FRAMES,
        min_face_size: float | None = None,
        unsure_below: float | None = None,
    ) -> None:
        self.detect_every = check_int("Pipeline", "detect_every", detect_every, 1)
        self.full_scan_every = check_int("Pipeline", "full_scan_every", full_scan_every, 1)
        self.patience_frames = check_int("Pipeline", "patience_frames", patience_frames, 0)
        if memory is not None and smoother != "paper":
            raise ValueError(f"Pipeline.memory applies to the paper smoother only, got smoother={smoother!r}")
        self.detector = detector if detector is not None else FaceDetector()
        self.classifier = classifier if classifier is not None else EmotionClassifier()
        self._smoother_spec, self._memory = smoother, memory
        if isinstance(smoother, TrackSmoother):
            self.smoother = smoother
        else:
            options = {"patience_frames": self.patience_frames}
            if memory is not None:
                options["length"] = check_int("Pipeline", "memory", memory, 1)
            self.smoother = make_smoother(smoother, **options)
        self.shots = ShotChangeDetector()
        self.tracker = AppearanceTracker(patience_frames=self.patience_frames)
        self._unsure_below = unsure_below
        self.unsure = UnsureRule(self.classifier.calibration.unsure_below if unsure_below is None else unsure_below)
        # A face's number is remembered as long as the tracker may give its track back.
        self.confirmation = TrackConfirmation(
            confirm_frames, patience_frames=max(self.patience_frames, self.tracker.remember_frames)
        )
        if min_face_size is None:
            min_face_size = getattr(self.detector, "min_face_size", 0.0)
        self.min_face_size = check_number("Pipeline", "min_face_size", min_face_size, 0)
        self.right_to_left = bool(right_to_left)
        if upright_from is not None and not 0 <= upright_from <= 90:
            raise ValueError(f"Pipeline.upright_from must be 0..90 degrees or None, got {upright_from!r}")
        self.upright_from = upright_from
        self.brighten_dim_frames = bool(brighten_dim_frames)
        self.reset()

    @classmethod
    def build(
        cls, *, model: str | None = None, detector: str = "mtcnn", min_face_size: int = 40,
        smoother: str = DEFAULT_SMOOTHER, memory: int | None = None, detect_every: int = 1,
        full_scan_every: int = DEFAULT_FULL_SCAN_EVERY, threads: int | None = None,
        upright_from: float | None = None, lift_light: bool = False, brighten_dim_frames: bool = True,
        confirm_frames: int = DEFAULT_CONFIRM_FRAMES, unsure_below: float | None = None,
    ) -> "Pipeline":
        """A pipeline from plain settings, as the commands and benchmarks name them (`model`: an
        exported .onnx, None for the built-in one; `detector`: "mtcnn" or "haar"; `threads`: ONNX
        Runtime threads per network, None for one per core; `lift_light`: see `EmotionClassifier`)."""
        from emocap.detection.factory import make_detector

        options = {"min_face_size": min_face_size}
        if threads is not None and detector == "mtcnn":  # the Haar cascade is OpenCV's, without ONNX Runtime
            options["threads"] = threads
        return cls(
            make_detector(detector, **options), EmotionClassifier(model, threads=threads, lift_light=lift_light),
            smoother=smoother, memory=memory, detect_every=detect_every, full_scan_every=full_scan_every,
            upright_from=upright_from, brighten_dim_frames=brighten_dim_frames, confirm_frames=confirm_frames,
            min_face_size=min_face_size, unsure_below=unsure_below,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def reset(self) -> None:
        """Forget every face: the next frame starts new identities and empty memories."""
        self.shots.reset()
        self.tracker.reset()
        self.smoother.reset()
        self.confirmation.reset()
        self._index = 0
        self._detected = 0
        self.full_scans = 0
        self._started: float | None = None
        self._carried = Faces.empty()

    def fresh(self) -> "Pipeline":
        """A new pipeline with the same options that shares this one's detector and classifier
        (the costly parts) but keeps its own identities and memory: one per viewer or video."""
        smoother = self._smoother_spec
        if isinstance(smoother, TrackSmoother):
            raise ValueError("Pipeline.fresh() needs the smoother given by name, not as an instance")
        return Pipeline(
            self.detector, self.classifier, smoother=smoother, memory=self._memory,
            detect_every=self.detect_every, full_scan_every=self.full_scan_every,
            patience_frames=self.patience_frames, right_to_left=self.right_to_left, upright_from=self.upright_from,
            brighten_dim_frames=self.brighten_dim_frames, confirm_frames=self.confirmation.confirm_frames,
            min_face_size=self.min_face_size, unsure_below=self._unsure_below,
        )

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
        if self.brighten_dim_frames:
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
        return faces[sides >= self.min_face_size]

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
        angles = None if self.upright_from is None else upright_angles(faces.landmarks, self.upright_from)
        probs, embeddings = self.classifier.look_at_boxes(detected.frame, faces.boxes, angles=angles)
        return faces.with_(probs=probs, embeddings=embeddings)

    def follow(self, faces: Faces, *, shot: int = STEADY, fresh: bool = True) -> Faces:
        """The stages after `look`: track, smooth, unsure, order, confirm. They need no network and remember a
        face for up to `tracker.remember_frames`, longer than a chunk's warm-up, so a video transcribed in
        chunks runs them once, on the driver, over the chunks' looked-at faces (chunking.py)."""
        faces = self.unsure.update(self.smoother.update(self.tracker.update(faces, shot=shot)))
        faces = order_for_reading(faces, right_to_left=self.right_to_left)
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


def _check_time(time_s) -> None:
    # NaN or infinity would only fail later, when a subtitle or JSON record is written.
    if time_s is not None and not (isinstance(time_s, (int, float)) and math.isfinite(time_s) and time_s >= 0):
        raise ValueError(f"Pipeline.process time_s must be a finite number of seconds >= 0 or None, got {time_s!r}")
