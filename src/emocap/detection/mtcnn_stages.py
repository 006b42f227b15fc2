"""MTCNN's three stages as pure functions over a frame and the networks.

The shape follows facenet-pytorch's `detect_face`: one P-Net call per pyramid
scale, NMS over all scales in one batched call, and every crop of a stage
classified in one batch. Frames are BGR uint8; the networks take RGB, so the
channel swap happens when a network's input is built.

Boxes are float64 (n, 4) x1, y1, x2, y2 in frame pixels (continuous
coordinates: pixel i spans [i, i + 1)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from emocap.detection.boxes import apply_box_regression, batched_nms, nms
from emocap.geometry import square_boxes
from emocap.detection.crops import box_crops

Network = Callable[[np.ndarray], np.ndarray]

PNET_WINDOW = 12
PNET_STRIDE = 2
RNET_SIZE = 24
ONET_SIZE = 48
PNET_NMS_PER_SCALE = 0.5
PNET_NMS_ACROSS_SCALES = 0.7
RNET_NMS = 0.7
ONET_NMS = 0.7
_MEAN, _SCALE = 127.5, 1.0 / 128.0


@dataclass(frozen=True)
class Candidates:
    """Face candidates after a stage: boxes (n, 4), scores (n,), landmarks (n, 5, 2) after O-Net."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> "Candidates":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))


def logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def pyramid_scales(height: int, width: int, min_face_size: float, scale_factor: float) -> np.ndarray:
    """Scales at which a face of min_face_size, then faces ever 1/scale_factor bigger, fill P-Net's 12x12 window."""
    first = PNET_WINDOW / min_face_size
    count = 0
    while min(height, width) * first * scale_factor**count >= PNET_WINDOW:
        count += 1
    return first * scale_factor ** np.arange(count)


def image_pyramid(frame_bgr: np.ndarray, scales: np.ndarray) -> list[np.ndarray]:
    """The frame resized to each scale (uint8, BGR).

    The first level is shrunk from the frame with an area filter (it may be
    several times smaller, and plain bilinear shrinking there lost faces near
    min_face_size in the tests); each later level is a bilinear resize of the
    one before, a mild 1/scale_factor step. At 640x480 that takes 0.8 ms, where
    area-filtering every level from the frame took 5 to 7 ms.
    """
    height, width = frame_bgr.shape[:2]
    levels = []
    source, interpolation = frame_bgr, cv2.INTER_AREA
    for scale in scales:
        size = (math.ceil(width * scale), math.ceil(height * scale))
        source = cv2.resize(source, size, interpolation=interpolation)
        levels.append(source)
        interpolation = cv2.INTER_LINEAR
    return levels


