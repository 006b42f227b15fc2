"""What MTCNN does with boxes: non-maximum suppression and box regression, vectorised over the
boxes (the geometry every stage shares, overlaps and squares, is in `emocap.geometry`)."""

from __future__ import annotations

import cv2
import numpy as np

from emocap.geometry import OVERLAP_KINDS, as_boxes, overlap_matrix


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, kind: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    A box is dropped when it overlaps an already kept, better-scoring box by
    more than `threshold`. IoU ("union") runs in OpenCV's C++ `NMSBoxes`
    (100x faster than a NumPy loop on P-Net's hundreds of windows); the "min"
    overlap, which OpenCV lacks, runs `greedy_nms`.
    """
    boxes = as_boxes(boxes, "boxes")
    scores = np.asarray(scores, np.float32)
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must have shape ({len(boxes)},), got {scores.shape}")
    if kind not in OVERLAP_KINDS:
        raise ValueError(f"overlap kind must be one of {OVERLAP_KINDS}, got {kind!r}")
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    if kind == "min":
        return greedy_nms(boxes, scores, threshold, kind)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    # OpenCV drops scores <= its score threshold (which must be >= 0): give it
    # positive ranks instead, which keep the order (ties broken by position).
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(order), np.float32)
    ranks[order] = np.arange(len(order), 0, -1)
    keep = cv2.dnn.NMSBoxes(xywh, ranks, score_threshold=0.0, nms_threshold=float(threshold))
    return np.asarray(keep, np.int64).reshape(-1)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, kind: str = "union") -> np.ndarray:
    """NMS in NumPy; the loop runs once per *kept* box, comparing it with all remaining boxes at once."""
    boxes = as_boxes(boxes, "boxes")
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlaps = overlap_matrix(boxes[best : best + 1], boxes[rest], kind)[0]
        order = rest[overlaps <= threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float, kind: str = "union"
) -> np.ndarray:
    """NMS run separately inside each group (e.g. each pyramid scale), in one call.

    Each group's boxes are shifted far apart so boxes of different groups
    never overlap (the trick of torchvision's `batched_nms`).
    """
    boxes = as_boxes(boxes, "boxes")
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    span = boxes.max() - boxes.min() + 1
    shifted = boxes + (np.asarray(groups, np.float64) * span)[:, None]
    return nms(shifted, scores, threshold, kind)


def apply_box_regression(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each side of each box by its offset, given as a fraction of the box's width or height."""
    boxes = np.asarray(boxes)
    sizes = np.tile(boxes[:, 2:] - boxes[:, :2], 2)
    return boxes + np.asarray(offsets) * sizes
