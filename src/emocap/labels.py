"""Class names and the valence grouping that the whole product shares."""

from __future__ import annotations

import numpy as np

FER2013_LABELS: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sad",
    "surprise",
)
"""Output order of every emocap model (alphabetical, as the Kaggle folders sort)."""

FER2013_CSV_IDS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Label ids of the original Kaggle CSV: 0=angry ... 6=neutral."""

VALENCES: tuple[str, ...] = ("negative", "neutral", "positive")

VALENCE_OF: dict[str, str] = {
    "angry": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sad": "negative",
    "neutral": "neutral",
    "happy": "positive",
    "surprise": "positive",
}

# Okabe-Ito colours (safe for the common colour-vision deficiencies), BGR for OpenCV.
VALENCE_COLOURS_BGR: dict[str, tuple[int, int, int]] = {
    "negative": (0, 94, 213),  # vermillion #D55E00
    "neutral": (153, 153, 153),  # grey
    "positive": (178, 114, 0),  # blue #0072B2
}

# Spellings of the class folders found in copies of FER2013 in the wild.
LABEL_ALIASES: dict[str, str] = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
}


def canonical_label(name: str) -> str | None:
    """The FER2013 class a folder name means, or None if it is not one."""
    return LABEL_ALIASES.get(name.strip().lower())


def valence_matrix(labels: tuple[str, ...]) -> np.ndarray:
    """(k, 3) 0/1 matrix: probs @ M gives (negative, neutral, positive) probabilities."""
    unknown = [name for name in labels if name not in VALENCE_OF]
    if unknown:
        raise ValueError(f"no valence known for class names {unknown}")
    matrix = np.zeros((len(labels), len(VALENCES)), np.float32)
    for row, name in enumerate(labels):
        matrix[row, VALENCES.index(VALENCE_OF[name])] = 1.0
    return matrix