def network_input_from_image(image_bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR (H, W, 3) -> float32 (1, 3, H, W) RGB scaled to (x - 127.5) / 128."""
    return cv2.dnn.blobFromImage(image_bgr, scalefactor=_SCALE, mean=(_MEAN, _MEAN, _MEAN), swapRB=True)


def network_input_from_crops(crops_bgr: np.ndarray) -> np.ndarray:
    """uint8 (N, S, S, 3) BGR -> float32 (N, 3, S, S) RGB scaled to (x - 127.5) / 128."""
    rgb_first = crops_bgr[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    return (rgb_first - np.float32(_MEAN)) * np.float32(_SCALE)


def _pnet_windows(output: np.ndarray, scale_xy: tuple[float, float], threshold_logit: float):
    """Windows of one pyramid level whose face logit passes, in frame pixels, with their regression."""
    face_logits = output[0, 4]
    rows, cols = np.nonzero(face_logits > threshold_logit)
    scale_x, scale_y = scale_xy
    x1 = cols * PNET_STRIDE / scale_x
    y1 = rows * PNET_STRIDE / scale_y
    windows = np.stack([x1, y1, x1 + PNET_WINDOW / scale_x, y1 + PNET_WINDOW / scale_y], axis=1)
    return windows, sigmoid(face_logits[rows, cols].astype(np.float64)), output[0, :4, rows, cols]


def propose(pnet: Network, frame_bgr: np.ndarray, scales: np.ndarray, threshold: float) -> Candidates:
    """Stage 1: P-Net over the image pyramid -> square candidate boxes."""
    height, width = frame_bgr.shape[:2]
    windows, scores, offsets, levels = [], [], [], []
    for level, image in enumerate(image_pyramid(frame_bgr, scales)):
        output = pnet(network_input_from_image(image))
        scale_xy = (image.shape[1] / width, image.shape[0] / height)
        level_windows, level_scores, level_offsets = _pnet_windows(output, scale_xy, logit(threshold))
        windows.append(level_windows)
        scores.append(level_scores)
        offsets.append(level_offsets.reshape(-1, 4))
        levels.append(np.full(len(level_scores), level))
    if sum(map(len, scores)) == 0:
        return Candidates.empty()
    windows, scores = np.concatenate(windows), np.concatenate(scores)
    offsets, levels = np.concatenate(offsets), np.concatenate(levels)
    keep = batched_nms(windows, scores, levels, PNET_NMS_PER_SCALE)
    keep = keep[nms(windows[keep], scores[keep], PNET_NMS_ACROSS_SCALES)]
    boxes = square_boxes(apply_box_regression(windows[keep], offsets[keep]))
    return Candidates(boxes, scores[keep])


def candidates_around(boxes: np.ndarray) -> Candidates:
    """Faces found in an earlier frame as O-Net candidates: their boxes made square, as R-Net's are.
    (benchmarks/detection_search.py: O-Net's regression follows a moving head from there as well as
    R-Net on seven shifted and scaled copies of each box did, at half the cost.)"""
    square = square_boxes(np.asarray(boxes, np.float64).reshape(-1, 4))
    return Candidates(square, np.ones(len(square)))


def _score_crops(network: Network, frame_bgr: np.ndarray, candidates: Candidates, size: int, threshold: float):
    """Crops of all candidates through the network in one batch.

    Returns the boxes whose face probability passes `threshold`, their
    network outputs (float64) and their probabilities. Boxes that regression
    turned inside out (no positive side) are dropped before cropping.
    """
    boxes = candidates.boxes[candidates.boxes[:, 2] > candidates.boxes[:, 0]]
    if len(boxes) == 0:
        return boxes, np.zeros((0, 15)), np.zeros(0)
    output = network(network_input_from_crops(box_crops(frame_bgr, boxes, size))).astype(np.float64)
    passed = output[:, -1] > logit(threshold)
    return boxes[passed], output[passed], sigmoid(output[passed, -1])


def refine(rnet: Network, frame_bgr: np.ndarray, candidates: Candidates, threshold: float) -> Candidates:
    """Stage 2: R-Net rescores and adjusts every candidate at once."""
    boxes, output, scores = _score_crops(rnet, frame_bgr, candidates, RNET_SIZE, threshold)
    keep = nms(boxes, scores, RNET_NMS)
    return Candidates(square_boxes(apply_box_regression(boxes[keep], output[keep, :4])), scores[keep])


def output_stage(onet: Network, frame_bgr: np.ndarray, candidates: Candidates, threshold: float) -> Candidates:
    """Stage 3: O-Net gives final boxes, scores and five landmarks per face."""
    boxes, output, scores = _score_crops(onet, frame_bgr, candidates, ONET_SIZE, threshold)
    sizes = boxes[:, 2:] - boxes[:, :2]
    landmark_fractions = np.stack([output[:, 4:9], output[:, 9:14]], axis=2)  # (n, 5, xy)
    landmarks = boxes[:, None, :2] + landmark_fractions * sizes[:, None, :]
    boxes = apply_box_regression(boxes, output[:, :4])
    # "min" overlap: a box mostly inside a better one (half a face) is a duplicate.
    keep = nms(boxes, scores, ONET_NMS, kind="min")
    return Candidates(boxes[keep], scores[keep], landmarks[keep])
