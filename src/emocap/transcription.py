"""Transcription of recorded video: which files are videos, and one video through the pipeline
into all its outputs (subtitles, records, an annotated copy, a timeline) in one pass.

The library side of `emocap transcribe`: the command turns its options into
`OutputPlan`s and `TranscriptionSettings` and prints the reports; benchmarks
and other programs call `transcribe_video` directly.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from emocap.atomic import all_or_nothing
from emocap.errors import DataError, EmocapError, SourceError
from emocap.images import DEFAULT_MAX_IMAGE_SIDE
from emocap.labels import DEFAULT_WORDING, check_wording
from emocap.outputs.files import is_annotated_copy
from emocap.overlap import run_ahead

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts", ".m2ts", ".ogv"}
)
"""What counts as a video when a folder is given (files are opened by FFmpeg whatever their name)."""
FALLBACK_FPS = 30.0
"""Frame rate assumed for the annotated copy and the last frame's length when a file does not give one."""


@dataclass(frozen=True)
class OutputPlan:
    """Where one video's outputs go."""

    video: Path
    transcripts: tuple[Path, ...]
    annotated: Path | None = None
    timeline: Path | None = None
    report: Path | None = None

    @property
    def paths(self) -> tuple[Path, ...]:
        return (*self.transcripts, *(p for p in (self.annotated, self.timeline, self.report) if p is not None))


@dataclass(frozen=True)
class TranscriptionSettings:
    records: str = "frame"
    """What one JSON Lines / CSV record describes: "frame" or "segment"."""
    min_duration_s: float = 0.5
    """Shortest change of caption that starts a new cue."""
    keep_partial: bool = False
    """Keep what could be read of a truncated video instead of failing."""
    progress: bool = True
    start_s: float = 0.0
    """Where in the video to begin (found by seeking); the outputs keep the video's own times."""
    end_s: float | None = None
    """Where to stop, or None for the end."""
    overlap: bool = True
    """Decode and detect the next frame on a second thread while this one is classified and written
    (both cores busy); the results are the same frame for frame (tests/test_one_voice.py checks)."""
    embed_subtitles: bool = False
    """Put the captions in the annotated copy as a subtitle track too."""
    run_info: tuple[tuple[str, str], ...] = ()
    """How the run was made (model, settings, version), as the --report page shows it."""
    max_side: int = DEFAULT_MAX_IMAGE_SIDE
    """Largest frame, in pixels per side, that a video may have (checked before decoding)."""
    wording: str = DEFAULT_WORDING
    """How every output words its captions ("looks happy" or "happy"; `emocap.labels.WORDINGS`)."""

    def __post_init__(self) -> None:
        check_wording(self.wording)


@dataclass(frozen=True)
class TranscriptionResult:
    plan: OutputPlan
    frames: int
    duration_s: float
    faces_seen: int
    summary: object
    """The `EmotionSummary` of the video's faces."""


