"""What emocap makes of its results: drawn captions, subtitles, records, annotated video, summaries.

Everything here works from `FrameResult`s (and the `Segment`s built from
them), so it runs the same on live and recorded video.
"""

from emocap.outputs.captions import caption_text, face_numbers, position_words
from emocap.outputs.overlay import CaptionOverlay, FpsMeter
from emocap.outputs.records import CsvWriter, JsonLinesWriter, frame_record, segment_record
from emocap.outputs.registry import WRITERS, writer_class, writer_for
from emocap.outputs.segments import Segment, SegmentBuilder
from emocap.outputs.subtitles import SrtWriter, WebVTTWriter
from emocap.outputs.summary import EmotionSummary
from emocap.outputs.transcript import TranscriptOutputs
from emocap.outputs.video import VIDEO_FORMATS, AnnotatedVideoWriter
from emocap.outputs.writer import RECORD_KINDS, TranscriptWriter

__all__ = [
    "AnnotatedVideoWriter",
    "CaptionOverlay",
    "CsvWriter",
    "EmotionSummary",
    "FpsMeter",
    "JsonLinesWriter",
    "RECORD_KINDS",
    "Segment",
    "SegmentBuilder",
    "SrtWriter",
    "TranscriptOutputs",
    "TranscriptWriter",
    "VIDEO_FORMATS",
    "WRITERS",
    "WebVTTWriter",
    "caption_text",
    "face_numbers",
    "frame_record",
    "position_words",
    "segment_record",
    "writer_class",
    "writer_for",
]
