"""`HaarFaceDetector`: OpenCV's Viola-Jones cascade, a fallback when MTCNN is too slow or unwanted."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emocap.checks import check_int, check_number
from emocap.defaults import DEFAULT_MIN_FACE_SIZE
from emocap.images import check_bgr_frame, opencv_text
from emocap.types import Faces

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


class HaarFaceDetector:
    """Frontal faces with an OpenCV Haar cascade.

    min_face_size  smallest face side in pixels searched for (>= 24, the cascade's window)
    scale_factor   step between the scales searched (> 1; smaller finds more, slower)
    min_neighbors  overlapping raw hits a face needs; the knob that trades
                   missed faces for false ones
    cascade        a file name in `cv2.data.haarcascades` or a path to a cascade XML

    The cascade gives no calibrated confidence (detectMultiScale3's level
    weights are raw stage sums with no probability meaning), so every face
    gets score 1.0, and landmarks are NaN (it finds none). Faces come in
    OpenCV's order.

    It has no cheaper search near known faces than a whole scan (`searches_near` is False): the
    pipeline scans the whole frame instead, and `detect_near` answers by one.
    """

    searches_near = False

    def __init__(
        self,
        min_face_size: int = DEFAULT_MIN_FACE_SIZE,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        cascade: str | Path = DEFAULT_CASCADE,
    ) -> None:
        min_face_size = check_int("HaarFaceDetector", "min_face_size", min_face_size, 24)  # the cascade's window
        scale_factor = check_number("HaarFaceDetector", "scale_factor", scale_factor, 1, 2, "(]")
        min_neighbors = check_int("HaarFaceDetector", "min_neighbors", min_neighbors, 0)
        path = Path(cascade)
        if not path.is_file():
            path = Path(cv2.data.haarcascades) / str(cascade)
        classifier = cv2.CascadeClassifier(opencv_text(str(path))) if path.is_file() else None
        if classifier is None or classifier.empty():
            raise ValueError(f"cascade must be a readable OpenCV cascade XML, got {str(cascade)!r}")
        self.min_face_size = int(min_face_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self._classifier = classifier

    def detect(self, frame_bgr: np.ndarray) -> Faces:
        gray = cv2.cvtColor(check_bgr_frame(frame_bgr), cv2.COLOR_BGR2GRAY)
        rectangles = self._classifier.detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_face_size, self.min_face_size),
        )
        xywh = np.asarray(rectangles, np.float32).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        return Faces(boxes=boxes, scores=np.ones(len(boxes), np.float32))

    def detect_near(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> Faces:
        """The faces of the whole frame (the cascade has no search around `boxes`: see `searches_near`)."""
        return self.detect(frame_bgr)
