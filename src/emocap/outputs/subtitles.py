"""Emotion subtitles: one cue per segment, e.g. `Face 1 (left): happy — positive`.

Cues of different faces overlap in time when several faces are in view;
players show them stacked. Cues come in order of start time, as WebVTT
requires.
"""

from __future__ import annotations

from emocap.outputs.segments import Segment
from emocap.outputs.writer import TranscriptWriter


def timestamp(seconds: float, decimal_mark: str) -> str:
    """'HH:MM:SS.mmm' (WebVTT) or 'HH:MM:SS,mmm' (SRT), to the nearest millisecond."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{millis:03d}"


def cue_timing(segment: Segment, decimal_mark: str) -> str:
    """'start --> end', at least one millisecond long after rounding (players drop empty cues)."""
    start_ms = max(0, round(segment.start_s * 1000))
    end_ms = max(start_ms + 1, round(segment.end_s * 1000))
    return f"{timestamp(start_ms / 1000, decimal_mark)} --> {timestamp(end_ms / 1000, decimal_mark)}"


def cue_line(caption: str) -> str:
    """A caption as one line, so that it cannot end its cue: every run of white space (line breaks of
    any kind among it) one space."""
    return " ".join(caption.split())


class WebVTTWriter(TranscriptWriter):
    """WebVTT (.vtt): the subtitle format of web browsers and most players."""

    suffix = ".vtt"

    def begin(self) -> None:
        self.stream.write("WEBVTT\n\n")

    def segment(self, segment: Segment) -> None:
        # Cue text is HTML-like in WebVTT: '&' and '<' start markup, and '-->' ends a timing line.
        text = cue_line(segment.caption).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.stream.write(f"{cue_timing(segment, '.')}\n{text}\n\n")


class SrtWriter(TranscriptWriter):
    """SubRip (.srt): numbered cues, read by nearly every video player and editor."""

    suffix = ".srt"

    def begin(self) -> None:
        self._cues = 0

    def segment(self, segment: Segment) -> None:
        self._cues += 1
        text = cue_line(segment.caption).replace("-->", "->")  # SRT has no escape for what marks a timing line
        self.stream.write(f"{self._cues}\n{cue_timing(segment, ',')}\n{text}\n\n")
