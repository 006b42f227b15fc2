"""FER2013 in the forms found in the wild: Kaggle folders, the original CSV, the mosaic pack.

Every loader returns a `FerData` of uint8 faces (N, 48, 48) and label indices
into `FER2013_LABELS`, whatever the source's own class order or spelling.
Needs no PyTorch, so evaluation runs on the run-time install.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emocap.errors import DataError, first_line
from emocap.images import DEFAULT_MAX_IMAGE_SIDE, IMAGE_SUFFIXES, ImageError, check_picture_size, image_header
from emocap.labels import FER2013_CSV_IDS, FER2013_LABELS, canonical_label
from emocap.preprocessing import FER_SIZE

SPLITS = ("train", "test", "PublicTest", "PrivateTest")
PACK_FACES_PER_ROW = 128
"""Faces side by side in a row of a pack's mosaic."""
_CSV_USAGE = {"Training": "train", "PublicTest": "PublicTest", "PrivateTest": "PrivateTest"}


@dataclass(frozen=True)
class FerData:
    """images uint8 (N, 48, 48); labels int64 (N,) into `labels`; files: where each face came from."""

    images: np.ndarray
    labels: np.ndarray
    files: tuple[str, ...]
    labels_names: tuple[str, ...] = FER2013_LABELS

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"FerData.images must be uint8 (N, H, W), got {self.images.dtype} {self.images.shape}")
        if not (len(self.images) == len(self.labels) == len(self.files)):
            raise ValueError(
                f"FerData arrays disagree: {len(self.images)} images, {len(self.labels)} labels, {len(self.files)} files"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask_or_index) -> "FerData":
        index = np.arange(len(self))[mask_or_index]
        return FerData(self.images[index], self.labels[index], tuple(self.files[i] for i in index), self.labels_names)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.labels_names))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def split_mask(files, split: str) -> np.ndarray:
    """Which faces of a split's files belong to `split`: PublicTest and PrivateTest faces are
    told apart by their file names (`PublicTest_*`, as Kaggle's folders and our CSV loader name them);
    any other split takes every face."""
    if split not in ("PublicTest", "PrivateTest"):
        return np.ones(len(files), bool)
    return np.array([Path(name).name.startswith(f"{split}_") for name in files], bool)


def _select_test_part(data: FerData, split: str) -> FerData:
    """PublicTest / PrivateTest from the test folder, told apart by their file names."""
    if split not in ("PublicTest", "PrivateTest"):
        return data
    mask = split_mask(data.files, split)
    if not mask.any():
        raise DataError(
            f"no {split}_* files found in the test data; the file names do not tell PublicTest from PrivateTest"
        )
    return data.subset(mask)


def load_fer2013(path: str | Path, split: str = "test", *, max_side: int = DEFAULT_MAX_IMAGE_SIDE) -> FerData:
    """Load a split from a Kaggle folder tree, a FER2013 CSV or a mosaic pack folder; a folder's
    images larger than `max_side` pixels per side are refused from their headers."""
    _check_split(split)
    root = Path(path)
    if not root.exists():
        raise DataError(f"FER2013 data not found at {str(root)!r}")
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise DataError(f"{str(root)!r} is not a FER2013 CSV or folder")
        return load_fer2013_csv(root, split)
    if (root / "train_labels.npy").exists() or (root / "test_labels.npy").exists():
        return load_fer2013_pack(root, split)
    csvs = sorted(root.glob("*.csv"))
    if not (root / "train").is_dir() and not (root / "test").is_dir() and len(csvs) == 1:
        return load_fer2013_csv(csvs[0], split)
    return load_fer2013_folder(root, split, max_side=max_side)


def load_fer2013_folder(root: str | Path, split: str = "test", *, max_side: int = DEFAULT_MAX_IMAGE_SIDE) -> FerData:
    _check_split(split)
    root = Path(root)
    folder = root / ("train" if split == "train" else "test")
    if not folder.is_dir():
        raise DataError(f"missing folder {str(folder)!r} (expected train/ and test/ with one folder per class)")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir())
    if not class_dirs:
        raise DataError(f"no class folders in {str(folder)!r}")
    images, labels, files = [], [], []
    for class_dir in class_dirs:
        name = canonical_label(class_dir.name)
        if name is None:
            raise DataError(
                f"unknown class folder {str(class_dir)!r}; expected one of {', '.join(FER2013_LABELS)}"
            )
        label = FER2013_LABELS.index(name)
        for file in sorted(class_dir.iterdir()):
            if file.name.startswith(".") or not file.is_file():
                continue
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"not an image file: {str(file)!r}")
            images.append(_read_face(file, max_side))
            labels.append(label)
            files.append(f"{class_dir.name}/{file.name}")
    if not images:
        raise DataError(f"no images in {str(folder)!r}")
    data = FerData(np.stack(images), np.asarray(labels, np.int64), tuple(files))
    return _select_test_part(data, split)


