"""Operations on arrays of boxes (x1, y1, x2, y2), all vectorised over the boxes.

Coordinates are continuous: pixel column i covers [i, i + 1), so a box's
width is x2 - x1 with no "+ 1".
"""

from __future__ import annotations

import cv2
import numpy as np

OVERLAP_KINDS = ("union", "min")


def _as_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{name} must have shape (n, 4), got {array.shape}")
    return array


def box_areas(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def overlap_matrix(a: np.ndarray, b: np.ndarray, kind: str = "union") -> np.ndarray:
    """Pairwise overlap (n, m) of boxes a (n, 4) and b (m, 4).

    kind "union": intersection over union (IoU). kind "min": intersection over
    the smaller box's area, which MTCNN's last stage uses so that a small box
    lying inside a bigger one (a face part) counts as a duplicate.
    """
    if kind not in OVERLAP_KINDS:
        raise ValueError(f"overlap kind must be one of {OVERLAP_KINDS}, got {kind!r}")
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    sides = np.clip(bottom_right - top_left, 0, None)
    intersection = sides[..., 0] * sides[..., 1]
    area_a, area_b = box_areas(a)[:, None], box_areas(b)[None, :]
    denominator = area_a + area_b - intersection if kind == "union" else np.minimum(area_a, area_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        overlap = np.where(denominator > 0, intersection / denominator, 0.0)
    return overlap


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union (n, m) of boxes a (n, 4) and b (m, 4)."""
    return overlap_matrix(a, b, "union")


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, kind: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    A box is dropped when it overlaps an already kept, better-scoring box by
    more than `threshold`. IoU ("union") runs in OpenCV's C++ `NMSBoxes`
    (100x faster than a NumPy loop on P-Net's hundreds of windows); the "min"
    overlap, which OpenCV lacks, runs `greedy_nms`.
    """
    boxes = _as_boxes(boxes, "boxes")
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
    boxes = _as_boxes(boxes, "boxes")
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
    boxes = _as_boxes(boxes, "boxes")
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    span = boxes.max() - boxes.min() + 1
    shifted = boxes + (np.asarray(groups, np.float64) * span)[:, None]
    return nms(shifted, scores, threshold, kind)


def square_boxes(boxes: np.ndarray) -> np.ndarray:
    """Squares with the same centres, side = the longer side of each box."""
    boxes = np.asarray(boxes)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None] / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def apply_box_regression(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each side of each box by its offset, given as a fraction of the box's width or height."""
    boxes = np.asarray(boxes)
    sizes = np.tile(boxes[:, 2:] - boxes[:, :2], 2)
    return boxes + np.asarray(offsets) * sizes
