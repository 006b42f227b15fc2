"""TrackConfirmation: a face is shown once its track has been detected in a few frames, and the
numbers people see count the faces shown."""

import numpy as np
import pytest
from frame_fixtures import boxes_faces, square

from emocap.tracking import IouTracker, TrackConfirmation


def shown_ids(confirmation, tracker, frames, detected=None):
    """The shown numbers of each frame's faces (boxes per frame), through the tracker then the confirmation."""
    detected = detected or [True] * len(frames)
    return [
        confirmation.update(tracker.update(boxes_faces(boxes)), detected=fresh).track_ids.tolist()
        for boxes, fresh in zip(frames, detected)
    ]


def test_a_one_frame_detection_is_never_shown_and_takes_no_number():
    frames = [[square(0)], [square(0), square(400)], [square(0)], [square(0)], [square(0)]]
    assert shown_ids(TrackConfirmation(3), IouTracker(), frames) == [[], [], [0], [0], [0]]


def test_numbers_count_the_shown_tracks_in_the_order_they_come_when_confirmed_together():
    false_alarm, right, left = [square(900)], square(600), square(0)
    frames = [false_alarm, [right, left], [right, left], [right, left]]
    assert shown_ids(TrackConfirmation(3), IouTracker(), frames) == [[], [], [], [0, 1]]


def test_carried_boxes_show_a_confirmed_face_but_do_not_confirm_one():
    frames = [[square(0)]] * 4
    assert shown_ids(TrackConfirmation(2), IouTracker(), frames, detected=[True, False, False, True]) == [[], [], [], [0]]


def test_one_frame_confirmation_shows_every_face_at_once_as_a_photo_needs():
    assert shown_ids(TrackConfirmation(1), IouTracker(), [[square(600), square(0)]]) == [[0, 1]]


def test_a_forgotten_track_is_confirmed_again_under_a_new_number():
    confirmation, tracker = TrackConfirmation(2, patience_frames=1), IouTracker(patience_frames=1)
    frames = [[square(0)], [square(0)], [], [], [square(0)], [square(0)]]
    assert shown_ids(confirmation, tracker, frames) == [[], [0], [], [], [], [1]]


def test_confirm_frames_must_be_at_least_one():
    with pytest.raises(ValueError, match="TrackConfirmation.confirm_frames must be an integer >= 1, got 0"):
        TrackConfirmation(0)


def test_untracked_faces_are_refused():
    with pytest.raises(ValueError, match="needs tracked faces"):
        TrackConfirmation().update(boxes_faces([square(0)]))


def test_the_faces_kept_are_the_confirmed_ones_with_their_boxes():
    confirmation, tracker = TrackConfirmation(2), IouTracker()
    confirmation.update(tracker.update(boxes_faces([square(0)])))
    shown = confirmation.update(tracker.update(boxes_faces([square(500), square(2)])))
    np.testing.assert_allclose(shown.boxes, [square(2)])
