"""Class names and the valence grouping that the whole product shares."""

from __future__ import annotations

from pathlib import Path

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

UNSURE_WORD = "unsure"
"""What every output says, in place of an emotion, for a face the model is not sure of; no class may be named so."""

WORDINGS: tuple[str, ...] = ("looks", "plain")
"""How a caption words what it shows: "looks happy" (looks) or "happy" (plain); `--wording` chooses."""

DEFAULT_WORDING = "looks"
"""A caption describes how a face looks, not what its person feels: a smile can be polite, a frown a
squint at the sun, and the model was taught on posed and labelled photos, not on what people felt.
"looks happy" says only what was seen; "plain" keeps the bare class names."""


def check_wording(wording: str) -> str:
    """`wording` itself, or a ValueError that quotes it."""
    if wording not in WORDINGS:
        raise ValueError(f"wording must be one of {', '.join(WORDINGS)}, got {wording!r}")
    return wording


FERPLUS_LABELS: tuple[str, ...] = FER2013_LABELS + ("contempt",)
"""Output order of a model trained on FER+'s votes: FER2013's seven, then FER+'s contempt."""

LABEL_SETS: dict[str, tuple[str, ...]] = {"fer2013": FER2013_LABELS, "ferplus": FERPLUS_LABELS}
"""The label sets emocap trains on, by the name `TrainConfig.labels` and `--labels` use."""

MODELS_DIR = Path(__file__).resolve().parent / "models"
"""The models that ship inside the package: the emotion models and MTCNN's three networks."""

BUILTIN_MODEL_NAMES: dict[str, tuple[str, str]] = {
    "standard": ("emotion.onnx", "seven emotions (FER2013's), a ResNet18 that sees each face and its mirror image"),
    "fast": ("emotion-fast.onnx", "seven emotions, a ResNet10 taught by standard: under a quarter of its work a "
                                  "face, for slow CPUs and many faces"),
    "ferplus": ("emotion-ferplus.onnx", "eight emotions (the seven and contempt), trained on FER+'s ten votes a face"),
}
"""Every built-in emotion model, in MODELS_DIR, by the name `--model` takes: (file, what it is)."""

BUILTIN_MODEL_FILES: dict[str, str] = {"fer2013": BUILTIN_MODEL_NAMES["standard"][0],
                                       "ferplus": BUILTIN_MODEL_NAMES["ferplus"][0]}
"""The built-in model of each label set, in MODELS_DIR (`--labels` chooses one)."""

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
    # FER+'s eighth class, for models trained on its votes (the FER+ paper counts it as negative).
    "contempt": "negative",
}

# The one palette: Okabe-Ito colours, safe for the common colour-vision deficiencies.
VALENCE_COLOURS_HEX: dict[str, str] = {
    "negative": "#D55E00",  # vermillion
    "neutral": "#999999",  # grey
    "positive": "#0072B2",  # blue
}
EMOTION_COLOURS_HEX: dict[str, str] = {
    # blues for the positive classes, warm, green and purple tones for the negative ones, grey for
    # neutral; fear and surprise (often confused) far apart
    "angry": "#D55E00",
    "disgust": "#009E73",
    "fear": "#CC79A7",
    "happy": "#0072B2",
    "neutral": "#999999",
    "sad": "#E69F00",
    "surprise": "#56B4E9",
}

# "unsure" names no emotion, so it takes no palette colour (it used to share neutral's grey, and ten
# seconds of "unsure" read as ten seconds of a calm face): wherever a colour stands for an emotion,
# "unsure" is drawn as dark diagonal hatching on white, outlined in the same ink.
UNSURE_INK_HEX = "#000000"
"""The hatching's lines and the outline of whatever stands for "unsure"."""
UNSURE_GROUND_HEX = "#FFFFFF"
"""Between the hatching's lines."""
UNSURE_HATCH = "///"
"""The hatching in matplotlib's notation (a line every few points, rising to the right)."""
UNSURE_CSS_BACKGROUND = (
    f"repeating-linear-gradient(135deg, {UNSURE_INK_HEX} 0 2px, {UNSURE_GROUND_HEX} 2px 7px)"
)
"""The same hatching as a CSS background, for the report and the web page."""

OTHER_CLASS_COLOURS_HEX: tuple[str, ...] = ("#F0E442", "#000000")
"""With the palette's colours no known name uses, for class names beyond FER2013's (FER+'s contempt, say)."""


def hex_to_bgr(colour: str) -> tuple[int, int, int]:
    """'#D55E00' -> (0, 94, 213), for OpenCV."""
    return int(colour[5:7], 16), int(colour[3:5], 16), int(colour[1:3], 16)


VALENCE_COLOURS_BGR: dict[str, tuple[int, int, int]] = {v: hex_to_bgr(c) for v, c in VALENCE_COLOURS_HEX.items()}


def class_colours(labels: tuple[str, ...]) -> list[str]:
    """A hex colour per class name: the palette's for known names, and for the others, in order,
    the colours no known name in `labels` takes. ValueError when there are not enough."""
    taken = {EMOTION_COLOURS_HEX[name] for name in labels if name in EMOTION_COLOURS_HEX}
    spare = [c for c in (*EMOTION_COLOURS_HEX.values(), *OTHER_CLASS_COLOURS_HEX) if c not in taken]
    unknown = [name for name in labels if name not in EMOTION_COLOURS_HEX]
    if len(unknown) > len(spare):
        most = len(EMOTION_COLOURS_HEX) + len(OTHER_CLASS_COLOURS_HEX)
        raise ValueError(f"at most {most} classes can be told apart by colour, got {len(labels)}")
    by_name = {**dict(zip(unknown, spare)), **EMOTION_COLOURS_HEX}
    return [by_name[name] for name in labels]

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
