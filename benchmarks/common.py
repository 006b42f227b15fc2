"""What the benchmarks share: the report each ends with, the drifting portraits the speed benchmarks
time, the pipeline they build, and the simulated videos of the caption benchmarks.

Benchmarks run as `python benchmarks/NAME.py` from the repository root. Python puts a script's own
folder first on sys.path, so `from common import ...` finds this file with no path set by hand; the
faces themselves come from `emocap_testkit.faces` (beside the package, out of what `pip install .`
installs), as the tests' do.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from emocap.atomic import atomic_json
from emocap.datasets import FerData
from emocap.errors import EmocapError
from emocap.evaluation.fer_scores import labels_in_model_order
from emocap.onnx_session import cpu_features
from emocap_testkit.faces import portrait

if TYPE_CHECKING:
    from emocap.classifier import EmotionClassifier

# --- the report ---------------------------------------------------------------------------------


def save_report(path: str | None, report: dict) -> int:
    """Print the CPU, write `report` (with it) to `path` (nothing when path is None); return the exit code."""
    report = {**report, "cpu": cpu_features().describe()}
    # The same code ran 2-5x slower, and int8 models once less accurately, on CPUs without AVX-512 / VNNI.
    print(f"measured on: {report['cpu']}")
    if not path:
        return 0
    try:
        atomic_json(path, report)
    except EmocapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"saved {path}")
    return 0


def one_line_errors(main, argv=None) -> int:
    """`main(argv)`'s exit code, with an EmocapError (data or a model that cannot be read, a bad video) said
    in one line and exit code 2, as the emocap commands say theirs."""
    try:
        return main(argv)
    except EmocapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


# --- a teacher, as training runs it ----------------------------------------------------------------


def mirrored_teacher(path: str):
    """The model at `path` (a checkpoint or an exported graph) as `emocap train --teacher PATH --teacher-views
    mirrored` scores each augmented batch: (logits, embedding) of each face averaged with its mirror image.
    EmocapError quoting it where it is no seven-class model of the default input."""
    from emocap.preprocessing import Preprocess
    from emocap.training.config import resolve_preset
    from emocap.training.trainer import teacher_network

    config = resolve_preset("fer-best", teachers=(path,), teacher_views="mirrored", teacher_weight=0.7, mix_prob=0.0)
    try:
        return teacher_network(config, path, Preprocess())
    except ValueError as error:
        raise EmocapError(str(error)) from None


# --- frames of real faces, and the pipeline that reads them ----------------------------------------

HEADS = {"astronaut": (90, 0, 370, 330), "grace_hopper": (60, 40, 460, 460)}
"""Head-and-shoulders crops (x1, y1, x2, y2) of the two portraits that `grid_frames` tiles."""


def grid_frames(faces: int, size: tuple[int, int], count: int) -> list[np.ndarray]:
    """`count` frames of `size` with `faces` portraits in a grid, each drifting a few pixels per frame."""
    width, height = size
    columns = int(np.ceil(np.sqrt(faces * width / height)))
    rows = int(np.ceil(faces / columns))
    cell_w, cell_h = width // columns, height // rows
    heads = [portrait(name, crop) for name, crop in HEADS.items()]
    # Each portrait fills 80% of its cell, leaving room for the drift.
    scales = [0.8 * min(cell_w / head.shape[1], cell_h / head.shape[0]) for head in heads]
    tiles = [
        cv2.resize(heads[i % 2], None, fx=scales[i % 2], fy=scales[i % 2], interpolation=cv2.INTER_AREA)
        for i in range(faces)
    ]
    frames = []
    for t in range(count):
        frame = np.full((height, width, 3), (150, 165, 180), np.uint8)
        for i, tile in enumerate(tiles):
            row, column = divmod(i, columns)
            slack_x, slack_y = cell_w - tile.shape[1], cell_h - tile.shape[0]
            x = column * cell_w + int(slack_x * (0.5 + 0.4 * np.sin(0.05 * t + i)))
            y = row * cell_h + int(slack_y * (0.5 + 0.4 * np.cos(0.04 * t + i)))
            frame[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
        frames.append(frame)
    return frames


def make_pipeline(args, detect_every: int = 1, full_scan_every: int | None = None):
    """The pipeline of `args.model`, `args.detector`, `args.min_face_size` and `args.mirror` where the
    benchmark has it (the timed benchmarks' options)."""
    from emocap.defaults import DEFAULT_FULL_SCAN_EVERY
    from emocap.pipeline import Pipeline

    return Pipeline(model=args.model, detector=args.detector, min_face_size=args.min_face_size,
                    detect_every=detect_every, full_scan_every=full_scan_every or DEFAULT_FULL_SCAN_EVERY,
                    mirror=getattr(args, "mirror", True))


# --- simulated videos of people whose emotion changes ---------------------------------------------

@dataclass(frozen=True)
class Video:
    """A simulated recording of `people` faces over `frames` frames."""

    truth: np.ndarray  # int64 (people, frames): the true class
    present: np.ndarray  # bool (people, frames): the face was detected
    probs: np.ndarray  # float32 (people, frames, k): classifier output (zeros when absent)
    fps: float

    @property
    def minutes(self) -> float:
        return self.truth.shape[1] / self.fps / 60


def add_video_options(parser: argparse.ArgumentParser, *, people: int, seconds: float) -> None:
    """The options of the simulated video (`simulate`), with these defaults for people and seconds."""
    parser.add_argument("--people", type=int, default=people)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--dropout-start", type=float, default=0.02)
    parser.add_argument("--dropout-max", type=int, default=10)


def checked_video_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    for name in ("people", "seconds", "fps", "dropout_max"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)!r}")
    if not 0 <= args.dropout_start < 1:
        parser.error(f"--dropout-start must be in [0, 1), got {args.dropout_start!r}")
    return args


