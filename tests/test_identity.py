"""Face numbers on clips of real portraits: a number never passes from one person to another.

Frames are built from the two public-domain photos of `emocap_testkit.faces` (Eileen Collins and Grace
Hopper); the pipeline runs its real classifier, whose embeddings tell the two apart.
"""

import numpy as np
import pytest

from emocap import EmotionClassifier, Faces, MtcnnFaceDetector, Pipeline
from emocap_testkit.faces import placed_faces

WIDTH, HEIGHT = 640, 360
MOST_OF_A_FACE = 0.5
"""A face counts as seen by `TruthDetector` when at least this share of its box shows."""


@pytest.fixture(scope="module")
def shared_parts():
    return MtcnnFaceDetector(), EmotionClassifier()


class TruthDetector:
    """Gives the boxes of the faces that show (most of their box in view) in the frames of a clip, in turn."""

    searches_near = False

    def __init__(self, visible_boxes):
        self.visible_boxes, self.calls = list(visible_boxes), 0

    def detect(self, frame):
        boxes = np.asarray(self.visible_boxes[self.calls], np.float32).reshape(-1, 4)
        self.calls += 1
        return Faces(boxes=boxes, scores=np.full(len(boxes), 0.99, np.float32))


def clip(scenes):
    """Frames, and the boxes of the faces each one shows, of (placements, background) per frame."""
    frames, shown = [], []
    for placements, background in scenes:
        frame, boxes, visible = placed_faces(WIDTH, HEIGHT, placements, background=background)
        frames.append(frame)
        shown.append(boxes[visible >= MOST_OF_A_FACE])
    return frames, shown


def numbers_by_person(pipeline, frames, truth_boxes) -> dict[int, set[int]]:
    """The numbers the pipeline showed on each true face (by the index of its box in `truth_boxes`)."""
    from emocap.geometry import iou_matrix

    numbers: dict[int, set[int]] = {}
    for index, (frame, truth) in enumerate(zip(frames, truth_boxes)):
        faces = pipeline.process(frame, index / 30).faces
        if len(faces) and len(truth):
            overlap = iou_matrix(np.asarray(truth, np.float32)[:, :4], faces.boxes)
            for row, column in zip(*np.nonzero(overlap >= 0.5)):
                numbers.setdefault(int(truth[row][4]), set()).add(int(faces.track_ids[column]))
    return numbers


def tagged(placements, people):
    """Truth boxes with the person's tag as a fifth column, for `numbers_by_person`."""
    _, boxes, visible = placed_faces(WIDTH, HEIGHT, placements)
    return [[*box, person] for box, person, share in zip(boxes, people, visible) if share >= MOST_OF_A_FACE]


def test_a_cut_between_two_people_at_the_same_place_gives_two_numbers(shared_parts):
    # The hard cut of issue 28: one shot's face, then another person's face where it was.
    singer, audience = [("astronaut", 250, 100, 120)], [("grace_hopper", 250, 100, 120)]
    scenes = [(singer, 190)] * 8 + [(audience, 110)] * 8
    frames, _ = clip(scenes)
    truth = [tagged(singer, [0])] * 8 + [tagged(audience, [1])] * 8
    numbers = numbers_by_person(Pipeline(*shared_parts), frames, truth)
    assert len(numbers[0]) == len(numbers[1]) == 1 and numbers[0] != numbers[1]


def test_two_faces_that_meet_and_turn_back_keep_their_numbers(shared_parts):
    # They walk into each other, Hopper in front hides Collins, and each goes back the way it came:
    # boxes moved on by their velocities would hand each number to the other face.
    steps = [*range(0, 11), *range(10, -1, -1)]
    scenes, truth = [], []
    for step in steps:
        placements = [("astronaut", 100 + 15 * step, 110, 110), ("grace_hopper", 400 - 15 * step, 110, 110)]
        scenes.append((placements, 190))
        truth.append(tagged(placements, [0, 1]))
    frames, shown = clip(scenes)
    assert min(len(boxes) for boxes in shown) == 1  # Collins is hidden for a while
    numbers = numbers_by_person(Pipeline(TruthDetector(shown), shared_parts[1]), frames, truth)
    assert len(numbers[0]) == len(numbers[1]) == 1 and numbers[0] != numbers[1]


