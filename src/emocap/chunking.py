"""A long video as chunks perceived apart and captioned back into one transcript.

The costly work of a video (decoding, detection, classification: perception) is cut into chunks of
about a minute, each decoded by seeking, so that several processes (Ray workers, `emocap.cluster`)
can share one video. A worker runs perception only and sends back its own frames' `FaceRecord`s as
`RecordColumns` (boxes, probabilities, the classifier's embeddings, how each frame follows the last),
untracked. The driver runs captioning (`Captioning`: track, smooth, order, confirm) once over the
chunks' records in order: those stages need no network, and they remember a face longer than any
warm-up could replay (the smoother's hysteresis makes a caption depend on the whole past of a face;
the tracker gives a face that comes back its number from a look kept up to 10 s, which may lie chunks before).

The chunk contract is `WarmUp` (how far a chunk starts early, and why: perception's schedule must be
the single pass's from the chunk's first frame on) and `ChunkResult` (what a chunk sends back); with
it the transcript is that of a single pass: the same frames and times (each frame belongs to exactly
one chunk, by its own time), the same face numbers and captions; tests/test_cluster.py checks it on
the bundled clip. Condition: frame numbers are found from frame times, which is exact for constant
frame rates; a variable-rate video may see a few different boxes after a chunk's start. The price is
the embeddings sent to the driver, which holds a video's chunks until the last is in: 2 KB per face
and frame (the built-in model's 512 float32s), some 220 MB for an hour of one face at 30 fps.

Everything here is plain Python and NumPy: `transcribe_chunk` is the work of one task, what it
returns is arrays, and the stitching is functions of them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from emocap.errors import DataError, EmocapError, SourceError
from emocap.images import DEFAULT_MAX_IMAGE_SIDE
from emocap.pipeline_config import PipelineConfig
from emocap.record import RecordColumns
from emocap.types import FrameResult

DEFAULT_CHUNK_S = 60.0
"""Seconds of video per task: long enough that starting one (a seek, the warm-up) costs little, short
enough that a 10-minute video keeps ten workers busy and a lost worker repeats a minute at most."""
DEFAULT_OVERLAP_S = 2.0
"""Warm-up before each chunk's start when the video's frame rate is unknown (`WarmUp.seconds_at`)."""
MAX_CHUNKS = 10_000
"""Chunks one video may be cut into: a week of video in minute-long chunks, more than the driver can
stitch (it holds a video's chunks until the last is in: 220 MB an hour for one face). A header that
claims more is damaged or false (31 years in a 46 KB file was 16 million chunks, 4 GB to plan)."""
WORKER_THREADS = 1
"""Threads per task (ONNX Runtime's, FFmpeg's, OpenCV's): each task is given one CPU, and the tasks
fill the cores; more threads a task would only contend for them."""


@dataclass(frozen=True)
class Chunk:
    """One task's part of a video: frames from `keep_from_s` up to `end_s` (None: the video's end)
    are its own; from `decode_from_s` to there, it warms up."""

    index: int
    decode_from_s: float
    keep_from_s: float
    end_s: float | None


def plan_chunks(
    start_s: float, end_s: float | None, duration_s: float | None, *, chunk_s: float = DEFAULT_CHUNK_S,
    overlap_s: float = DEFAULT_OVERLAP_S, max_chunks: int = MAX_CHUNKS, what: str = "the video", workers: int = 1,
) -> tuple[Chunk, ...]:
    """The part from `start_s` to `end_s` (None: the end) of a video of `duration_s` seconds (None:
    unknown, one chunk) in chunks of equal length, about `chunk_s` each. The last one reads to
    `end_s` as given, so no frame past the container's stated duration is lost. DataError, naming
    `what`, for more than `max_chunks` chunks: a length only a damaged or false header gives.

    A part cut at all is cut into a multiple of `workers` chunks (a little shorter than `chunk_s`), so
    that no worker waits out the last round: 5 minute-long chunks on 2 workers took 3 rounds, the last
    on one worker (1.60x one worker), where 6 chunks of 50 s take 3 even ones. A part of one chunk
    stays one: splitting it would start Ray for a video shorter than its start-up repays."""
    if not chunk_s > 0 or not overlap_s >= 0:
        raise ValueError(f"chunk_s must be positive and overlap_s >= 0, got {chunk_s!r} and {overlap_s!r}")
    stop = duration_s if end_s is None else (end_s if duration_s is None else min(end_s, duration_s))
    if stop is None or stop <= start_s:
        return (Chunk(0, start_s, start_s, end_s),)
    count = max(1, round((stop - start_s) / chunk_s))
    if count > 1 and workers > 1:
        count = -(-count // workers) * workers
    if count > max_chunks:
        days = (stop - start_s) / 86400
        span = f"{days / 365.25:.0f} years" if days > 730 else f"{days:.1f} days"
        raise DataError(
            f"{what} says it lasts {stop - start_s:.0f} s ({span}), {count} chunks of {chunk_s:g} s: more than "
            f"{max_chunks}, so its header looks damaged (--workers 1 reads it in one pass)"
        )
    starts = [start_s + (stop - start_s) * k / count for k in range(count)]
    ends = [*starts[1:], end_s]
    return tuple(
        Chunk(k, max(start_s, begin - overlap_s) if k else start_s, begin, end)
        for k, (begin, end) in enumerate(zip(starts, ends))
    )


@dataclass(frozen=True)
class WarmUp:
    """How far before its own first frame a chunk starts, and why.

    A worker runs perception only, whose memory is its schedule's (`PerceptionFeed`): the frame number,
    the faces found last, the last frame's thumbnail. Its decoding starts `seconds_at(fps)` before the
    chunk's first frame, and `aligned` skips to the first frame whose number in the whole part is a
    multiple of `period` (`detect_every * full_scan_every`): the schedule scans that frame whole, as a
    single pass does, whatever came before, so from there on the chunk's faces are the single pass's;
    and from the frame after it, its shots too (the shot detector's only memory is the last frame's
    thumbnail, rebuilt there). That frame comes within `period` frames of the start, so a warm-up of
    `period + 1` frames (one more for frame times either side of a boundary) puts it before the chunk's
    first frame, and no more is needed (tests/test_chunking.py; the chunked transcripts equal to one
    pass's in tests/test_cluster.py). The frames from that one to the chunk's first are the warm-up:
    perceived, and dropped; each costs a worker a whole perception step, so there are no more of them
    than that. Captioning needs none: the driver runs it over every chunk in turn."""

    period: int
    """Frames between two whole scans the schedule fixes: `detect_every * full_scan_every`."""
    overlap_s: float = DEFAULT_OVERLAP_S
    """The warm-up of a video whose frame rate is unknown (its frames cannot be counted in seconds)."""

    @classmethod
    def of(cls, config: PipelineConfig, overlap_s: float = DEFAULT_OVERLAP_S) -> "WarmUp":
        return cls(config.detect_every * config.full_scan_every, overlap_s)

    @property
    def frames(self) -> int:
        """Frames a warm-up holds: the `period` within which the aligned whole scan comes, and one more."""
        return self.period + 1

    def seconds_at(self, fps: float | None) -> float:
        """The warm-up of a video of `fps` frames a second: `frames` (`overlap_s` when `fps` is unknown)."""
        return self.frames / fps if fps else self.overlap_s

    def aligned(self, frames: Iterable, *, first_time_s: float, fps: float | None) -> Iterator:
        """`frames` from the first whose number in the whole part (from its first frame, at `first_time_s`)
        is a multiple of `period`; numbers come from times and `fps`."""
        frames = iter(frames)
        if self.period > 1 and fps:
            for frame in frames:
                if round((frame.time_s - first_time_s) * fps) % self.period == 0:
                    yield frame
                    break
        yield from frames


@dataclass(frozen=True)
class ModelOnWorkers:
    """Where a worker finds the emotion model: the built-in default (all None), a file at an absolute
    path on the worker's machine (`at`: a local Ray's workers read the driver's file), a model inside the
    emocap package it runs (`in_package`, a path relative to the package), or the file `carried` in its
    current folder (the working_dir of the Ray runtime environment)."""

    in_package: str | None = None
    carried: str | None = None
    at: str | None = None

    def path(self) -> str | None:
        if self.at is not None:
            return self.at
        if self.carried is not None:
            return str(Path.cwd() / self.carried)
        if self.in_package is not None:
            return str(Path(__file__).resolve().parent / self.in_package)
        return None


@dataclass(frozen=True)
class ChunkJob:
    """Everything a worker needs for one chunk (plain values: it travels to another machine)."""

    video: str
    """Absolute path, where every worker can read the video."""
    chunk: Chunk
    first_time_s: float
    """Time of the first frame of the whole part transcribed: frame numbers, for the detection schedule."""
    fps: float | None
    pipeline: PipelineConfig
    """The pipeline's settings, as the command line set them (perception's are used); its model is `model`'s."""
    model: ModelOnWorkers = ModelOnWorkers()
    max_side: int = DEFAULT_MAX_IMAGE_SIDE
    """Largest frame, in pixels per side, that the video may have (--max-image-side)."""


@dataclass(frozen=True, eq=False)
class ChunkResult:
    """What a worker sends back for one chunk: the records of its own frames, how many frames it warmed
    up on before them, and whether the video ended early."""

    kept: RecordColumns
    warmup_frames: int = 0
    truncated: bool = False
    end_reason: str | None = None


@dataclass(frozen=True)
class ChunkFailure:
    """A chunk that could not be transcribed, in the words of the error a user sees."""

    message: str


@dataclass(frozen=True)
class VideoFacts:
    """What the driver reads from a video before cutting it: its frame rate and length, the time of
    the first frame of the part to transcribe, and the frame size."""

    fps: float | None
    duration_s: float | None
    first_time_s: float
    size: tuple[int, int]


def probe_video(
    video: str | Path, *, start_s: float = 0.0, end_s: float | None = None, max_side: int = DEFAULT_MAX_IMAGE_SIDE,
) -> VideoFacts:
    """Open the video at `start_s` and decode one frame (SourceError when it cannot be read or its
    frames are larger than `max_side` pixels per side)."""
    from emocap.sources import open_path

    with open_path(video, start_s=start_s, end_s=end_s, max_image_side=max_side) as source:
        first = next(iter(source))
        return VideoFacts(source.fps, source.duration_s, first.time_s, source.size)


def chunk_jobs(
    video: str | Path, facts: VideoFacts, chunks: Sequence[Chunk], pipeline: PipelineConfig,
    model: ModelOnWorkers = ModelOnWorkers(), max_side: int = DEFAULT_MAX_IMAGE_SIDE,
) -> list[ChunkJob]:
    """The tasks of one video: one a chunk."""
    path = str(Path(video).resolve())
    return [ChunkJob(path, chunk, facts.first_time_s, facts.fps, pipeline, model, max_side) for chunk in chunks]


# --- the work of one task --------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def worker_perception(config: PipelineConfig, model: ModelOnWorkers):
    """The perception of a worker process, its networks built once and kept for the chunks that follow
    (loading them takes longer than a short chunk)."""
    import cv2

    from emocap.perception import Perception

    cv2.setNumThreads(WORKER_THREADS)
    return Perception.build(config.with_settings(model=model.path(), threads=WORKER_THREADS))


def transcribe_chunk(job: ChunkJob) -> ChunkResult | ChunkFailure:
    """One chunk through perception (a Ray task, or called directly). Errors a user should see
    come back as a ChunkFailure; anything else is a bug and raises."""
    from emocap.perception import PerceptionFeed

    try:
        return _transcribe_chunk(job, PerceptionFeed(worker_perception(job.pipeline, job.model)))
    except SourceError as error:
        if job.chunk.index == 0 or not Path(job.video).is_file():  # unreadable, or not on this worker's machine
            return ChunkFailure(str(error))
        # Later chunks are found by seeking: nothing there means the video stops before its container says.
        return ChunkResult(
            RecordColumns.pack([]), truncated=True,
            end_reason=f"{job.video!r} has no frames after {job.chunk.decode_from_s:g} s, though its container "
            "promises more: the file looks truncated",
        )
    except EmocapError as error:
        return ChunkFailure(str(error))


def _transcribe_chunk(job: ChunkJob, feed) -> ChunkResult:
    from emocap.sources import open_path

    chunk, warm_up = job.chunk, WarmUp.of(job.pipeline)
    kept, warmup_frames = [], 0
    with open_path(job.video, start_s=chunk.decode_from_s, end_s=chunk.end_s, max_image_side=job.max_side,
                   decode_threads=WORKER_THREADS) as source:
        for frame in warm_up.aligned(source, first_time_s=job.first_time_s, fps=job.fps):
            detected = feed.detect(frame.image_bgr)
            if frame.time_s < chunk.keep_from_s:  # the warm-up brings the schedule up to date, no more
                warmup_frames += 1
                continue
            kept.append(feed.perception.look(detected, frame.time_s))
        truncated, end_reason = source.truncated, source.end_reason
    return ChunkResult(RecordColumns.pack(kept), warmup_frames, truncated, end_reason)


# --- stitching, on the driver -----------------------------------------------------------------------

def stitched_results(chunks: Iterable[ChunkResult], captioning) -> Iterator[FrameResult]:
    """The frames of a video's chunks, in order, as one pass gives them: `captioning` (a `Captioning`,
    reset here) numbers, smooths, orders and confirms the chunks' records frame by frame."""
    captioning.reset()
    for chunk in chunks:
        for record in chunk.kept.records():
            yield captioning.caption(record)


def complete_chunks(results: Sequence[ChunkResult]) -> tuple[list[ChunkResult], str | None]:
    """The chunks a single pass would have read: all of them, or up to the first that ended early (a
    damaged or truncated file ends the video there); and why it ended early, if it did."""
    for index, result in enumerate(results):
        if result.truncated:
            return list(results[: index + 1]), result.end_reason
    return list(results), None


def first_failure(results: Sequence[ChunkResult | ChunkFailure]) -> EmocapError | None:
    """The error of the video's first failed chunk, if one failed."""
    for result in results:
        if isinstance(result, ChunkFailure):
            return EmocapError(result.message)
    return None


def seconds_of(chunk: Chunk, duration_s: float | None) -> float:
    """Seconds of video a chunk keeps, for the progress bar (its planned share when the end is open)."""
    if chunk.end_s is not None:
        return chunk.end_s - chunk.keep_from_s
    if duration_s is not None and math.isfinite(duration_s):
        return max(duration_s - chunk.keep_from_s, 0.0)
    return 0.0
