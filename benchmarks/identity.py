"""Face numbers across cuts, crossings and exits: ID switches and numbers per person, IoU tracking against appearance.

Clips are built from real portraits: the two public-domain photos of
emocap_testkit.faces (Eileen Collins, Grace Hopper) and FER2013 PrivateTest
faces (48x48 grey, enlarged to 100 px), on smooth random backgrounds, 640x360 at
30 fps. The boxes are the true ones (jittered by a pixel or two; a face counts as
detected while most of its box shows), so the tracker alone is measured; each
face is classified by the real model, whose embeddings are its looks.

  cut      person A (shot 1), a cut to person B where A was (shot 2), a cut back to A
  plain    the same on plain grey walls: only the face changes at the cut
  cross    A walks right, B walks left in front of A and hides it, both walk on
  turn     the same, but they meet and go back the way they came
  exit     A walks out of the right edge, stays away 2 s and comes back from the left; B stays

Printed per kind of clip, for the pipeline as on main (IouTracker: boxes and
velocities) and as now (AppearanceTracker with ShotChangeDetector):
  switches   times a shown number passes from one person to another
  numbers    numbers shown per person (1 is best)
and the measurements the thresholds come from: thumbnail change within shots and
at cuts, cosines of a person's running look with their own and others' faces, and
the classifier's time per face for probabilities and embeddings from two runs and from one,
and how alike the embeddings of different people with the same expression are.

    python benchmarks/identity.py --data fer2013/ [--pairs 8]

--data is FER2013 as the Kaggle folders: its test/<class>/PrivateTest_*.jpg faces are read.
"""

from __future__ import annotations

import argparse
import glob
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from emocap.classifier import EmotionClassifier
from emocap.geometry import iou_matrix
from emocap.pipeline import Pipeline
from emocap.sources import open_path, sample_clip
from emocap.tracking import IouTracker, TrackConfirmation
from emocap.tracking.appearance import DEFAULT_REID_MIN_COSINE, SAME_LOOK_MIN_COSINE, unit_rows
from emocap.tracking.shots import DEFAULT_CUT_CHANGE, DEFAULT_JUMP_CHANGE, thumbnail, thumbnail_change
from emocap.types import Faces
from emocap_testkit.faces import face_patch, placed_faces

WIDTH, HEIGHT, SIDE = 640, 360, 100
KINDS = ("cut", "plain", "cross", "turn", "exit")
EXPRESSION_FACES = 300


def private_test_files(data: str) -> list[str]:
    """The PrivateTest faces of FER2013's Kaggle folders, in name order."""
    test = Path(data) / "test"
    files = sorted(glob.glob(str(test / "*" / "PrivateTest_*.jpg")))
    if not files:
        raise SystemExit(f"error: no FER2013 PrivateTest faces under {str(test)!r} (--data takes the Kaggle folders)")
    return files