def test_a_face_that_leaves_and_comes_back_keeps_its_number(shared_parts):
    here, back = [("astronaut", 80, 100, 120)], [("astronaut", 420, 120, 110)]
    scenes = [(here, 190)] * 10 + [([], 190)] * 40 + [(back, 190)] * 10  # away longer than the patience
    frames, _ = clip(scenes)
    truth = [tagged(here, [0])] * 10 + [[]] * 40 + [tagged(back, [0])] * 10
    numbers = numbers_by_person(Pipeline(*shared_parts), frames, truth)
    assert numbers == {0: {0}}


def test_another_person_arriving_after_an_exit_gets_a_new_number(shared_parts):
    here, other = [("astronaut", 80, 100, 120)], [("grace_hopper", 80, 100, 120)]
    scenes = [(here, 190)] * 10 + [([], 190)] * 40 + [(other, 190)] * 10
    frames, _ = clip(scenes)
    truth = [tagged(here, [0])] * 10 + [[]] * 40 + [tagged(other, [1])] * 10
    numbers = numbers_by_person(Pipeline(*shared_parts), frames, truth)
    assert numbers == {0: {0}, 1: {1}}


def test_the_pipeline_runs_the_classifier_graph_once_per_frame_for_probabilities_and_embeddings(shared_parts):
    classifier = EmotionClassifier()
    session = classifier._session

    class CountingSession:
        runs: list[list[str]] = []

        def run(self, outputs, feed):
            self.runs.append(list(outputs))
            return session.run(outputs, feed)

        def __getattr__(self, name):
            return getattr(session, name)

    counting = CountingSession()
    classifier._session = counting
    placements = [("astronaut", 80, 100, 120), ("grace_hopper", 400, 100, 120)]
    frames, shown = clip([(placements, 190)] * 3)
    results = [Pipeline(TruthDetector(shown), classifier, confirm_frames=1).process(frame) for frame in frames[:1]]
    assert len(counting.runs) == 1 and sorted(counting.runs[0]) == ["embedding", "logits"]
    faces = results[0].faces
    assert faces.probs.shape == (2, 7) and faces.embeddings.shape == (2, 512)


def test_shot_changes_tell_a_jump_from_a_still_shot_and_a_change_of_light():
    from emocap.tracking.shots import CUT, JUMP, STEADY, ShotChangeDetector

    shots = ShotChangeDetector()
    frame, _, _ = placed_faces(WIDTH, HEIGHT, [("astronaut", 250, 100, 120)], background=190)
    other, _, _ = placed_faces(WIDTH, HEIGHT, [("grace_hopper", 60, 60, 200)], background=60)
    darker = (frame * 0.8).astype(np.uint8)
    noise = np.random.default_rng(0).normal(0, 20, frame.shape).astype(np.float32)
    noisy = np.clip(darker + noise, 0, 255).astype(np.uint8)
    assert [shots.update(f) for f in (frame, frame, darker, noisy, other)] == [STEADY, STEADY, STEADY, STEADY, JUMP]
    inverted = 255 - other
    assert shots.update(inverted) == CUT
    shots.reset()
    assert shots.update(frame) == STEADY


def test_without_embeddings_a_cut_still_ends_every_track():
    from emocap.tracking import AppearanceTracker
    from emocap.tracking.shots import CUT

    tracker = AppearanceTracker()
    faces = Faces(boxes=np.array([[10, 10, 110, 110]], np.float32), scores=np.ones(1, np.float32))
    assert [tracker.update(faces).track_ids.tolist() for _ in range(2)] == [[0], [0]]
    assert tracker.update(faces, shot=CUT).track_ids.tolist() == [1]
    tracker.reset()
    assert tracker.update(faces).track_ids.tolist() == [0]


@pytest.mark.parametrize(("options", "message"), [
    ({"reid_min_cosine": 1.5}, "reid_min_cosine"), ({"reid_min_cosine": "0.9"}, "reid_min_cosine"),
    ({"remember_frames": -1}, "remember_frames"), ({"remember_frames": 2.5}, "remember_frames"),
])
def test_appearance_tracker_options_are_checked(options, message):
    from emocap.tracking import AppearanceTracker

    with pytest.raises(ValueError, match=message):
        AppearanceTracker(**options)


@pytest.mark.parametrize(("options", "message"), [
    ({"jump_change": 0}, "jump_change"), ({"cut_change": 300}, "cut_change"),
    ({"jump_change": 20, "cut_change": 10}, "cut_change"),
])
def test_shot_change_options_are_checked(options, message):
    from emocap.tracking import ShotChangeDetector

    with pytest.raises(ValueError, match=message):
        ShotChangeDetector(**options)
