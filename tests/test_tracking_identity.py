"""IouTracker identities and the reading order."""

import numpy as np
import pytest
from frame_fixtures import boxes_faces, square

from emocap.tracking import IouTracker, PaperMemory, order_for_reading
from emocap.types import NO_LABEL, UNTRACKED, Faces


def test_new_faces_get_new_increasing_ids():
    tracker = IouTracker()
    first = tracker.update(boxes_faces([square(0), square(300)]))
    assert first.track_ids.tolist() == [0, 1]
    second = tracker.update(boxes_faces([square(302), square(600), square(1)]))
    assert second.track_ids.tolist() == [1, 2, 0]


def test_input_is_not_changed():
    faces = boxes_faces([square(0)])
    tracked = IouTracker().update(faces)
    assert faces.track_ids.tolist() == [UNTRACKED]
    assert tracked.track_ids.tolist() == [0]
    assert tracked.boxes is faces.boxes


def test_two_faces_crossing_slowly_keep_their_ids():
    tracker = IouTracker()
    ids_of_rightward, ids_of_leftward = set(), set()
    for step in range(61):
        rightward, leftward = square(5 * step, y=0), square(300 - 5 * step, y=40)
        order = [0, 1] if step % 2 else [1, 0]
        tracked = tracker.update(boxes_faces(np.array([rightward, leftward])[order]))
        position = {order[row]: row for row in range(2)}
        ids_of_rightward.add(int(tracked.track_ids[position[0]]))
        ids_of_leftward.add(int(tracked.track_ids[position[1]]))
    assert len(ids_of_rightward) == len(ids_of_leftward) == 1
    assert ids_of_rightward != ids_of_leftward


def test_a_jump_beyond_the_overlap_threshold_starts_a_new_track():
    tracker = IouTracker(iou_threshold=0.3)
    tracker.update(boxes_faces([square(0)]))
    assert tracker.update(boxes_faces([square(60)])).track_ids.tolist() == [1]  # IoU 0.25


def test_reappearance_within_patience_keeps_the_id_and_expiry_drops_it():
    tracker = IouTracker(patience_frames=3)
    tracker.update(boxes_faces([square(0)]))
    for _ in range(3):
        tracker.update(Faces.empty())
    assert tracker.update(boxes_faces([square(2)])).track_ids.tolist() == [0]
    for _ in range(4):
        tracker.update(Faces.empty())
    assert tracker.live_ids.tolist() == []
    assert tracker.update(boxes_faces([square(2)])).track_ids.tolist() == [1]


def test_a_face_appearing_where_another_left_only_takes_its_id_when_it_overlaps():
    tracker = IouTracker()
    tracker.update(boxes_faces([square(0), square(400)]))
    after = tracker.update(boxes_faces([square(400), square(800)]))
    assert after.track_ids.tolist() == [1, 2]
    assert sorted(tracker.live_ids.tolist()) == [0, 1, 2]


def test_reset_restarts_the_ids():
    tracker = IouTracker()
    tracker.update(boxes_faces([square(0), square(300)]))
    tracker.reset()
    assert tracker.update(boxes_faces([square(600)])).track_ids.tolist() == [0]


def test_empty_frames_pass_through():
    tracked = IouTracker().update(Faces.empty(7))
    assert len(tracked) == 0 and tracked.track_ids.dtype == np.int64


def test_reappearing_face_keeps_identity_and_displayed_emotion():
    tracker, memory = IouTracker(patience_frames=10), PaperMemory(length=4, patience_frames=10)

    def frame(box, class_index):
        faces = boxes_faces([box])
        probs = np.full((1, 7), 0.05, np.float32)
        probs[0, class_index] = 0.7
        return memory.update(tracker.update(faces.with_(probs=probs)))

    for _ in range(4):
        shown = frame(square(0), 3)
    assert shown.display.tolist() == [3]
    for _ in range(10):
        memory.update(tracker.update(Faces.empty(7)))
    back = frame(square(3), 5)
    assert back.track_ids.tolist() == [0] and back.display.tolist() == [3]
    for _ in range(11):
        memory.update(tracker.update(Faces.empty(7)))
    stranger = frame(square(3), 5)
    assert stranger.track_ids.tolist() == [1] and stranger.display.tolist() == [NO_LABEL]


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5, "0.3", None, True])
def test_iou_threshold_is_checked(threshold):
    with pytest.raises(ValueError, match="iou_threshold"):
        IouTracker(iou_threshold=threshold)


@pytest.mark.parametrize("patience", [-1, 1.5, True, "15"])
def test_patience_is_checked(patience):
    with pytest.raises(ValueError, match="patience_frames"):
        IouTracker(patience_frames=patience)


def test_reading_order_is_right_to_left_by_centre():
    faces = boxes_faces([square(100), square(500), [0, 0, 400, 100], square(300)])
    faces = faces.with_(track_ids=np.arange(4))
    assert order_for_reading(faces).track_ids.tolist() == [1, 3, 2, 0]
    assert order_for_reading(faces, right_to_left=False).track_ids.tolist() == [0, 2, 3, 1]


def test_reading_order_keeps_ties_and_handles_no_faces():
    faces = boxes_faces([square(100), square(100, y=200)]).with_(track_ids=[7, 8])
    assert order_for_reading(faces).track_ids.tolist() == [7, 8]
    assert len(order_for_reading(Faces.empty())) == 0


def test_a_face_moving_most_of_its_width_per_frame_keeps_its_id():
    # A camera pan: 60 px a frame for a 100 px face (IoU 0.25 between frames, 0 two frames apart).
    tracker = IouTracker()
    ids = {int(tracker.update(boxes_faces([square(60 * step)])).track_ids[0]) for step in range(20)}
    assert ids == {0}


def test_a_moving_face_missed_for_two_frames_is_found_where_it_went():
    tracker = IouTracker()
    for step in range(5):
        tracker.update(boxes_faces([square(50 * step)]))
    tracker.update(Faces.empty())
    tracker.update(Faces.empty())
    # Two frames later it is 150 px on: no overlap with its last box, a full one with the expected one.
    assert tracker.update(boxes_faces([square(50 * 7)])).track_ids.tolist() == [0]


def test_without_motion_the_expected_box_is_the_last_box():
    tracker = IouTracker(iou_threshold=0.5)
    for _ in range(3):
        tracker.update(boxes_faces([square(10)]))
    assert tracker.update(boxes_faces([square(40)])).track_ids.tolist() == [0]  # IoU 0.54
    assert tracker.update(boxes_faces([square(400)])).track_ids.tolist() == [1]
