"""Captioning, the second half of the pipeline: perception's records in, the captions of each frame out.

Its stages are all memory and need no network: track (identities from boxes, looks and cuts),
smooth (the paper's memory, or another), unsure (a face the smoothed output is not sure of says
"unsure"), order (right to left), confirm (only faces detected in a few frames are shown, numbered as
they are). `Captioning` is built from the `PipelineConfig` and what the model's metadata says
(`ModelFacts`: its labels and its "unsure" threshold), read from the model file without building a
session: so a Ray driver, which only captions the records its workers send, loads no network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from emocap.pipeline_config import PipelineConfig
from emocap.record import FaceRecord
from emocap.tracking import AppearanceTracker, TrackConfirmation, UnsureRule, make_smoother, order_for_reading
from emocap.tracking.shots import STEADY
from emocap.types import Faces, FrameResult


@dataclass(frozen=True)
class ModelFacts:
    """What captioning needs to know of the emotion model: its class names, in the order of its
    probabilities, and the threshold under which its captions say "unsure" (its calibration; 0: none)."""

    labels: tuple[str, ...]
    unsure_below: float = 0.0

    @classmethod
    def of(cls, classifier) -> "ModelFacts":
        """The facts of a loaded `EmotionClassifier`."""
        return cls(classifier.labels, classifier.calibration.unsure_below)

    @classmethod
    def read(cls, model: str | Path | None) -> "ModelFacts":
        """The facts of the model file `model` (None: the built-in one), from its metadata alone (no ONNX
        Runtime session). ModelError, as `EmotionClassifier` says it, for a file missing, unreadable or
        without emocap's metadata."""
        from emocap.classifier import model_file, read_model_metadata, unreadable_model
        from emocap.onnx_metadata import onnx_metadata

        path = model_file(model)
        try:
            metadata = onnx_metadata(path)
        except (OSError, ValueError, UnicodeDecodeError) as error:
            raise unreadable_model(path, error) from None
        labels, _, calibration = read_model_metadata(path, metadata)
        return cls(labels, calibration.unsure_below)


class Captioning:
    """Track, smooth, unsure, order, confirm: `caption(record) -> FrameResult`, in frame order.

    `Captioning(config, facts)`; `Captioning.for_model(config)` reads the facts from `config.model`."""

    def __init__(self, config: PipelineConfig, facts: ModelFacts) -> None:
        self.config, self.facts = config, facts
        options = {"patience_frames": config.patience_frames}
        if config.memory is not None:
            options["length"] = config.memory
        self.smoother = make_smoother(config.smoother, **options)
        self.tracker = AppearanceTracker(patience_frames=config.patience_frames)
        below = facts.unsure_below if config.unsure_below is None else config.unsure_below
        band = min(config.unsure_band, below, 1 - below - 1e-6)  # the band stays inside 0..1
        self.unsure = UnsureRule(below, lower=band, upper=band, patience_frames=config.patience_frames)
        # A face's number is remembered as long as the tracker may give its track back.
        self.confirmation = TrackConfirmation(
            config.confirm_frames, patience_frames=max(config.patience_frames, self.tracker.remember_frames)
        )
        self.reset()

    @classmethod
    def for_model(cls, config: PipelineConfig) -> "Captioning":
        """The captioning of `config`, its model's facts read from the model file (no network built)."""
        return cls(config, ModelFacts.read(config.model))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.facts.labels

    def reset(self) -> None:
        """Forget every face: the next frame starts new identities and empty memories, numbered from 0."""
        self.tracker.reset()
        self.smoother.reset()
        self.unsure.reset()
        self.confirmation.reset()
        self._index = 0

    def caption(self, record: FaceRecord) -> FrameResult:
        """The frame of `record`, its faces tracked, smoothed and ordered, numbered after the last one."""
        clock = time.perf_counter()
        faces = self.follow(record.faces, shot=record.shot, fresh=record.fresh)
        result = FrameResult(
            index=self._index, time_s=record.time_s, frame_size=record.frame_size, faces=faces, labels=self.labels,
            timings_ms={"detect": record.detect_ms, "classify": record.classify_ms,
                        "track": (time.perf_counter() - clock) * 1000},
        )
        self._index += 1
        return result

    def follow(self, faces: Faces, *, shot: int = STEADY, fresh: bool = True) -> Faces:
        """The stages on one frame's looked-at faces. They remember a face for up to
        `tracker.remember_frames`, longer than a chunk's warm-up, so a video transcribed in chunks runs
        them once, on the driver, over the chunks' records (chunking.py)."""
        faces = self.unsure.update(self.smoother.update(self.tracker.update(faces, shot=shot)))
        faces = order_for_reading(faces, right_to_left=self.config.right_to_left)
        return self.confirmation.update(faces, detected=fresh)
