"""The words of a caption, shared by the overlay, the subtitles and the records.

One place decides how a face is named ("Face 2"), where it is ("left"), and
how a shown class reads ("looks sad / fear — negative"), so the live window,
the annotated video, the transcript, the summary, the report and the web page
say the same thing. `emotion_words` alone words what a face shows.
"""

from __future__ import annotations

import numpy as np

from emocap.labels import DEFAULT_WORDING, UNSURE_WORD, VALENCE_OF, check_wording
from emocap.types import NO_LABEL, UNSURE, UNTRACKED, FrameResult

POSITION_WORDS: tuple[str, ...] = ("left", "centre", "right")
"""Thirds of the frame, as the viewer sees it (image left is the viewer's left)."""


def face_numbers(track_ids: np.ndarray) -> np.ndarray:
    """The number each face is called by: tracker ids are 0-based, people count from 1.

    Untracked faces (a single photo, where no tracker runs) are numbered by
    their order in the frame.
    """
    track_ids = np.asarray(track_ids, np.int64)
    order_numbers = np.arange(1, len(track_ids) + 1, dtype=np.int64)
    return np.where(track_ids == UNTRACKED, order_numbers, track_ids + 1)


def position_words(boxes: np.ndarray, frame_width: int, frame_height: int | None = None) -> np.ndarray:
    """'left' / 'centre' / 'right' for each box (n, 4), from its centre's third of the frame. Given
    `frame_height`, faces that would share a word get the vertical third too ('top right', 'bottom
    right'), so the words tell them apart wherever the rows do."""
    if frame_width <= 0:
        raise ValueError(f"frame_width must be positive, got {frame_width!r}")
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    columns = np.digitize(centres[:, 0], [frame_width / 3, 2 * frame_width / 3])
    words = np.asarray(POSITION_WORDS, dtype=object)[columns]
    if frame_height is None or len(boxes) < 2:
        return words
    if frame_height <= 0:
        raise ValueError(f"frame_height must be positive, got {frame_height!r}")
    rows = np.digitize(centres[:, 1], [frame_height / 3, 2 * frame_height / 3])
    shared = np.bincount(columns, minlength=3)[columns] > 1
    for index in np.flatnonzero(shared):  # a handful of faces: the words, not the per-frame arrays
        vertical, horizontal = VERTICAL_WORDS[rows[index]], words[index]
        words[index] = horizontal if (vertical, horizontal) == ("middle", "centre") else f"{vertical} {horizontal}"
    return words


VERTICAL_WORDS: tuple[str, ...] = ("top", "middle", "bottom")


OPPOSITE_VALENCES = frozenset({"positive", "negative"})
MIXED = "mixed"
"""Said when the two shown classes are of opposite valence ('surprise / fear'): never 'positive / negative'."""


def valence_words(label: str, runner_up: str) -> str:
    """'negative'; 'positive / neutral' when the two shown classes differ in valence; 'mixed' when
    they are opposite."""
    words = [VALENCE_OF.get(name, "") for name in (label, runner_up) if name]
    unique = [word for i, word in enumerate(words) if word and word not in words[:i]]
    return MIXED if set(unique) == OPPOSITE_VALENCES else " / ".join(unique)


def emotion_words(label: str, runner_up: str = "", *, wording: str = DEFAULT_WORDING) -> str:
    """What a caption says a face shows, in the `wording` (`emocap.labels.WORDINGS`): 'looks sad',
    'looks sad / fear' (the runner-up is shown when the model finds the two close), or plain 'sad',
    'sad / fear'. 'unsure' stays 'unsure' (it says how sure the model is, not how the face looks);
    '' when nothing is shown. Every output words its captions, legends and headings here."""
    check_wording(wording)
    if not label or label == UNSURE_WORD:
        return label
    shown = f"{label} / {runner_up}" if runner_up else label
    return f"looks {shown}" if wording == "looks" else shown


def class_name(labels: tuple[str, ...], class_index: int) -> str:
    """The name of a class index, '' for NO_LABEL, 'unsure' for UNSURE."""
    if class_index == UNSURE:
        return UNSURE_WORD
    return labels[class_index] if class_index != NO_LABEL else ""


def caption_text(
    face_number: int,
    label: str,
    runner_up: str = "",
    *,
    position: str = "",
    separator: str = " — ",
    wording: str = DEFAULT_WORDING,
) -> str:
    """'Face 1 (left): looks happy — positive'; 'Face 2: looks sad / fear — negative'; 'Face 3: looks
    neutral'; 'Face 4: unsure' (label 'unsure', which has no valence); 'Face 5' when nothing is shown.
    With wording 'plain': 'Face 1 (left): happy — positive'.

    `separator` lets drawing code, whose fonts are ASCII only, use ' - '.
    """
    name = f"Face {face_number}" + (f" ({position})" if position else "")
    if not label:
        return name
    valence = valence_words(label, runner_up)
    if valence == label:  # 'neutral — neutral' says nothing twice
        valence = ""
    words = emotion_words(label, runner_up, wording=wording)
    return f"{name}: {words}" + (f"{separator}{valence}" if valence else "")


def frame_captions(
    result: FrameResult, *, separator: str = " — ", wording: str = DEFAULT_WORDING,
) -> tuple[list[int], list[str], list[str]]:
    """Each face's number, position word and caption, in the pipeline's order: what every output
    (records, page, subtitles, overlay, `emocap image`) calls the face and says about it."""
    faces, labels = result.faces, tuple(result.labels)
    numbers = face_numbers(faces.track_ids).tolist()
    positions = position_words(faces.boxes, *result.frame_size).tolist() if len(faces) else []
    captions = [
        caption_text(number, class_name(labels, shown), class_name(labels, runner), position=position,
                     separator=separator, wording=wording)
        for number, position, shown, runner in zip(numbers, positions, faces.display.tolist(), faces.runner_up.tolist())
    ]
    return numbers, positions, captions
