"""FER+ votes: ten annotators' labels for each FER2013 face (Barsoum et al., ICMI 2016, MIT licence).

Two files are read:

* the votes matched to the Kaggle folders (`ferplus/labels.csv` in the shared
  data: a `file` column, `train/angry/Training_10118481.jpg`, and the ten vote
  columns), keyed by the file's name;
* FER+'s own `fer2013new.csv` (`Usage`, `Image name` and the ten vote
  columns), one row per row of the original `fer2013.csv`, keyed by the
  original's CSV line as `load_fer2013` names the faces of a CSV; given the
  original too, the two must agree in length and split row for row.

`Votes.for_files(files)` gives each face's ten votes (NaN where there are none).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emocap.errors import DataError

VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)
"""FER+'s ten vote columns; the last two (unknown, not a face) are no emotion."""
EMOTION_COLUMNS = VOTE_COLUMNS[:8]
CLASS_OF_COLUMN: dict[str, str] = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad", "anger": "angry",
    "disgust": "disgust", "fear": "fear", "contempt": "contempt",
}
"""FER+'s names -> emocap's class names (FER2013's seven, and contempt)."""
_USAGE = {"Training": "train", "PublicTest": "PublicTest", "PrivateTest": "PrivateTest"}


@dataclass(frozen=True)
class Votes:
    """The ten votes of each face, keyed as `load_fer2013` names the faces (file name, or CSV usage_line)."""

    by_key: dict[str, np.ndarray | None]
    """None: the file is listed without votes (no FER+ match)."""
    source: str

    def __len__(self) -> int:
        return sum(votes is not None for votes in self.by_key.values())

    def for_files(self, files: tuple[str, ...]) -> np.ndarray:
        """float64 (n, 10): the votes of each face of `files`, a row of NaN where the file has none."""
        table = np.full((len(files), len(VOTE_COLUMNS)), np.nan)
        for row, name in enumerate(files):
            key = _key(name)
            votes = self.by_key[key] if key in self.by_key else self.by_key.get(Path(name).name)
            if votes is not None:
                table[row] = votes
        return table


def _key(file: str) -> str:
    """A face's class folder and file name: FER2013 has a few file names in two class folders."""
    return "/".join(Path(file).parts[-2:])


