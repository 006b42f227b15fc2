"""`FaceRecord`: what perception says of one frame, the one value between the two halves of the pipeline.

Perception (detect, classify; `emocap.perception`) writes it and keeps no memory of it; captioning
(track, smooth, "unsure", confirm, order; `emocap.captioning`) reads it. In `live` the two halves run
on two threads, in `transcribe` in one process, on Ray on different machines: there the records of a
chunk travel as `RecordColumns`, a handful of flat arrays derived from the record's own fields, so a
field added to the record (or a per-face field added to `PERCEIVED`) travels without another edit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import Iterator, Sequence

import numpy as np

from emocap.types import Faces

RECORD_VERSION = 1
"""The layout of `FaceRecord` and `RecordColumns`: raised when a field is added, renamed or changes meaning,
so a worker of another version is refused by the driver rather than misread."""

PERCEIVED = ("boxes", "scores", "landmarks", "probs", "embeddings")
"""The `Faces` fields perception writes (the others are captioning's: identities, what is shown)."""


class Scan(enum.IntEnum):
    """What the detector does on a frame (`emocap.perception.scheduled_scan` chooses it)."""

    WHOLE = 0
    """Scan the whole frame."""
    NEAR = 1
    """Search only around the faces found last (MTCNN's O-Net on each box); a lost face brings a WHOLE scan."""
    CARRY = 2
    """No detection: the faces found last keep their boxes and are classified again on this frame."""


@dataclass(frozen=True, eq=False)
class FaceRecord:
    """One frame's faces as perception found and looked at them, untracked.

    time_s       the frame's time in the stream (seconds)
    frame_size   (width, height) of the frame
    faces        boxes, scores, landmarks, probs and embeddings (`PERCEIVED`); the other fields empty
    shot         how the frame follows the last (`emocap.tracking.shots`: STEADY 0, JUMP 1, CUT 2)
    scan         what the detector did (`Scan`); the boxes were found in this frame unless CARRY
    detect_ms    time the detection step took (the shot check, and the detector unless CARRY)
    classify_ms  time the classifier took
    version      RECORD_VERSION of the perception that wrote it
    """

    time_s: float
    frame_size: tuple[int, int]
    faces: Faces
    shot: int = 0
    scan: Scan = Scan.WHOLE
    detect_ms: float = 0.0
    classify_ms: float = 0.0
    version: int = RECORD_VERSION

    def __post_init__(self) -> None:
        if self.version != RECORD_VERSION:
            raise ValueError(f"a FaceRecord of version {self.version!r} cannot be read by this emocap, which reads "
                             f"version {RECORD_VERSION}: run the same emocap on every machine")
        object.__setattr__(self, "scan", Scan(self.scan))

    @property
    def fresh(self) -> bool:
        """The boxes were found in this frame, not carried over from an earlier one."""
        return self.scan != Scan.CARRY


FRAME_FIELDS = tuple(field.name for field in fields(FaceRecord) if field.name not in ("faces", "version"))
"""The record's fields with one value a frame, each a column of `RecordColumns`."""
_TAILS = {name: getattr(Faces.empty(), name).shape[1:] for name in PERCEIVED}


@dataclass(frozen=True, eq=False)
class RecordColumns:
    """The records of consecutive frames as flat arrays: `frames[name]` one row per frame for each of
    FRAME_FIELDS, `faces[name]` one row per face for each of PERCEIVED, `counts[i]` faces in frame i.
    Quick to send from a Ray worker to the driver (no Python object per face)."""

    frames: dict[str, np.ndarray]
    faces: dict[str, np.ndarray]
    counts: np.ndarray
    version: int = RECORD_VERSION

    @classmethod
    def pack(cls, records: Sequence[FaceRecord]) -> "RecordColumns":
        """The columns of `records`, in order."""
        frames = {name: np.array([getattr(record, name) for record in records]) for name in FRAME_FIELDS}
        frames["frame_size"] = frames["frame_size"].reshape(-1, 2)
        faces = {name: _rows([getattr(record.faces, name) for record in records], _TAILS[name]) for name in PERCEIVED}
        return cls(frames, faces, np.array([len(record.faces) for record in records], np.int64))

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def times(self) -> np.ndarray:
        return self.frames["time_s"]

    def records(self) -> Iterator[FaceRecord]:
        """The records packed, in order (the same values; numbers as Python numbers)."""
        if self.version != RECORD_VERSION:
            raise ValueError(f"records of version {self.version!r} cannot be read by this emocap, which reads "
                             f"version {RECORD_VERSION}: run the same emocap on every machine")
        ends = np.cumsum(self.counts).tolist()
        for i, (end, count) in enumerate(zip(ends, self.counts.tolist())):
            rows = slice(end - count, end)
            values = {name: column[i].item() for name, column in self.frames.items() if name != "frame_size"}
            width, height = self.frames["frame_size"][i].tolist()
            faces = Faces(**{name: column[rows] for name, column in self.faces.items()})
            yield FaceRecord(frame_size=(width, height), faces=faces, **values)


def _rows(parts: list[np.ndarray], tail: tuple[int, ...]) -> np.ndarray:
    """The rows of `parts` in one array. A part without rows may be narrower than the others (a frame
    without faces has embeddings of width 0 where the others have the model's), so only parts with rows
    decide the width."""
    filled = [part for part in parts if len(part)]
    if filled:
        return np.concatenate(filled)
    width = parts[0].shape[1:] if parts else tail
    return np.zeros((0, *width), parts[0].dtype if parts else np.float32)
