"""`FaceRecord` and `RecordColumns`: the one record between perception and captioning, its version and
its trip through the columns a Ray chunk sends."""

import dataclasses

import numpy as np
import pytest

from emocap.record import FRAME_FIELDS, PERCEIVED, RECORD_VERSION, FaceRecord, RecordColumns, Scan
from emocap.types import Faces


def faces(count: int, width: int = 8, seed: int = 0) -> Faces:
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 300, (count, 2)).astype(np.float32)
    return Faces(
        boxes=np.concatenate([corners, corners + 60], axis=1), scores=rng.uniform(0.9, 1, count),
        landmarks=rng.uniform(0, 360, (count, 5, 2)), probs=rng.dirichlet(np.ones(7), count),
        embeddings=rng.normal(size=(count, width)),
    )


def records() -> list[FaceRecord]:
    return [
        FaceRecord(0.0, (640, 360), faces(2), shot=0, scan=Scan.WHOLE, detect_ms=12.5, classify_ms=9.0),
        # No face: Faces.empty() has probs and embeddings of width 0 where the other frames have the model's.
        FaceRecord(1 / 30, (640, 360), Faces.empty(), shot=1, scan=Scan.WHOLE, detect_ms=11.0, classify_ms=0.1),
        FaceRecord(2 / 30, (640, 360), faces(1, seed=1), shot=0, scan=Scan.NEAR, detect_ms=3.0, classify_ms=4.0),
        FaceRecord(0.1, (640, 360), faces(1, seed=1), shot=0, scan=Scan.CARRY, detect_ms=0.2, classify_ms=4.0),
    ]


def same(first: FaceRecord, second: FaceRecord) -> bool:
    frame_fields = all(getattr(first, name) == getattr(second, name) for name in (*FRAME_FIELDS, "version"))
    face_fields = all(np.array_equal(getattr(first.faces, name), getattr(second.faces, name))
                      for name in PERCEIVED if len(first.faces))
    return frame_fields and face_fields and len(first.faces) == len(second.faces)


def test_records_come_back_from_their_columns_field_for_field():
    sent = records()
    columns = RecordColumns.pack(sent)
    back = list(columns.records())
    assert len(columns) == 4 and columns.counts.tolist() == [2, 0, 1, 1]
    assert all(same(a, b) for a, b in zip(sent, back)) and len(back) == len(sent)
    assert [record.fresh for record in back] == [True, True, True, False]
    assert isinstance(back[2].scan, Scan) and isinstance(back[0].time_s, float) and back[0].frame_size == (640, 360)
    assert back[1].faces.probs.shape == (0, 7)  # the width of the frames that have faces
    assert columns.times.tolist() == [record.time_s for record in sent]


def test_every_field_of_the_record_travels_without_naming_it_twice():
    """The columns are derived from the record's fields: each has a column, and no column is named by hand."""
    columns = RecordColumns.pack(records())
    record_fields = {field.name for field in dataclasses.fields(FaceRecord)} - {"faces", "version"}
    assert set(columns.frames) == record_fields == set(FRAME_FIELDS)
    assert set(columns.faces) == set(PERCEIVED)
    assert set(PERCEIVED) <= {field.name for field in dataclasses.fields(Faces)}


def test_no_records_are_columns_of_no_rows():
    columns = RecordColumns.pack([])
    assert len(columns) == 0 and list(columns.records()) == []
    assert columns.faces["boxes"].shape == (0, 4) and columns.faces["landmarks"].shape == (0, 5, 2)


def test_a_record_of_another_version_is_refused_by_name():
    with pytest.raises(ValueError, match=f"version 0 cannot be read by this emocap, which reads version {RECORD_VERSION}"):
        FaceRecord(0.0, (10, 10), Faces.empty(), version=0)
    stale = dataclasses.replace(RecordColumns.pack(records()), version=RECORD_VERSION + 1)
    with pytest.raises(ValueError, match="run the same emocap on every machine"):
        next(stale.records())