def load_votes(path: str | Path, *, original_csv: str | Path | None = None) -> Votes:
    """The votes of a `labels.csv` (folders) or of FER+'s `fer2013new.csv` (with `original_csv`, the
    fer2013.csv it belongs to, checked row for row). DataError with one line for anything else."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            fields = set(reader.fieldnames or ())
            missing = [column for column in VOTE_COLUMNS if column not in fields]
            if missing:
                raise DataError(f"{str(path)!r} is not a FER+ votes file: no column(s) {missing}")
            if "file" in fields:
                return Votes(_votes_by_file(reader, path), str(path))
            if "Usage" in fields:
                return Votes(_votes_by_csv_row(reader, path, original_csv), str(path))
            raise DataError(f"{str(path)!r} has neither a 'file' column (labels.csv) nor a 'Usage' one (fer2013new.csv)")
    except OSError as error:
        raise DataError(f"cannot read votes {str(path)!r}: {error.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{str(path)!r} is not a readable CSV: {error}") from None


def _vote_row(row: dict, path: Path, line: int) -> np.ndarray | None:
    """The ten votes of a row, or None where the face has none (no FER+ match)."""
    if not any((row.get(column) or "").strip() for column in VOTE_COLUMNS):
        return None
    try:
        votes = np.array([int(row[column] or 0) for column in VOTE_COLUMNS], np.int64)
    except ValueError:
        raise DataError(f"{path}:{line}: a vote that is not a whole number") from None
    if (votes < 0).any():
        raise DataError(f"{path}:{line}: a negative vote")
    return votes


def _votes_by_file(reader: csv.DictReader, path: Path) -> dict[str, np.ndarray | None]:
    """Votes keyed by class folder and file name, and by file name alone where that is unique."""
    votes: dict[str, np.ndarray | None] = {}
    names: dict[str, list[np.ndarray | None]] = {}
    for row in reader:
        if not (row.get("file") or "").strip():
            raise DataError(f"{path}:{reader.line_num}: no file name")
        key = _key(row["file"].strip())
        if key in votes:
            raise DataError(f"{path}:{reader.line_num}: file {key!r} appears twice")
        votes[key] = _vote_row(row, path, reader.line_num)
        names.setdefault(Path(key).name, []).append(votes[key])
    # By name alone too, for copies whose class folders are spelled otherwise ('anger' for 'angry'),
    # where the name is in one folder only.
    unique = {name: found[0] for name, found in names.items() if len(found) == 1}
    return {**unique, **votes}


def _votes_by_csv_row(reader: csv.DictReader, path: Path, original_csv: str | Path | None) -> dict[str, np.ndarray]:
    rows = [(row.get("Usage", "").strip(), _vote_row(row, path, reader.line_num)) for row in reader]
    if original_csv is not None:
        with Path(original_csv).open(newline="", encoding="utf-8") as stream:
            original = [(row.get("Usage") or "Training").strip() for row in csv.DictReader(stream)]
        if len(original) != len(rows):
            raise DataError(
                f"{str(path)!r} has {len(rows)} rows but {str(original_csv)!r} has {len(original)}: "
                "fer2013new.csv must follow fer2013.csv row for row"
            )
        for index, (usage, expected) in enumerate(zip((usage for usage, _ in rows), original)):
            if usage != expected:
                raise DataError(
                    f"{path}:{index + 2}: Usage {usage!r} where {str(original_csv)!r} says {expected!r} on the same row"
                )
    votes = {}
    for index, (usage, row_votes) in enumerate(rows):
        if usage not in _USAGE:
            raise DataError(f"{path}:{index + 2}: unknown Usage {usage!r}")
        if row_votes is not None:  # load_fer2013 names a CSV's faces by split and line
            votes[f"{_USAGE[usage]}_{index + 2}"] = row_votes
    return votes


def vote_columns(class_names: tuple[str, ...]) -> list[int]:
    """The vote column (index into VOTE_COLUMNS) of each of `class_names`; ValueError for a name FER+ lacks."""
    column_of = {name: VOTE_COLUMNS.index(column) for column, name in CLASS_OF_COLUMN.items()}
    unknown = [name for name in class_names if name not in column_of]
    if unknown:
        raise ValueError(f"no FER+ vote column for class name(s) {unknown}")
    return [column_of[name] for name in class_names]


def vote_scores(probs: np.ndarray, class_names: tuple[str, ...], votes: np.ndarray) -> dict:
    """How a model's probabilities (n, k) over `class_names` stand against the votes (n, 10):

    majority_accuracy  its top class is the vote majority, on faces whose majority is an emotion (the FER+
                       protocol leaves out faces voted mostly unknown or not a face)
    human_agreement    its top class got at least 3 of the 10 votes ("a person would agree")
    majority_recall    per class the model names: the share of faces with that majority it gets right
    kl_divergence      mean KL(votes || model) over the eight emotions, in nats (the model's probabilities
                       floored at 1e-6, so a class it cannot name costs without being infinite)
    """
    columns = vote_columns(class_names)
    column_of = dict(zip(class_names, columns))
    have = ~np.isnan(votes).any(axis=1)
    probs, votes = np.asarray(probs, np.float64)[have], votes[have].astype(np.float64)
    top = np.array([column_of[class_names[c]] for c in probs.argmax(axis=1)], np.int64)
    majority = votes.argmax(axis=1)
    emotion_majority = majority < len(EMOTION_COLUMNS)
    rows = np.arange(len(votes))
    mapped = np.zeros((len(probs), len(EMOTION_COLUMNS)))
    for c, name in enumerate(class_names):
        mapped[:, column_of[name]] += probs[:, c]
    model = np.maximum(mapped, 1e-6)
    model /= model.sum(axis=1, keepdims=True)
    emotion_votes = votes[:, : len(EMOTION_COLUMNS)]
    voted = emotion_votes.sum(axis=1) > 0
    target = emotion_votes[voted] / emotion_votes[voted].sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(target > 0, target * np.log(target / model[voted]), 0.0).sum(axis=1)
    correct = (top == majority) & emotion_majority
    recall = {
        name: float(correct[majority == column_of[name]].mean())
        for name in class_names if (emotion_majority & (majority == column_of[name])).any()
    }
    return {
        "faces_with_votes": int(have.sum()),
        "majority_recall": recall,
        "faces_with_an_emotion_majority": int(emotion_majority.sum()),
        "majority_accuracy": float((top == majority)[emotion_majority].mean()) if emotion_majority.any() else float("nan"),
        "human_agreement": float((votes[rows, top] >= 3).mean()) if len(votes) else float("nan"),
        "kl_divergence": float(kl.mean()) if voted.any() else float("nan"),
    }


def majority_labels(votes: np.ndarray, class_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(labels (n,) as indices into `class_names`, kept (n,) bool) from votes (n, 10): each face's
    vote majority, kept where the face has votes and its majority is one of the model's emotions
    (FER+'s protocol leaves out faces voted mostly unknown or not a face)."""
    columns = vote_columns(class_names)
    have = ~np.isnan(votes).any(axis=1)
    majority = np.where(have, np.nan_to_num(votes).argmax(axis=1), -1)
    class_of_column = {column: index for index, column in enumerate(columns)}
    labels = np.array([class_of_column.get(int(column), -1) for column in majority], np.int64)
    return np.maximum(labels, 0), labels >= 0