def in_model_order(data: FerData, classifier: EmotionClassifier) -> FerData:
    """The faces with labels indexing the classifier's classes, so truth and predictions share one order."""
    return FerData(data.images, labels_in_model_order(data, classifier.labels), data.files, tuple(classifier.labels))


def classifier_and_test_faces(model: str | None, data: str) -> tuple[EmotionClassifier, dict[str, FerData]]:
    """The classifier of `model` (None: the built-in one) and FER2013's PublicTest and PrivateTest faces in
    its class order; EmocapError when either cannot be read."""
    from emocap.classifier import EmotionClassifier
    from emocap.datasets import load_fer2013

    classifier = EmotionClassifier(model)
    return classifier, {split: in_model_order(load_fer2013(data, split), classifier) for split in ("PublicTest", "PrivateTest")}


def segment_classes(rng, people: int, frames: int, fps: float, num_classes: int) -> np.ndarray:
    truth = np.empty((people, frames), np.int64)
    for person in range(people):
        start, previous = 0, -1
        while start < frames:
            length = int(rng.integers(round(1 * fps), round(4 * fps) + 1))
            choice = int(rng.integers(num_classes - 1 if previous >= 0 else num_classes))
            previous = choice + (previous >= 0 and choice >= previous)
            truth[person, start : start + length] = previous
            start += length
    return truth


def dropouts(rng, people: int, frames: int, start_probability: float, longest: int) -> np.ndarray:
    present = np.ones((people, frames), bool)
    for person, start in zip(*np.nonzero(rng.random((people, frames)) < start_probability)):
        present[person, start : start + int(rng.integers(1, longest + 1))] = False
    return present


def random_face_of_class(rng, data: FerData, classes: np.ndarray) -> np.ndarray:
    """For each entry of `classes`, the index of a random face of that class."""
    order = np.argsort(data.labels, kind="stable")
    counts = np.bincount(data.labels, minlength=int(classes.max()) + 1)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pick = (rng.random(classes.shape) * counts[classes]).astype(np.int64)
    return order[first[classes] + pick]


def jittered(rng, face: np.ndarray) -> np.ndarray:
    size = face.shape[0]
    angle, scale = rng.uniform(-4, 4), rng.uniform(0.94, 1.06)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-2, 2, size=2)
    moved = cv2.warpAffine(face, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
    return np.clip(moved.astype(np.float32) * rng.uniform(0.9, 1.1) + rng.uniform(-10, 10), 0, 255).astype(np.uint8)


def simulate(mode: str, seed: int, data: FerData, data_probs: np.ndarray, classifier, args) -> Video:
    """One clip of `args.people` people (the `add_video_options` options): "independent", a random face of
    the true class in every frame, or "jitter", one face a segment moved and relit a little each frame."""
    rng = np.random.default_rng(seed)
    frames = int(round(args.seconds * args.fps))
    truth = segment_classes(rng, args.people, frames, args.fps, data_probs.shape[1])
    present = dropouts(rng, args.people, frames, args.dropout_start, args.dropout_max)
    probs = np.zeros((*truth.shape, data_probs.shape[1]), np.float32)
    if mode == "independent":
        probs[present] = data_probs[random_face_of_class(rng, data, truth[present])]
        return Video(truth, present, probs, args.fps)
    segment_start = np.ones_like(present)
    segment_start[:, 1:] = truth[:, 1:] != truth[:, :-1]
    segment_face = random_face_of_class(rng, data, truth[segment_start])
    face_of_frame = segment_face[np.cumsum(segment_start.ravel()).reshape(truth.shape) - 1]
    images = np.stack([jittered(rng, data.images[index]) for index in face_of_frame[present]])
    probs[present] = np.concatenate(
        [classifier.predict(images[i : i + 1024]) for i in range(0, len(images), 1024)]
    )
    return Video(truth, present, probs, args.fps)


# --- long videos, built from the bundled clip -------------------------------------------------------

def build_clip(path: Path, seconds: float, *, offset_frames: int = 0) -> float:
    """The sample clip on a loop for `seconds`, from its frame `offset_frames`; its length in seconds.
    An existing file of that length is kept."""
    from emocap.outputs.video import AnnotatedVideoWriter
    from emocap.sources import open_path, sample_clip

    with open_path(sample_clip()) as source:
        fps, size = source.fps, source.size
        frames = [frame.image_bgr for frame in source]
    count = round(seconds * fps)
    if path.exists():
        with open_path(path) as existing:
            if existing.frame_count == count:
                return count / fps
    path.parent.mkdir(parents=True, exist_ok=True)
    with AnnotatedVideoWriter(path, fps=fps, frame_size=size) as video:
        for i in range(count):
            video.write(frames[(offset_frames + i) % len(frames)], i / fps)
    return count / fps


def process_tree(root: int) -> list[int]:
    """`root` and every process under it (Ray's services and workers under the command that started them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdecimal():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree
