"""The `Detector` protocol, and `make_detector(name, **options)`: a face detector chosen by name (for the CLI
and config files)."""

from __future__ import annotations

import inspect
from typing import Protocol

import numpy as np

from emocap.detection.haar import HaarFaceDetector
from emocap.detection.mtcnn import MtcnnFaceDetector
from emocap.types import Faces


class Detector(Protocol):
    """What the pipeline asks of a face detector.

    detect(frame_bgr)              every face of the frame (a whole scan)
    detect_near(frame_bgr, boxes)  the faces at `boxes` (xyxy, from an earlier frame) found again where
                                   they moved; faces elsewhere need not be looked for
    searches_near                  whether `detect_near` is a search cheaper than `detect`; when False the
                                   pipeline scans the whole frame instead and never calls it (Haar answers
                                   it all the same, by a whole scan)
    """

    searches_near: bool

    def detect(self, frame_bgr: np.ndarray) -> Faces: ...

    def detect_near(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> Faces: ...


DETECTORS = {"mtcnn": MtcnnFaceDetector, "haar": HaarFaceDetector}


def check_detector(detector) -> Detector:
    """`detector`, or a TypeError naming what it lacks of the `Detector` protocol."""
    needed = ("detect", "searches_near", *(("detect_near",) if getattr(detector, "searches_near", False) else ()))
    missing = [name for name in needed if not hasattr(detector, name)]
    if missing:
        raise TypeError(f"a detector needs detect, searches_near and, where that is True, detect_near (the "
                        f"Detector protocol); {type(detector).__name__} lacks {', '.join(missing)}")
    return detector


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
