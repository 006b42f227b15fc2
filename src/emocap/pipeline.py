"""`Pipeline`: one frame in, every face with its identity and emotion out, in one process.

It composes the two halves (docs/ARCHITECTURE.md):

    perception (`emocap.perception`, no memory):  cuts (shot changes) -> detect (MTCNN or Haar, as the schedule
        says: a whole scan, a search near the faces found last, or their boxes carried) -> classify (all faces
        in one batch, probabilities and embeddings from one run)
    ->  FaceRecord (`emocap.record`)  ->
    captioning (`emocap.captioning`, all memory, no network):  track (identities: boxes, looks, cuts) -> smooth
        (the paper's memory, or another) -> unsure -> order (right to left) -> confirm (only faces detected in
        a few frames are shown, numbered as they are)

`process(frame)` runs both; `detect` and `finish` split it where a second thread may take the first part
(transcription), `perceive` and `caption` where it may take the whole of perception (`live`).
"""

from __future__ import annotations

import math

import numpy as np

from emocap.captioning import Captioning, ModelFacts
from emocap.classifier import EmotionClassifier
from emocap.detection.factory import Detector
from emocap.perception import Detected, Perception, PerceptionFeed, classifier_of, detector_of
from emocap.pipeline_config import PipelineConfig
from emocap.record import FaceRecord
from emocap.tracking.shots import STEADY
from emocap.types import Faces, FrameResult

__all__ = ["Detected", "Pipeline"]


class Pipeline:
    """Perception and captioning composed: `process(frame_bgr) -> FrameResult`.

    Its settings are one `PipelineConfig` (`config`), or its fields by name (`Pipeline(smoother="paper")`),
    or both (the names change the config). A detector (a `Detector`: `detect`, `detect_near`,
    `searches_near`) and a classifier (an `EmotionClassifier`) may be given ready-made, as the first two
    arguments, and shared between pipelines; otherwise they are built from the config (MTCNN at confidence
    0.95 and the built-in model by default). `Pipeline(detector="haar")` is the setting: the config's
    detector by name.
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
        self.perception = Perception(
            detector if detector is not None else detector_of(config),
            classifier if classifier is not None else classifier_of(config),
            config,
        )
        self.feed = PerceptionFeed(self.perception)
        self.captioning = Captioning(config, ModelFacts.of(self.classifier))

    @property
    def detector(self) -> Detector:
        return self.perception.detector

    @property
    def classifier(self) -> EmotionClassifier:
        return self.perception.classifier

    @property
    def labels(self) -> tuple[str, ...]:
        return self.captioning.labels

    @property
    def full_scans(self) -> int:
        """Whole-frame scans since the last reset."""
        return self.feed.full_scans

    def reset(self) -> None:
        """Forget every face: the next frame starts new identities and empty memories."""
        self.feed.reset()
        self.captioning.reset()

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
        """The first part of perception: the frame checked and its faces found (or carried over from the
        last detection). It depends on no later stage, so the frames of a video can be detected one
        ahead, on another thread, while `finish` handles the one before; it must be called in frame
        order, as must `finish`."""
        return self.feed.detect(frame_bgr)

    def look(self, detected: Detected, time_s: float | None = None) -> FaceRecord:
        """The rest of perception for a frame from `detect`: its record, the faces classified."""
        return self.perception.look(detected, detected.arrived_s if time_s is None else float(time_s))

    def finish(self, detected: Detected, time_s: float | None = None) -> FrameResult:
        """The rest of `process` for a frame from `detect`: classify, then caption."""
        _check_time(time_s)
        return self.captioning.caption(self.look(detected, time_s))

    def perceive(self, frame_bgr: np.ndarray, time_s: float | None = None) -> FaceRecord:
        """The whole of perception on the next frame (detect and classify): its record, for `caption`."""
        _check_time(time_s)
        return self.look(self.detect(frame_bgr), time_s)

    def caption(self, record: FaceRecord) -> FrameResult:
        """Captioning of a record from `perceive`, in frame order."""
        return self.captioning.caption(record)

    def follow(self, faces: Faces, *, shot: int = STEADY, fresh: bool = True) -> Faces:
        """Captioning's stages on one frame's looked-at faces (`Captioning.follow`)."""
        return self.captioning.follow(faces, shot=shot, fresh=fresh)


def _check_time(time_s) -> None:
    # NaN or infinity would only fail later, when a subtitle or JSON record is written.
    if time_s is not None and not (isinstance(time_s, (int, float)) and math.isfinite(time_s) and time_s >= 0):
        raise ValueError(f"Pipeline.process time_s must be a finite number of seconds >= 0 or None, got {time_s!r}")
