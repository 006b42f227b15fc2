"""`MtcnnFaceDetector`: MTCNN (Zhang et al., 2016) on ONNX Runtime."""

from __future__ import annotations

import numbers

import numpy as np

from emocap.checks import check_int, check_number
from emocap.defaults import DEFAULT_MIN_FACE_SIZE
from emocap.images import check_bgr_frame
from emocap.detection.mtcnn_stages import (
    PNET_WINDOW, candidates_around, output_stage, propose, pyramid_scales, refine,
)
from emocap.detection.networks import MtcnnNetworks
from emocap.types import Faces

MAX_SCALE_FACTOR = 0.95
"""Above this the pyramid gets so many levels that detection takes seconds."""


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)


class MtcnnFaceDetector:
    """Finds faces in BGR frames with MTCNN's three cascaded networks.

    min_face_size   smallest face side in pixels that is searched for (>= 12,
                    P-Net's window); larger values are much faster
    thresholds      face probabilities each stage (P-Net, R-Net, O-Net) needs
                    to pass a candidate on
    min_confidence  final O-Net probability a face needs to be reported; 0.95
                    is the threshold used by Nelms et al.
    scale_factor    ratio between the pyramid's scales (0.709: each level
                    holds faces sqrt(2) times bigger than the one before)
    threads         ONNX Runtime threads per network; None: one a core this process may run on
                    (on 2 cores: 1 thread is ~1 ms faster with one face,
                    2 threads ~25% faster with 4 to 8 faces)
    networks        the three networks; None loads the shipped ONNX files

    `detect(frame_bgr)` returns `Faces` with xyxy boxes (float32, in frame
    pixels, not clipped to the frame), the O-Net face probabilities as scores,
    and landmarks (n, 5, 2): the eye, eye, nose tip, mouth corner, mouth
    corner, left and right as seen in the image. Faces come best score first.
    `detect_near(frame_bgr, boxes)` finds faces again around earlier boxes (`searches_near`).
    """

    searches_near = True

    def __init__(
        self,
        min_face_size: float = DEFAULT_MIN_FACE_SIZE,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        min_confidence: float = 0.95,
        scale_factor: float = 0.709,
        threads: int | None = None,
        networks: MtcnnNetworks | None = None,
    ) -> None:
        min_face_size = check_number("MtcnnFaceDetector", "min_face_size", min_face_size, PNET_WINDOW)
        thresholds = tuple(thresholds) if isinstance(thresholds, (tuple, list)) else thresholds
        if not (
            isinstance(thresholds, tuple)
            and len(thresholds) == 3
            and all(_is_real(t) and 0 < t < 1 for t in thresholds)
        ):
            raise ValueError(f"thresholds must be three probabilities in (0, 1) for P-Net, R-Net, O-Net, got {thresholds!r}")
        self.min_confidence = check_number("MtcnnFaceDetector", "min_confidence", min_confidence, 0, 1, "[)")
        self.scale_factor = check_number("MtcnnFaceDetector", "scale_factor", scale_factor, 0, MAX_SCALE_FACTOR, "(]")
        if threads is not None:
            check_int("MtcnnFaceDetector", "threads", threads, 1)
        self.min_face_size = min_face_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self.networks = networks if networks is not None else MtcnnNetworks.from_files(threads)

    def detect(self, frame_bgr: np.ndarray) -> Faces:
        frame = check_bgr_frame(frame_bgr)
        scales = pyramid_scales(*frame.shape[:2], self.min_face_size, self.scale_factor)
        return self._refined(frame, propose(self.networks.pnet, frame, scales, self.thresholds[0]))

    def detect_near(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> Faces:
        """The faces at `boxes` (xyxy, found in an earlier frame) found again where they moved: O-Net
        on each box, without P-Net's pass over the whole pyramid or R-Net. Faces elsewhere in the
        frame are not looked for."""
        frame = check_bgr_frame(frame_bgr)
        return self._confident(output_stage(self.networks.onet, frame, candidates_around(boxes), self.thresholds[2]))

    def _refined(self, frame: np.ndarray, candidates) -> Faces:
        """R-Net and O-Net on P-Net's candidates; the faces O-Net is sure of."""
        if len(candidates) == 0:
            return Faces.empty()
        candidates = refine(self.networks.rnet, frame, candidates, self.thresholds[1])
        return self._confident(output_stage(self.networks.onet, frame, candidates, self.thresholds[2]))

    def _confident(self, candidates) -> Faces:
        confident = candidates.scores >= self.min_confidence
        return Faces(
            boxes=candidates.boxes[confident],
            scores=candidates.scores[confident],
            landmarks=candidates.landmarks[confident],
        )
