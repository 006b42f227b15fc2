"""Machine-readable transcripts: JSON Lines and CSV, one record per frame or per segment.

Both formats carry the same fields (docs/RECORDS.md is the schema): JSON
nests the box and the probabilities, CSV spreads them over columns
(`x1`..`y2`, `p_<class>`, `v_<valence>`) and has one row per face per frame.
"""

from __future__ import annotations

import csv
import json

import numpy as np

from emocap.labels import DEFAULT_WORDING, VALENCE_COLOURS_HEX, VALENCES, VALENCE_OF, valence_matrix
from emocap.outputs.captions import class_name, emotion_words, frame_captions
from emocap.outputs.segments import Segment
from emocap.outputs.writer import TranscriptWriter
from emocap.types import FrameResult

TIME_DECIMALS = 6
BOX_DECIMALS = 1
PROBABILITY_DECIMALS = 4


def _probabilities(labels: tuple[str, ...], probs: np.ndarray) -> tuple[list[dict], list[dict]]:
    """Rows of probabilities (n, k) as {class: p} and {valence: p}; empty dicts when not classified
    (or, for valences, when a class has no known valence)."""
    if probs.shape[-1] != len(labels) or not labels:
        return [{} for _ in range(len(probs))], [{} for _ in range(len(probs))]
    rounded = np.round(probs.astype(np.float64), PROBABILITY_DECIMALS).tolist()
    classes = [dict(zip(labels, row)) for row in rounded]
    if not all(name in VALENCE_OF for name in labels):
        return classes, [{} for _ in range(len(probs))]
    by_valence = np.round(probs.astype(np.float64) @ valence_matrix(labels), PROBABILITY_DECIMALS).tolist()
    return classes, [dict(zip(VALENCES, row)) for row in by_valence]


def frame_record(result: FrameResult, *, wording: str = DEFAULT_WORDING) -> dict:
    """{frame, time, faces: [{face, box, score, label, runner_up, valence, position, caption, emotion_words,
    colour, probabilities, valence_probabilities}]} for one frame: the record every output speaks (JSON
    Lines, CSV, the web page), with the face numbers and captions of the subtitles and the overlay.
    `label` and `runner_up` are class names whatever the `wording`; `caption` and `emotion_words` are
    worded by it ('looks happy')."""
    faces = result.faces
    labels = tuple(result.labels)
    names = [class_name(labels, index) for index in faces.display.tolist()]
    runners = [class_name(labels, index) for index in faces.runner_up.tolist()]
    columns = zip(
        *frame_captions(result, wording=wording),
        np.round(faces.boxes.astype(np.float64), BOX_DECIMALS).tolist(),
        np.round(faces.scores.astype(np.float64), PROBABILITY_DECIMALS).tolist(),
        names,
        runners,
        *_probabilities(labels, faces.probs),
    )
    return {
        "frame": int(result.index),
        "time": round(float(result.time_s), TIME_DECIMALS),
        "faces": [
            {
                "face": number,
                "box": box,
                "score": score,
                "label": name or None,
                "runner_up": runner or None,
                "valence": VALENCE_OF.get(name),
                "position": position,
                "caption": caption,
                "emotion_words": emotion_words(name, runner, wording=wording) or None,
                "colour": VALENCE_COLOURS_HEX.get(VALENCE_OF.get(name, "")),
                "probabilities": probs,
                "valence_probabilities": valence_probs,
            }
            for number, position, caption, box, score, name, runner, probs, valence_probs in columns
        ],
    }


def segment_record(segment: Segment) -> dict:
    """{face, start, end, label, runner_up, valence, position, caption, emotion_words, box, probabilities,
    valence_probabilities, frames} for one segment, worded as the segment is."""
    probs, valence_probs = _probabilities(segment.labels, segment.probs[None])
    return {
        "face": segment.face_number,
        "start": round(segment.start_s, TIME_DECIMALS),
        "end": round(segment.end_s, TIME_DECIMALS),
        "label": segment.label,
        "runner_up": segment.runner_up_label or None,
        "valence": segment.valence or None,
        "position": segment.position,
        "caption": segment.caption,
        "emotion_words": segment.emotion_words,
        "box": np.round(segment.box.astype(np.float64), BOX_DECIMALS).tolist(),
        "probabilities": probs[0],
        "valence_probabilities": valence_probs[0],
        "frames": segment.frames,
    }


class JsonLinesWriter(TranscriptWriter):
    """JSON Lines (.jsonl): one JSON object per line, per frame (every frame, faces or not) or per segment."""

    suffix = ".jsonl"

    def frame(self, result: FrameResult) -> None:
        if self.records == "frame":
            self._write(frame_record(result, wording=self.wording))

    def segment(self, segment: Segment) -> None:
        if self.records == "segment":
            self._write(segment_record(segment))

    def _write(self, record: dict) -> None:
        self.stream.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")


FRAME_COLUMNS = (
    "frame", "time", "face", "x1", "y1", "x2", "y2", "score", "label", "runner_up", "valence", "position", "caption",
    "emotion_words",
)
SEGMENT_COLUMNS = (
    "face", "start", "end", "label", "runner_up", "valence", "position", "x1", "y1", "x2", "y2", "frames", "caption",
    "emotion_words",
)


class CsvWriter(TranscriptWriter):
    """CSV (.csv): one row per face per frame, or per segment; columns p_<class> and v_<valence> hold
    the probabilities."""

    suffix = ".csv"
    newline = ""  # the csv module writes its own line ends

    def begin(self) -> None:
        self._table: csv.DictWriter | None = None

    def frame(self, result: FrameResult) -> None:
        if self._table is None:
            columns = FRAME_COLUMNS if self.records == "frame" else SEGMENT_COLUMNS
            self._start_table(columns, tuple(result.labels))
        if self.records == "frame":
            record = frame_record(result, wording=self.wording)
            for face in record["faces"]:
                self._row({"frame": record["frame"], "time": record["time"], **face})

    def segment(self, segment: Segment) -> None:
        if self.records == "segment":
            self._row(segment_record(segment))

    def end(self) -> None:
        if self._table is None:  # no frame came: still a valid, empty table
            columns = FRAME_COLUMNS if self.records == "frame" else SEGMENT_COLUMNS
            self._start_table(columns, ())

    def _start_table(self, columns: tuple[str, ...], labels: tuple[str, ...]) -> None:
        valences = VALENCES if labels and all(name in VALENCE_OF for name in labels) else ()
        names = [*columns, *(f"p_{name}" for name in labels), *(f"v_{name}" for name in valences)]
        self._table = csv.DictWriter(self.stream, fieldnames=names)
        self._table.writeheader()

    def _row(self, record: dict) -> None:
        nested = ("box", "probabilities", "valence_probabilities", "colour")
        flat = {key: value for key, value in record.items() if key not in nested}
        flat.update(zip(("x1", "y1", "x2", "y2"), record["box"]))
        flat.update({f"p_{name}": p for name, p in record["probabilities"].items()})
        flat.update({f"v_{name}": p for name, p in record["valence_probabilities"].items()})
        self._table.writerow({key: "" if value is None else value for key, value in flat.items()})
