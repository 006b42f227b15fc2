"""Boxes (x1, y1, x2, y2) as arrays: overlaps and squares, vectorised over the boxes.

Coordinates are continuous: pixel column i covers [i, i + 1), so a box's
width is x2 - x1 with no "+ 1". Detection, cropping and tracking all use these.
"""

from __future__ import annotations

import numpy as np

OVERLAP_KINDS = ("union", "min")


def as_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
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
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
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


def square_boxes(boxes: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Squares (n, 4) with the same centres, side = the longer side of each box times `scale`
    (MTCNN squares its candidates; the classifier's crop is a square with a margin)."""
    boxes = np.asarray(boxes)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None] * (scale / 2)
    return np.concatenate([centre - half, centre + half], axis=1)
