"""Tiny FER2013 copies, in each form the loaders accept, built by the tests themselves, and FER+
votes in the shared labels.csv form.

Plain functions (imported like `frame_fixtures`); the pytest fixtures
that share their results between test files live in `conftest.py`.

The faces are smooth random blobs rather than noise: JPEG keeps them almost
exactly (so the JPEG formats can be compared with a small tolerance), and a
network sees inputs with the low-frequency structure of real faces.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from emocap.labels import FER2013_LABELS
from emocap.votes import VOTE_COLUMNS

FACE_SIZE = 48
PACK_FACES_PER_ROW = 128
JPEG_TOLERANCE = 3
"""Largest pixel change allowed after a quality-100 JPEG of these smooth faces (measured: 1).
Two different faces differ by tens of levels, so a misplaced face cannot pass."""

# CSV label ids as the original Kaggle file documents them, written out here rather than taken
# from emocap.labels so that the loader's mapping is checked against the documentation.
CSV_ID_TO_NAME = {0: "angry", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}
CSV_USAGES = ("Training", "PublicTest", "PrivateTest")  # the Usage column: train, then the two test halves


def smooth_faces(count: int, seed: int = 0) -> np.ndarray:
    """uint8 (count, 48, 48): random 6x6 grids enlarged with cubic interpolation, then blurred."""
    rng = np.random.default_rng(seed)
    faces = np.empty((count, FACE_SIZE, FACE_SIZE), np.uint8)
    for i in range(count):
        coarse = rng.uniform(30, 225, (6, 6)).astype(np.float32)
        face = cv2.resize(coarse, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_CUBIC)
        face = cv2.GaussianBlur(face, (0, 0), 2.0)
        faces[i] = np.clip(face, 0, 255).round().astype(np.uint8)
    return faces


def write_image(path: Path, image: np.ndarray) -> None:
    """PNG (lossless) or JPEG at quality 100, chosen by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 100] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(path.suffix, image, params)
    assert ok, f"cannot encode {path}"
    encoded.tofile(path)


def write_fer_folder(
    root: Path,
    *,
    train_per_class: int = 2,
    public_per_class: int = 1,
    private_per_class: int = 1,
    class_folders: tuple[str, ...] = FER2013_LABELS,
    suffix: str = ".png",
    seed: int = 0,
) -> dict[str, dict[str, tuple[np.ndarray, int]]]:
    """A Kaggle folder tree: root/train/<class>/Training_<n>, root/test/<class>/PublicTest_<n> | PrivateTest_<n>.

    `class_folders[i]` is the folder name used for FER2013_LABELS[i] (any spelling).
    Returns, per part ("train", "test"), "<class folder>/<file name>" -> (face, index into FER2013_LABELS),
    which is how `FerData.files` names each face.
    """
    assert len(class_folders) == len(FER2013_LABELS)
    per_class = {
        "train": {"Training": train_per_class},
        "test": {"PublicTest": public_per_class, "PrivateTest": private_per_class},
    }
    total = len(FER2013_LABELS) * (train_per_class + public_per_class + private_per_class)
    faces = iter(smooth_faces(total, seed))
    written: dict[str, dict[str, tuple[np.ndarray, int]]] = {"train": {}, "test": {}}
    for label, folder in enumerate(class_folders):
        for part, prefixes in per_class.items():
            for prefix, count in prefixes.items():
                for n in range(count):
                    # Numbers unique across classes, as in the Kaggle copy.
                    name = f"{prefix}_{label * 100 + n}{suffix}"
                    face = next(faces)
                    write_image(root / part / folder / name, face)
                    written[part][f"{folder}/{name}"] = (face, label)
    return written


def fer_csv_rows(faces_per_split: int = 2, seed: int = 0) -> list[tuple[int, np.ndarray, str]]:
    """(csv label id, face, Usage) rows covering every CSV label id in every split, in file order."""
    rows = []
    faces = iter(smooth_faces(len(CSV_ID_TO_NAME) * faces_per_split * len(CSV_USAGES), seed))
    for usage in CSV_USAGES:
        for label_id in CSV_ID_TO_NAME:
            for _ in range(faces_per_split):
                rows.append((label_id, next(faces), usage))
    return rows


def write_fer_csv(path: Path, rows, columns: tuple[str, ...] = ("emotion", "pixels", "Usage")) -> Path:
    """The original CSV. A row's face may be a uint8 (48, 48) array or the pixel text itself
    (to write malformed rows); its label id may be any value."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(columns)
        for label_id, face, usage in rows:
            pixels = face if isinstance(face, str) else " ".join(str(int(v)) for v in face.ravel())
            values = {"emotion": label_id, "pixels": pixels, "Usage": usage}
            writer.writerow([values.get(column, "") for column in columns])
    return path


def write_fer_pack(root: Path, part: str, faces: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    """One split of the mosaic pack: <part>.jpg (128 faces a row, row-major, the last row padded
    with black), <part>_labels.npy and <part>_files.txt (one name a line)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = -(-len(faces) // PACK_FACES_PER_ROW)
    padded = np.zeros((rows * PACK_FACES_PER_ROW, FACE_SIZE, FACE_SIZE), np.uint8)
    padded[: len(faces)] = faces
    mosaic = padded.reshape(rows, PACK_FACES_PER_ROW, FACE_SIZE, FACE_SIZE).transpose(0, 2, 1, 3)
    write_image(root / f"{part}.jpg", mosaic.reshape(rows * FACE_SIZE, PACK_FACES_PER_ROW * FACE_SIZE))
    np.save(root / f"{part}_labels.npy", np.asarray(labels, np.int64))
    (root / f"{part}_files.txt").write_text("".join(f"{name}\n" for name in names))


def write_training_folder(root: Path) -> Path:
    """The dataset the training and export tests share: 7 classes x (2 train faces,
    1 PublicTest face, 1 PrivateTest face). 14 train faces make one batch of 8 an epoch:
    a ResNet18 step takes seconds on a busy 2-core CPU."""
    write_fer_folder(root, train_per_class=2, public_per_class=1, private_per_class=1, seed=1)
    return root


def write_labels_csv(path, rows):
    """The shared labels.csv form: file, usage and the ten votes (an empty vote row: no FER+ match)."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file", "usage", *VOTE_COLUMNS])
        for file, usage, votes in rows:
            writer.writerow([file, usage, *(votes if votes is not None else [""] * 10)])
    return path


def votes_for(column: str, count: int = 10, **others: int) -> list[int]:
    votes = dict.fromkeys(VOTE_COLUMNS, 0)
    votes.update({column: count, **others})
    return [votes[c] for c in VOTE_COLUMNS]
