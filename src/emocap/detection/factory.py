"""`make_detector(name, **options)`: a face detector chosen by name (for the CLI and config files)."""

from __future__ import annotations

import inspect
from typing import Protocol

import numpy as np

from emocap.detection.haar import HaarFaceDetector
from emocap.detection.mtcnn import FaceDetector
from emocap.types import Faces


class Detector(Protocol):
    def detect(self, frame_bgr: np.ndarray) -> Faces: ...


DETECTORS = {"mtcnn": FaceDetector, "haar": HaarFaceDetector}


def make_detector(name: str, **options) -> Detector:
    """A detector by name ("mtcnn" or "haar"), built with the given constructor options."""
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {sorted(DETECTORS)}, got {name!r}")
    detector_class = DETECTORS[name]
    accepted = set(inspect.signature(detector_class).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"detector {name!r} has no option(s) {unknown}; it takes {sorted(accepted)}")
    return detector_class(**options)
