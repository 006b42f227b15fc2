"""Box operations: pairwise overlaps, NMS, squaring and MTCNN's box regression."""

from __future__ import annotations

import numpy as np
import pytest

from emocap.detection.boxes import apply_box_regression, batched_nms, greedy_nms, nms
from emocap.geometry import iou_matrix, overlap_matrix, square_boxes


def test_iou_matrix_by_hand():
    a = np.array([[0, 0, 10, 10], [5, 5, 15, 15]])
    b = np.array([[0, 0, 10, 10], [10, 10, 20, 20], [0, 0, 5, 20], [100, 100, 101, 101]])
    expected = np.array([
        [1.0, 0.0, 50 / 150, 0.0],
        [25 / 175, 25 / 175, 0.0, 0.0],
    ])
    np.testing.assert_allclose(iou_matrix(a, b), expected)


def test_min_overlap_counts_a_box_inside_another_as_a_duplicate():
    outer, inner = np.array([[0, 0, 20, 20]]), np.array([[5, 5, 10, 10]])
    assert overlap_matrix(outer, inner, "min")[0, 0] == 1.0
    assert iou_matrix(outer, inner)[0, 0] == pytest.approx(25 / 400)


def test_iou_matrix_shapes_and_degenerate_boxes():
    assert iou_matrix(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)
    assert iou_matrix(np.zeros((2, 4)), np.zeros((0, 4))).shape == (2, 0)
    empty_box = np.array([[3, 3, 3, 3]])
    assert iou_matrix(empty_box, empty_box)[0, 0] == 0.0  # no 0/0


def test_iou_matrix_is_symmetric_and_matches_a_loop_on_random_boxes():
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 100, (40, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(1, 50, (40, 2))], axis=1)
    matrix = iou_matrix(boxes, boxes)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    i, j = 3, 17
    w = max(0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
    h = max(0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
    area = lambda k: (boxes[k, 2] - boxes[k, 0]) * (boxes[k, 3] - boxes[k, 1])  # noqa: E731
    assert matrix[i, j] == pytest.approx(w * h / (area(i) + area(j) - w * h))


def test_bad_box_arrays_raise_value_error():
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        iou_matrix(np.zeros((3, 5)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="'giou'"):
        overlap_matrix(np.zeros((1, 4)), np.zeros((1, 4)), "giou")
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\)"):
        nms(np.zeros((2, 4)), np.zeros(3), 0.5)


def test_nms_keeps_the_best_of_each_cluster_best_first():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [51, 50, 61, 60], [0, 0, 10, 9]])
    scores = np.array([0.6, 0.9, 0.7, 0.95, 0.1])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [3, 1])
    np.testing.assert_array_equal(nms(boxes, scores, 0.99), [3, 1, 2, 0, 4])
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)


def test_opencv_nms_equals_the_numpy_reference_including_ties_and_negative_scores():
    rng = np.random.default_rng(1)
    for count in (1, 2, 30, 300):
        corners = rng.uniform(0, 300, (count, 2))
        boxes = np.concatenate([corners, corners + rng.uniform(5, 80, (count, 2))], axis=1)
        scores = rng.uniform(-1, 1, count)
        scores[: count // 3] = 0.25
        for threshold in (0.3, 0.7):
            np.testing.assert_array_equal(nms(boxes, scores, threshold), greedy_nms(boxes, scores, threshold))


def test_min_nms_drops_a_half_face_inside_a_face():
    boxes = np.array([[0, 0, 100, 100], [0, 0, 50, 100]])
    scores = np.array([0.99, 0.98])
    np.testing.assert_array_equal(nms(boxes, scores, 0.7, kind="min"), [0])
    np.testing.assert_array_equal(nms(boxes, scores, 0.7), [0, 1])


def test_batched_nms_only_suppresses_within_a_group():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    scores = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5), [0, 1])
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).shape == (0,)


def test_square_boxes_keep_centre_and_longer_side():
    squares = square_boxes(np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 8.0, 2.0]]))
    np.testing.assert_allclose(squares, [[0, 20, 40, 60], [0, -3, 8, 5]])


def test_box_regression_moves_each_side_by_a_fraction_of_the_box():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0]])
    moved = apply_box_regression(boxes, np.array([[0.1, -0.25, 0.5, 0.0]]))
    np.testing.assert_allclose(moved, [[12, 10, 40, 60]])
