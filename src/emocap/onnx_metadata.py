"""The metadata of an ONNX model file, read without ONNX Runtime or any network built.

Captioning needs a model's labels and calibration, which `emocap export` writes into the file's
`metadata_props`, but none of its weights: a Ray driver that only captions should not build a
session (seconds and a hundred megabytes) to read a few hundred bytes. The `onnx` package could read
them, but it is a training dependency and would parse the whole graph. An ONNX file is one protobuf
`ModelProto`, whose metadata is its field 14 (`StringStringEntryProto`: key 1, value 2): walking
the top-level fields, and skipping the graph by its length, reads it from a few pages of the file.
"""

from __future__ import annotations

import mmap
from pathlib import Path

METADATA_PROPS = 14
"""`ModelProto.metadata_props` (onnx.proto)."""
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The `metadata_props` of the ONNX model at `path` as a dict (what ONNX Runtime's
    `custom_metadata_map` gives). OSError if it cannot be read, ValueError if it is not a protobuf."""
    with open(path, "rb") as file:
        if Path(path).stat().st_size == 0:
            raise ValueError("the file is empty")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            metadata = {}
            for number, value in _fields(data, 0, len(data)):
                if number == METADATA_PROPS and isinstance(value, slice):
                    entry = dict(_fields(data, value.start, value.stop))
                    key, text = entry.get(1), entry.get(2)
                    if isinstance(key, slice):
                        metadata[_text(data, key)] = _text(data, text) if isinstance(text, slice) else ""
            return metadata


def _text(data, where: slice) -> str:
    return bytes(data[where]).decode("utf-8")


def _fields(data, start: int, end: int):
    """(field number, value) of the protobuf message in data[start:end]: an int for a varint, the slice
    of the bytes for a length-delimited field; fixed-width fields are skipped."""
    position = start
    while position < end:
        key, position = _varint(data, position, end)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, position = _varint(data, position, end)
            yield number, value
        elif wire == LENGTH_DELIMITED:
            length, position = _varint(data, position, end)
            if position + length > end:
                raise ValueError(f"field {number} runs past the end of its message")
            yield number, slice(position, position + length)
            position += length
        elif wire in (FIXED64, FIXED32):
            position += 8 if wire == FIXED64 else 4
        else:
            raise ValueError(f"field {number} has wire type {wire}, which no ONNX file uses")
    if position != end:
        raise ValueError("the last field runs past the end of its message")


def _varint(data, position: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while position < end and shift < 64:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
    raise ValueError("a number runs past the end of its message")
