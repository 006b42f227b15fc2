"""What a training face should be called: FER2013's label, FER+'s ten votes, a teacher model's belief.

Every target is a probability vector over the model's classes, built once per
run on the CPU with NumPy, so the training loop has one loss (cross-entropy on
soft targets) whatever the mixture. FER+'s modes (Barsoum et al., 2016):
"majority" trains on the vote winner, "probability" on the vote distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emocap.datasets import FerData
from emocap.votes import EMOTION_COLUMNS, Votes, vote_columns

FERPLUS_TARGETS = ("probability", "majority")


def vote_distribution(votes: np.ndarray, class_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) share of each face's votes for each of `class_names`, and which faces have any such vote.
    Votes for classes the model lacks (unknown, not a face, contempt for a 7-class model) are left out."""
    counts = np.nan_to_num(votes[:, vote_columns(class_names)], nan=0.0)
    totals = counts.sum(axis=1)
    has = totals > 0
    shares = np.zeros_like(counts, dtype=np.float32)
    shares[has] = counts[has] / totals[has, None]
    return shares, has


def emotion_majority(votes: np.ndarray, class_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Index into `class_names` of each face's majority vote, and which faces have one (the FER+
    protocol leaves out faces without votes and faces voted mostly unknown, not a face, or a class
    the model lacks)."""
    have = ~np.isnan(votes).any(axis=1)
    winner = np.where(have, np.nan_to_num(votes, nan=0.0).argmax(axis=1), -1)
    class_of_column = {column: index for index, column in enumerate(vote_columns(class_names))}
    index = np.array([class_of_column.get(int(column), -1) for column in winner], np.int64)
    valid = have & (index >= 0) & (winner < len(EMOTION_COLUMNS))
    return np.where(valid, index, 0), valid


def relabel_by_votes(data: FerData, votes: Votes, class_names: tuple[str, ...]) -> FerData:
    """The faces whose FER+ majority is one of `class_names`, labelled with that majority."""
    majority, valid = emotion_majority(votes.for_files(data.files), class_names)
    kept = data.subset(valid)
    return FerData(kept.images, majority[valid], kept.files, class_names)


@dataclass(frozen=True)
class TargetRecipe:
    class_names: tuple[str, ...]
    label_smoothing: float = 0.0
    votes_weight: float = 0.0  # share of the target from the vote distribution
    ferplus_target: str = ""  # "": FER2013 labels are the hard part; probability / majority: the votes are
    teacher_weight: float = 0.0


def soft_targets(data: FerData, recipe: TargetRecipe, votes: Votes | None = None,
                 teacher_probs: np.ndarray | None = None) -> np.ndarray:
    """float32 (n, k) targets: the hard label (smoothed), mixed with the votes and the teacher by their weights.
    Without `teacher_probs` the teacher's share is left out (the rows sum to 1 - teacher_weight): the trainer adds
    it batch by batch, from the teacher's view of each augmented face."""
    k = len(recipe.class_names)
    hard = np.full((len(data), k), recipe.label_smoothing / k, np.float32)
    hard[np.arange(len(data)), data.labels] += 1 - recipe.label_smoothing
    if recipe.ferplus_target == "probability":
        shares, _ = vote_distribution(votes.for_files(data.files), recipe.class_names)
        hard = (1 - recipe.label_smoothing) * shares + recipe.label_smoothing / k
    target = hard * (1 - recipe.votes_weight - recipe.teacher_weight)
    if recipe.votes_weight > 0:
        shares, has = vote_distribution(votes.for_files(data.files), recipe.class_names)
        # A face without votes for these classes keeps its own label in the votes' share.
        target += recipe.votes_weight * np.where(has[:, None], shares, hard)
    if recipe.teacher_weight > 0 and teacher_probs is not None:
        target += recipe.teacher_weight * teacher_probs.astype(np.float32)
    return target.astype(np.float32)


def teacher_probabilities(model_path: str, faces: np.ndarray, class_names: tuple[str, ...]) -> np.ndarray:
    """The probabilities an emocap ONNX model gives `faces` (uint8 (n, 48, 48)); ValueError if its
    classes are not `class_names`."""
    from emocap.classifier import EmotionClassifier

    teacher = EmotionClassifier(model_path)
    check_teacher_classes(model_path, teacher.labels, class_names)
    return teacher.predict(faces)


def check_teacher_classes(teacher: str, teacher_classes, class_names: tuple[str, ...]) -> None:
    """ValueError quoting the teacher where its classes are not the ones the model trains (ONNX or checkpoint)."""
    if tuple(teacher_classes) != tuple(class_names):
        raise ValueError(f"teacher {teacher!r} names classes {list(teacher_classes)}, "
                         f"the model trains {list(class_names)}")
