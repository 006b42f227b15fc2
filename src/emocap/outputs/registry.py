"""Which writer a transcript path gets, chosen by its extension."""

from __future__ import annotations

import os
from pathlib import Path

from emocap.errors import OutputError
from emocap.labels import DEFAULT_WORDING
from emocap.outputs.records import CsvWriter, JsonLinesWriter
from emocap.outputs.subtitles import SrtWriter, WebVTTWriter
from emocap.outputs.writer import TranscriptWriter

WRITERS: dict[str, type[TranscriptWriter]] = {
    writer.suffix: writer for writer in (WebVTTWriter, SrtWriter, JsonLinesWriter, CsvWriter)
}
"""Extension -> writer class."""


def writer_class(path: str | os.PathLike) -> type[TranscriptWriter]:
    """The writer for this path's extension; OutputError naming the supported ones otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        shown = repr(suffix) if suffix else "no extension"
        raise OutputError(f"cannot write {str(path)!r}: {shown} is not a transcript format; use {', '.join(WRITERS)}")
    return WRITERS[suffix]


def writer_for(path: str | os.PathLike, *, records: str = "frame", wording: str = DEFAULT_WORDING) -> TranscriptWriter:
    """A writer for `path` (not yet open: use it in a `with` block)."""
    return writer_class(path)(path, records=records, wording=wording)