def people(files: list[str], count: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Name -> (BGR image, face box in it): the two photos and `count` - 2 of the PrivateTest `files`."""
    found = {name: face_patch(name) for name in ("astronaut", "grace_hopper")}
    for index in np.random.default_rng(seed).choice(len(files), count - 2, replace=False):
        face = cv2.cvtColor(cv2.imread(files[index], cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2BGR)
        found[Path(files[index]).stem] = (face, np.array([0.0, 0.0, 48.0, 48.0]))
    return found


def background(seed: int | None) -> np.ndarray | int:
    """A smooth random colour field (a room, a stage), or a plain grey wall for None."""
    if seed is None:
        return 170
    coarse = np.random.default_rng(seed).uniform(20, 235, (5, 8, 3)).astype(np.float32)
    field = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(cv2.GaussianBlur(field, (0, 0), 15), 0, 255).astype(np.uint8)


def script(kind: str, a: str, b: str, seed: int) -> list[tuple[list, object]]:
    """(placements, background) per frame of one clip of persons `a` and `b`."""
    if kind in ("cut", "plain"):
        walls = (background(None), background(None)) if kind == "plain" else (background(seed), background(seed + 1000))
        shot = lambda who, wall, dx: [([(who, 260 + dx + t / 3, 120, SIDE)], wall) for t in range(45)]  # noqa: E731
        return shot(a, walls[0], 0) + shot(b, walls[1], 8) + shot(a, walls[0], 15)
    wall = background(seed)
    if kind in ("cross", "turn"):
        steps = [*range(0, 40)] if kind == "cross" else [*range(0, 20), *range(20, -1, -1)]
        return [([(a, 60 + 12 * s, 120, SIDE), (b, 480 - 12 * s, 130, SIDE)], wall) for s in steps]
    frames = []
    for t in range(20):  # A walks out of the right edge while B stands
        frames.append(([(a, 420 + 12 * t, 120, SIDE), (b, 120, 130, SIDE)], wall))
    frames += [([(b, 120, 130, SIDE)], wall)] * 60
    for t in range(30):  # ...and comes back from the left of B
        frames.append(([(b, 120, 130, SIDE), (a, 250 + 4 * t, 110, SIDE)], wall))
    return frames


def render(frames_script, patches, rng):
    """Frames, and per frame the (jittered) detected boxes with their person's name."""
    frames, truth = [], []
    for placements, wall in frames_script:
        frame, boxes, visible = placed_faces(WIDTH, HEIGHT, placements, background=wall, patches=patches)
        shown = visible >= 0.5
        jittered = boxes[shown] + rng.uniform(-1.5, 1.5, (int(shown.sum()), 4))
        frames.append(frame)
        truth.append((jittered.astype(np.float32), [p[0] for p, s in zip(placements, shown) if s]))
    return frames, truth


class TruthDetector:
    searches_near = False  # the truth is given for every frame: nothing to search near

    def __init__(self, truth):
        self.truth, self.calls = truth, 0

    def detect(self, frame):
        boxes = self.truth[self.calls][0]
        self.calls += 1
        return Faces(boxes=boxes, scores=np.full(len(boxes), 0.99, np.float32))


class BoxesOnly:
    """The tracker as on main: IoU and velocities, no cuts, no looks."""

    def __init__(self, patience_frames: int):
        self.tracker = IouTracker(patience_frames=patience_frames)

    def update(self, faces, shot=0):
        return self.tracker.update(faces)

    def reset(self):
        self.tracker.reset()


def pipeline_for(way: str, truth, classifier) -> Pipeline:
    pipeline = Pipeline(TruthDetector(truth), classifier, min_face_size=0)
    if way == "before":
        captioning = pipeline.captioning
        captioning.tracker = BoxesOnly(pipeline.config.patience_frames)
        captioning.confirmation = TrackConfirmation(captioning.confirmation.confirm_frames, pipeline.config.patience_frames)
    return pipeline


def numbers_shown(pipeline: Pipeline, frames, truth) -> list[tuple[int, str]]:
    """(number, person) of every face shown, frame after frame."""
    shown = []
    for index, (frame, (boxes, names)) in enumerate(zip(frames, truth)):
        faces = pipeline.process(frame, index / 30).faces
        if len(faces) and len(boxes):
            overlap = iou_matrix(boxes, faces.boxes)
            for row, column in zip(*np.nonzero(overlap >= 0.5)):
                shown.append((int(faces.track_ids[column]), names[row]))
    return shown


def score(shown: list[tuple[int, str]]) -> tuple[int, dict[str, set[int]]]:
    """Switches (a number seen on one person, then on another) and the numbers each person got."""
    last: dict[int, str] = {}
    switches, numbers = 0, defaultdict(set)
    for number, person in shown:
        switches += number in last and last[number] != person
        last[number] = person
        numbers[person].add(number)
    return switches, numbers


def run_clips(args, patches, classifier) -> dict:
    """Switches and numbers per person by kind and way, plus thumbnail changes and looks for the thresholds."""
    names = list(patches)
    rng = np.random.default_rng(args.seed)
    table = {(kind, way): [0, 0, 0] for kind in KINDS for way in ("before", "after")}  # switches, numbers, persons
    changes = {"within": [], "cut": [], "plain cut": []}
    for pair in range(args.pairs):
        a, b = names[2 * pair % len(names)], names[(2 * pair + 1) % len(names)]
        for kind in KINDS:
            frames, truth = render(script(kind, a, b, args.seed + pair), patches, rng)
            thumbs = [thumbnail(frame) for frame in frames]
            for index in range(1, len(frames)):
                at_cut = kind in ("cut", "plain") and index % 45 == 0
                key = ("plain cut" if kind == "plain" else "cut") if at_cut else "within"
                changes[key].append(thumbnail_change(thumbs[index - 1], thumbs[index]))
            for way in ("before", "after"):
                switches, numbers = score(numbers_shown(pipeline_for(way, truth, classifier), frames, truth))
                row = table[(kind, way)]
                row[0] += switches
                row[1] += sum(len(n) for n in numbers.values())
                row[2] += len(numbers)
    return {"table": table, "changes": changes}


def looks(patches, classifier, rng, views: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of each person's running look (mean of `views` jittered views) with another view of
    themselves, and with views of everyone else."""
    crops, owners = [], []
    for owner, (patch, face) in enumerate(patches.values()):
        for _ in range(views + 1):
            scale = SIDE / (face[2:] - face[:2]).max() * rng.uniform(0.9, 1.1)
            image = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            image = np.clip(image * rng.uniform(0.8, 1.2) + rng.uniform(-15, 15), 0, 255).astype(np.uint8)
            box = (face * scale + rng.uniform(-3, 3, 4))[None].astype(np.float32)
            crops.append(classifier.look_at_boxes(image, box)[1][0])
            owners.append(owner)
    embeddings, owners = unit_rows(np.stack(crops)), np.array(owners)
    probe = np.arange(len(owners)) % (views + 1) == views
    means = unit_rows(np.stack([embeddings[(owners == k) & ~probe].mean(axis=0) for k in range(owners.max() + 1)]))
    cosines = embeddings[probe] @ means.T
    same = np.eye(len(means), dtype=bool)
    return cosines[same], cosines[~same]


def expression_cosines(classifier, files: list[str], count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of the embeddings of pairs of `count` PrivateTest faces (different people): pairs labelled with
    the same expression, and pairs with different ones. The model is trained on expressions, not people."""
    chosen = [files[i] for i in np.random.default_rng(seed + 1).choice(len(files), count, replace=False)]
    gray = np.stack([cv2.imread(path, cv2.IMREAD_GRAYSCALE) for path in chosen])
    embeddings = unit_rows(classifier.predict_and_embed(gray)[1])
    labels = np.array([Path(path).parent.name for path in chosen])
    cosines = embeddings @ embeddings.T
    pairs = np.triu(np.ones_like(cosines, dtype=bool), 1)
    same = labels[:, None] == labels[None, :]
    return cosines[pairs & same], cosines[pairs & ~same]


def classifier_times(classifier, patches, faces: int = 4, repeats: int = 200) -> tuple[float, float]:
    """ms per face for probabilities and embeddings: classify_boxes + embed (two runs), look_at_boxes (one)."""
    frame, boxes, _ = placed_faces(
        WIDTH, HEIGHT, [(name, 20 + 150 * i, 120, SIDE) for i, name in enumerate(list(patches)[:faces])], patches=patches
    )
    boxes = boxes.astype(np.float32)
    from emocap.preprocessing import crop_faces

    def two_runs():
        classifier.classify_boxes(frame, boxes)
        classifier.embed(crop_faces(frame, boxes, size=classifier.preprocess.size))

    timed = []
    for work in (two_runs, lambda: classifier.look_at_boxes(frame, boxes)):
        work()
        start = time.perf_counter()
        for _ in range(repeats):
            work()
        timed.append((time.perf_counter() - start) * 1000 / repeats / faces)
    return timed[0], timed[1]


def sample_clip_changes() -> list[float]:
    with open_path(sample_clip()) as source:
        thumbs = [thumbnail(frame.image_bgr) for frame in source]
    return [thumbnail_change(a, b) for a, b in zip(thumbs, thumbs[1:])]


def report(measured: dict, same: np.ndarray, other: np.ndarray, times: tuple[float, float], clip_changes, expressions) -> None:
    print(f"{'clip':<6} {'way':<7} {'switches':>8} {'numbers/person':>15}")
    for (kind, way), (switches, numbers, persons) in measured["table"].items():
        print(f"{kind:<6} {way:<7} {switches:>8} {numbers / max(persons, 1):>15.2f}")
    changes = measured["changes"]
    print(f"thumbnail change within shots: max {max(changes['within']):.1f} (built clips), "
          f"{max(clip_changes):.1f} (bundled clip, pans); jump above {DEFAULT_JUMP_CHANGE:g}, cut above {DEFAULT_CUT_CHANGE:g}")
    for key in ("cut", "plain cut"):
        values = np.array(changes[key])
        print(f"  at a {key}: min {values.min():.1f}, median {np.median(values):.1f}; "
              f"jumps {int((values > DEFAULT_JUMP_CHANGE).mean() * 100)}%, cuts {int((values > DEFAULT_CUT_CHANGE).mean() * 100)}%")
    print(f"look cosines (running mean of 8 views against a new view): same person median {np.median(same):.3f}, "
          f"5th percentile {np.percentile(same, 5):.3f}; other people median {np.median(other):.3f}, "
          f"99th percentile {np.percentile(other, 99):.3f}, max {other.max():.3f}")
    for name, threshold in (("same look after a jump", SAME_LOOK_MIN_COSINE), ("re-identification", DEFAULT_REID_MIN_COSINE)):
        print(f"  {name} at >= {threshold}: same person passes {(same >= threshold).mean():.0%}, "
              f"another person passes {(other >= threshold).mean():.1%}")
    print(f"embedding cosines of {EXPRESSION_FACES} PrivateTest faces (different people): same expression median "
          f"{np.median(expressions[0]):.3f}, different expressions median {np.median(expressions[1]):.3f}")
    print(f"classifier ms per face (4 faces a batch): probabilities + embeddings in two runs {times[0]:.3f}, in one {times[1]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER2013 as the Kaggle folders (its test/ PrivateTest faces)")
    parser.add_argument("--pairs", type=int, default=8, help="pairs of people per kind of clip (default: 8)")
    parser.add_argument("--people", type=int, default=40, help="people for the look cosines (default: 40)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classifier = EmotionClassifier(threads=1)  # one core: the figures do not depend on what else the machine runs
    files = private_test_files(args.data)
    patches = people(files, max(args.people, 2 * args.pairs), args.seed)
    started = time.perf_counter()
    measured = run_clips(args, patches, classifier)
    same, other = looks(patches, classifier, np.random.default_rng(args.seed))
    expressions = expression_cosines(classifier, files, EXPRESSION_FACES, args.seed)
    report(measured, same, other, classifier_times(classifier, patches), sample_clip_changes(), expressions)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