def find_videos(input_path: Path) -> list[Path]:
    """The video to transcribe, or the videos directly in a folder (not our own annotated copies)."""
    if input_path.is_file():
        return [input_path]
    if not input_path.is_dir():
        from emocap.sources import no_such_input

        raise SourceError(no_such_input(input_path, str(input_path), "file or folder"))
    videos = sorted(
        path for path in input_path.iterdir()
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and not is_annotated_copy(path)
    )
    if not videos:
        raise SourceError(f"folder {str(input_path)!r} has no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return videos


def transcribe_video(plan: OutputPlan, pipeline, settings: TranscriptionSettings = TranscriptionSettings()) -> TranscriptionResult:
    """One video through `pipeline` into all the outputs of `plan`, in one pass. An error or a signal
    leaves none of them written (DataError for a truncated video, unless settings.keep_partial)."""
    from tqdm import tqdm

    from emocap.sources import open_path

    last_time = settings.start_s
    with all_or_nothing(), contextlib.ExitStack() as stack:
        source = stack.enter_context(open_path(
            plan.video, start_s=settings.start_s, end_s=settings.end_s, max_image_side=settings.max_side
        ))
        fps = source.fps or FALLBACK_FPS
        outputs = open_outputs(stack, plan, settings, fps=fps, frame_size=source.size)
        progress = stack.enter_context(tqdm(
            total=source.frame_count, desc=plan.video.name, unit="frame", disable=None if settings.progress else True,
            leave=False,
        ))
        # Detected one frame ahead on a second thread; classified (finish) on this one, beside the writers.
        for frame, detected in run_ahead(source, lambda frame: pipeline.detect(frame.image_bgr), overlap=settings.overlap):
            outputs.add(frame.image_bgr, pipeline.finish(detected, frame.time_s))
            last_time = frame.time_s
            progress.update()
        check_complete(source.truncated, source.end_reason, settings)
        return finish_outputs(outputs, plan, end_time_s=last_time + 1.0 / fps)


def transcribe_videos(
    plans: Iterable[OutputPlan], pipeline, settings: TranscriptionSettings = TranscriptionSettings(),
) -> Iterator[tuple[OutputPlan, TranscriptionResult | EmocapError]]:
    """Each video in turn in this process, with fresh identities and memory: its result, or the error
    that stopped it (the next video goes on)."""
    for plan in plans:
        pipeline.reset()
        try:
            yield plan, transcribe_video(plan, pipeline, settings)
        except EmocapError as error:
            yield plan, error


def write_transcript(
    plan: OutputPlan, results: Iterable, settings: TranscriptionSettings, *, fps: float | None,
    frame_size: tuple[int, int],
) -> TranscriptionResult:
    """All the outputs of `plan` from results worked out elsewhere (a video's chunks, transcribed by
    Ray workers and stitched): the same writers as `transcribe_video`, so the same files. Only the
    annotated copy needs the pictures: the video is decoded again here for it."""
    from emocap.sources import open_path

    fps = fps or FALLBACK_FPS
    last_time = settings.start_s
    with all_or_nothing(), contextlib.ExitStack() as stack:
        outputs = open_outputs(stack, plan, settings, fps=fps, frame_size=frame_size)
        images = iter(()) if plan.annotated is None else (
            frame.image_bgr for frame in stack.enter_context(open_path(
                plan.video, start_s=settings.start_s, end_s=settings.end_s, max_image_side=settings.max_side
            ))
        )
        for result in results:
            outputs.add(next(images, None), result)
            last_time = result.time_s
        return finish_outputs(outputs, plan, end_time_s=last_time + 1.0 / fps)


def open_outputs(stack: contextlib.ExitStack, plan: OutputPlan, settings: TranscriptionSettings, *, fps: float,
                 frame_size: tuple[int, int]):
    """Every writer of `plan`, opened inside `stack` (so that an error discards them all), behind one
    `TranscriptOutputs`."""
    from emocap.outputs import AnnotatedVideoWriter, CaptionOverlay, EmotionSummary, SegmentBuilder, writer_for
    from emocap.outputs.html_report import HtmlReport
    from emocap.outputs.transcript import TranscriptOutputs

    writers = [
        stack.enter_context(writer_for(path, records=settings.records, wording=settings.wording))
        for path in plan.transcripts
    ]
    if plan.report is not None:  # the page plays the annotated copy when there is one
        report = HtmlReport(
            plan.report, video=plan.annotated or plan.video, source=plan.video, run=dict(settings.run_info),
            # The annotated copy of a part begins at 0; the source keeps its own times.
            video_offset_s=settings.start_s if plan.annotated else 0.0,
        )
        writers.append(stack.enter_context(report))
    return TranscriptOutputs(
        writers,
        builder=SegmentBuilder(min_duration_s=settings.min_duration_s, wording=settings.wording),
        summary=EmotionSummary(keep_timeline=plan.timeline is not None),
        video=None if plan.annotated is None else stack.enter_context(
            AnnotatedVideoWriter(
                plan.annotated, fps=fps, frame_size=frame_size, audio_from=plan.video,
                subtitles=settings.embed_subtitles, start_s=settings.start_s, end_s=settings.end_s,
            )
        ),
        overlay=CaptionOverlay(wording=settings.wording),
    )


def check_complete(truncated: bool, end_reason: str | None, settings: TranscriptionSettings) -> None:
    """A video that ended early is an error (nothing is written), or a warning with --keep-partial."""
    if not truncated:
        return
    if not settings.keep_partial:
        raise DataError(f"{end_reason}; nothing was written (--keep-partial keeps what could be read)")
    print(f"emocap transcribe: warning: {end_reason}; keeping what was read", file=sys.stderr)


def finish_outputs(outputs, plan: OutputPlan, *, end_time_s: float) -> TranscriptionResult:
    """Close the last segments at the video's end, save the timeline; what the run found."""
    outputs.finish(end_time_s=end_time_s)
    if plan.timeline is not None:
        outputs.summary.save_timeline(plan.timeline, title=plan.video.name)
    return TranscriptionResult(plan, outputs.frames, end_time_s, outputs.faces_seen, outputs.summary)