def _read_face(file: Path, max_side: int) -> np.ndarray:
    raw = np.fromfile(file, np.uint8)
    try:  # the header's size, before cv2 takes the memory its pixels need
        _, width, height = image_header(raw.tobytes())
    except ImageError:  # no header Pillow reads: cv2 below says whether it is an image at all
        width = height = 0
    try:
        check_picture_size(width, height, max_side)
    except ImageError as error:
        raise DataError(f"cannot read face {str(file)!r}: {error}") from None
    image = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE) if raw.size else None
    if image is None:
        raise DataError(f"unreadable image: {str(file)!r}")
    if image.shape != (FER_SIZE, FER_SIZE):
        image = cv2.resize(image, (FER_SIZE, FER_SIZE), interpolation=cv2.INTER_AREA)
    return image


def load_fer2013_csv(file: str | Path, split: str = "test") -> FerData:
    """The original Kaggle CSV: columns emotion, pixels, Usage (label ids 0=angry ... 6=neutral)."""
    _check_split(split)
    file = Path(file)
    wanted = {"train": {"train"}, "test": {"PublicTest", "PrivateTest"}}.get(split, {split})
    images, labels, files = [], [], []
    try:
        with open(file, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            missing = {"emotion", "pixels"} - set(reader.fieldnames or ())
            if missing:
                raise DataError(f"{str(file)!r} is not a FER2013 CSV: missing column(s) {sorted(missing)}")
            for row in reader:
                line = reader.line_num
                usage = _CSV_USAGE.get((row.get("Usage") or "Training").strip())
                if usage is None:
                    raise DataError(f"{file}:{line}: unknown Usage {row.get('Usage')!r}")
                if usage not in wanted:
                    continue
                try:
                    label_id = int(row["emotion"])
                except (TypeError, ValueError):
                    raise DataError(f"{file}:{line}: label {row['emotion']!r} is not a number") from None
                if not 0 <= label_id < len(FER2013_CSV_IDS):
                    raise DataError(f"{file}:{line}: label id {label_id} is not in 0..6")
                try:
                    pixels = np.array((row["pixels"] or "").split(), dtype=np.int64)
                except ValueError:
                    raise DataError(f"{file}:{line}: pixel row has a value that is not a number") from None
                except OverflowError:  # a number beyond int64: out of 0..255 like any other, and quoted
                    huge = max((row["pixels"] or "").split(), key=len)
                    raise DataError(f"{file}:{line}: pixel values must be in 0..255, got {huge}") from None
                if pixels.size != FER_SIZE * FER_SIZE:
                    raise DataError(f"{file}:{line}: pixel row must hold {FER_SIZE * FER_SIZE} values, got {pixels.size}")
                if pixels.min() < 0 or pixels.max() > 255:
                    raise DataError(
                        f"{file}:{line}: pixel values must be in 0..255, got {pixels.min()}..{pixels.max()}"
                    )
                images.append(pixels.astype(np.uint8).reshape(FER_SIZE, FER_SIZE))
                labels.append(FER2013_LABELS.index(FER2013_CSV_IDS[label_id]))
                files.append(f"{usage}_{line}")
    except OSError as error:
        raise DataError(f"cannot read {str(file)!r}: {error.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{str(file)!r} is not a readable CSV: {error}") from None
    if not images:
        raise DataError(f"no {split} rows in {str(file)!r}")
    return FerData(np.stack(images), np.asarray(labels, np.int64), tuple(files))


def load_fer2013_pack(root: str | Path, split: str = "test") -> FerData:
    """The mosaic pack (one JPEG of 128 faces per row per split; see shared/data/README.md). The
    mosaic must be the size its labels make, checked from its header before its pixels are decoded
    (a 1 MB PNG can claim a gigabyte of them)."""
    _check_split(split)
    root = Path(root)
    part = "train" if split == "train" else "test"
    labels_file, mosaic_file, names_file = (root / f"{part}_labels.npy", root / f"{part}.jpg", root / f"{part}_files.txt")
    for needed in (labels_file, mosaic_file, names_file):
        if not needed.is_file():
            raise DataError(f"missing pack file {str(needed)!r}")
    labels = _read_pack_labels(labels_file)
    names = _read_pack_names(names_file)
    if len(names) != len(labels):
        raise DataError(f"pack {str(root)!r} is inconsistent: {len(labels)} labels, {len(names)} names")
    mosaic = _read_mosaic(mosaic_file, len(labels))
    rows = mosaic.shape[0] // FER_SIZE
    faces = mosaic.reshape(rows, FER_SIZE, PACK_FACES_PER_ROW, FER_SIZE).transpose(0, 2, 1, 3).reshape(-1, FER_SIZE, FER_SIZE)
    data = FerData(np.ascontiguousarray(faces[: len(labels)]), labels, names)
    return _select_test_part(data, split)


def _read_mosaic(file: Path, faces: int) -> np.ndarray:
    """A pack's mosaic as uint8 (rows x 48, 128 x 48): DataError, from its header, unless it is exactly
    the size `faces` faces make (128 a row, the last row padded), before a pixel is decoded."""
    width, height = PACK_FACES_PER_ROW * FER_SIZE, -(-faces // PACK_FACES_PER_ROW) * FER_SIZE
    try:
        data = file.read_bytes()
        _, header_width, header_height = image_header(data)
    except OSError as error:
        raise DataError(f"cannot read {str(file)!r}: {error.strerror or error}") from None
    except ImageError as error:
        raise DataError(f"{str(file)!r} is not a FER2013 pack mosaic: {error}") from None
    if (header_width, header_height) != (width, height):
        raise DataError(
            f"{str(file)!r} is not a FER2013 pack mosaic of its {faces} faces: {header_width}x{header_height} "
            f"pixels, where {PACK_FACES_PER_ROW} faces a row make {width}x{height}"
        )
    try:
        mosaic = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    except cv2.error:  # past OpenCV's own limit of 2^30 pixels (466,000 faces)
        mosaic = None
    if mosaic is None or mosaic.shape != (height, width):
        raise DataError(f"{str(file)!r} is not a FER2013 pack mosaic: its {width}x{height} pixels could not be decoded")
    return mosaic


def _read_pack_labels(file: Path) -> np.ndarray:
    """A pack's label file: a 1-D array of whole numbers into FER2013_LABELS, read without pickles
    (a pickle runs code when loaded). DataError naming the file and the bad value otherwise."""
    try:
        labels = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{str(file)!r}: not a NumPy array file without pickles ({first_line(error)})") from None
    if not isinstance(labels, np.ndarray) or labels.ndim != 1:
        raise DataError(f"{str(file)!r}: labels must be one list, got shape {getattr(labels, 'shape', None)}")
    if not np.issubdtype(labels.dtype, np.integer):  # bools and floats too: no class is 2.5 or True
        raise DataError(f"{str(file)!r}: labels must be whole numbers, got {labels.dtype}")
    if not len(labels):  # else every score is a mean of nothing, found only after the model has loaded
        raise DataError(f"{str(file)!r}: no labels: the pack holds no faces")
    outside = np.flatnonzero((labels < 0) | (labels >= len(FER2013_LABELS)))
    if len(outside):
        raise DataError(f"{str(file)!r}: label {labels[outside[0]]} (face {outside[0]}) is not in 0..{len(FER2013_LABELS) - 1}")
    return labels.astype(np.int64)


def _read_pack_names(file: Path) -> tuple[str, ...]:
    """A pack's face names, one a line, as UTF-8 text; DataError naming the file otherwise."""
    try:
        return tuple(file.read_bytes().decode("utf-8").split())
    except UnicodeDecodeError as error:
        raise DataError(f"{str(file)!r}: not a text file of face names (the byte at offset {error.start} is not UTF-8)") from None
    except OSError as error:
        raise DataError(f"cannot read {str(file)!r}: {error.strerror or error}") from None
