"""A long video as chunks transcribed apart and stitched back into one transcript.

The costly work of a video (decoding, detection, classification) is cut into
chunks of about a minute, each decoded by seeking, so that several processes
(Ray workers, `emocap.cluster`) can share one video. Each chunk starts a couple
of seconds early: over that warm-up its detector and shot-change detector come
into the state one whole-video pass has at the chunk's start. A worker sends
back its own frames' faces as found and looked at (boxes, probabilities, the
classifier's embeddings, and how each frame follows the last), untracked.

The driver runs the rest of the pipeline (`Pipeline.follow`: track, smooth,
order, confirm) once over the chunks' faces in order. Those stages need no
network, and they remember a face longer than any warm-up replays: the
smoother's hysteresis makes a caption depend on the whole past of a face, and
the tracker gives a face that comes back its number from a look kept up to
`AppearanceTracker.remember_frames` (10 s), which may lie chunks before.

So the transcript is that of a single pass: the same frames and times (each
frame belongs to exactly one chunk, by its own time), the same face numbers
and the same captions; tests/test_cluster.py checks it on the bundled clip.
Conditions: the detection schedule (`--detect-every`, `--full-scan-every`)
is found from frame times, which is exact for constant frame rates; a
variable-rate video may see a few different boxes after a chunk's start.
The price is the embeddings sent to the driver, which holds a video's chunks
until the last is in: 2 KB per face and frame (the built-in model's 512
float32s), some 220 MB for an hour of one face at 30 fps.

Everything here is plain Python and NumPy: `transcribe_chunk` is the work of
one task, what it returns is arrays, and the stitching is functions of them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from emocap.errors import DataError, EmocapError, SourceError
from emocap.images import DEFAULT_MAX_IMAGE_SIDE
from emocap.pipeline_config import PipelineConfig
from emocap.types import Faces, FrameResult

DEFAULT_CHUNK_S = 60.0
"""Seconds of video per task: long enough that the warm-up costs little (3%), short enough that
a 10-minute video keeps ten workers busy and a lost worker repeats a minute at most."""
DEFAULT_OVERLAP_S = 2.0
"""Warm-up before each chunk's start, decoded and run through the detectors but not kept."""
MIN_OVERLAP_FRAMES = 30
"""...and at least this many frames (2 s at 15 fps): the detection schedule is found within
`detect_every * full_scan_every` frames (4 by default)."""
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
    overlap_s: float = DEFAULT_OVERLAP_S, max_chunks: int = MAX_CHUNKS, what: str = "the video",
) -> tuple[Chunk, ...]:
    """The part from `start_s` to `end_s` (None: the end) of a video of `duration_s` seconds (None:
    unknown, one chunk) in chunks of equal length, about `chunk_s` each. The last one reads to
    `end_s` as given, so no frame past the container's stated duration is lost. DataError, naming
    `what`, for more than `max_chunks` chunks: a length only a damaged or false header gives."""
    if not chunk_s > 0 or not overlap_s >= 0:
        raise ValueError(f"chunk_s must be positive and overlap_s >= 0, got {chunk_s!r} and {overlap_s!r}")
    stop = duration_s if end_s is None else (end_s if duration_s is None else min(end_s, duration_s))
    if stop is None or stop <= start_s:
        return (Chunk(0, start_s, start_s, end_s),)
    count = max(1, round((stop - start_s) / chunk_s))
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


def overlap_for(fps: float | None, overlap_s: float = DEFAULT_OVERLAP_S) -> float:
    """The warm-up for a video of `fps` frames a second: `overlap_s`, and MIN_OVERLAP_FRAMES at least."""
    return max(overlap_s, MIN_OVERLAP_FRAMES / fps) if fps else overlap_s


@dataclass(frozen=True)
class ModelOnWorkers:
    """Where a worker finds the emotion model: the built-in default (both None), a model inside the
    emocap package it runs (`in_package`, a path relative to the package), or the file `carried`
    in its current folder (the working_dir of the Ray runtime environment)."""

    in_package: str | None = None
    carried: str | None = None

    def path(self) -> str | None:
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
    tail_from_s: float | None
    """Where the next chunk's warm-up starts: the faces after it are described for the stitching."""
    pipeline: PipelineConfig
    """The pipeline's settings, as the command line set them; its model is `model`'s."""
    model: ModelOnWorkers = ModelOnWorkers()
    max_side: int = DEFAULT_MAX_IMAGE_SIDE
    """Largest frame, in pixels per side, that the video may have (--max-image-side)."""


@dataclass(frozen=True, eq=False)
class FrameColumns:
    """Faces of consecutive frames as flat arrays, one row per face, `counts[i]` rows for frame i, and
    how each frame follows the last (`shots`, from `ShotChangeDetector`; `fresh`: its boxes found in it,
    not carried over): a chunk's results in a handful of arrays, quick to send from a worker to the driver."""

    times: np.ndarray
    sizes: np.ndarray
    shots: np.ndarray
    fresh: np.ndarray
    counts: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    probs: np.ndarray
    embeddings: np.ndarray

    @classmethod
    def pack(cls, frames: Sequence[tuple[float, tuple[int, int], Faces, int, bool]], num_classes: int) -> "FrameColumns":
        """`frames` as (time, frame size, looked-at faces, shot, fresh)."""
        faces = [frame[2] for frame in frames]

        def rows(name: str, tail: tuple[int, ...], dtype) -> np.ndarray:
            parts = [np.asarray(getattr(face, name), dtype).reshape(len(face), *tail) for face in faces]
            return np.concatenate(parts) if parts else np.zeros((0, *tail), dtype)

        # A frame without faces may have embeddings of width 0 where the others have the model's.
        width = next((face.embeddings.shape[1] for face in faces if len(face)), 0)
        return cls(
            times=np.array([frame[0] for frame in frames], np.float64),
            sizes=np.array([frame[1] for frame in frames], np.int64).reshape(-1, 2),
            shots=np.array([frame[3] for frame in frames], np.int8),
            fresh=np.array([frame[4] for frame in frames], bool),
            counts=np.array([len(face) for face in faces], np.int64),
            boxes=rows("boxes", (4,), np.float32),
            scores=rows("scores", (), np.float32),
            landmarks=rows("landmarks", (5, 2), np.float32),
            probs=rows("probs", (num_classes,), np.float32),
            embeddings=rows("embeddings", (width,), np.float32),
        )

    def __len__(self) -> int:
        return len(self.times)

    def frames(self) -> Iterator[tuple[float, tuple[int, int], Faces, int, bool]]:
        """(time, frame size, faces, shot, fresh) of each frame; the faces as detected and looked at,
        untracked (the driver's `Pipeline.follow` tracks them)."""
        ends = np.cumsum(self.counts)
        for i, (end, count) in enumerate(zip(ends.tolist(), self.counts.tolist())):
            rows = slice(end - count, end)
            faces = Faces(boxes=self.boxes[rows], scores=self.scores[rows], landmarks=self.landmarks[rows],
                          probs=self.probs[rows], embeddings=self.embeddings[rows])
            size = (int(self.sizes[i, 0]), int(self.sizes[i, 1]))
            yield float(self.times[i]), size, faces, int(self.shots[i]), bool(self.fresh[i])


@dataclass(frozen=True, eq=False)
class ChunkResult:
    """What a worker sends back for one chunk: its own frames, how many frames it warmed up on before
    them, and whether the video ended early."""

    labels: tuple[str, ...]
    kept: FrameColumns
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
    """The tasks of one video: its chunks, each told where the next one's warm-up starts."""
    return [
        ChunkJob(str(Path(video).resolve()), chunk, facts.first_time_s, facts.fps,
                 chunks[i + 1].decode_from_s if i + 1 < len(chunks) else None, pipeline, model, max_side)
        for i, chunk in enumerate(chunks)
    ]


# --- the work of one task --------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def worker_pipeline(config: PipelineConfig, model: ModelOnWorkers):
    """The pipeline of a worker process, built once and kept for the chunks that follow (loading the
    networks takes longer than a short chunk)."""
    import cv2

    from emocap.pipeline import Pipeline

    cv2.setNumThreads(WORKER_THREADS)
    return Pipeline(config=config.with_settings(model=model.path(), threads=WORKER_THREADS))


def transcribe_chunk(job: ChunkJob) -> ChunkResult | ChunkFailure:
    """One chunk through the pipeline (a Ray task, or called directly). Errors a user should see
    come back as a ChunkFailure; anything else is a bug and raises."""
    pipeline = worker_pipeline(job.pipeline, job.model)
    pipeline.reset()
    try:
        return _transcribe_chunk(job, pipeline)
    except SourceError as error:
        if job.chunk.index == 0 or not Path(job.video).is_file():  # unreadable, or not on this worker's machine
            return ChunkFailure(str(error))
        # Later chunks are found by seeking: nothing there means the video stops before its container says.
        return ChunkResult(
            pipeline.labels, FrameColumns.pack([], len(pipeline.labels)), truncated=True,
            end_reason=f"{job.video!r} has no frames after {job.chunk.decode_from_s:g} s, though its container "
            "promises more: the file looks truncated",
        )
    except EmocapError as error:
        return ChunkFailure(str(error))


def _transcribe_chunk(job: ChunkJob, pipeline) -> ChunkResult:
    from emocap.sources import open_path
    from emocap.transcription import detected_frames

    chunk, labels = job.chunk, pipeline.labels
    kept, warmup_frames = [], 0
    period = pipeline.detect_every * pipeline.full_scan_every
    with open_path(job.video, start_s=chunk.decode_from_s, end_s=chunk.end_s, max_image_side=job.max_side,
                   decode_threads=WORKER_THREADS) as source:
        frames = schedule_aligned(source, first_time_s=job.first_time_s, fps=job.fps, period=period)
        for frame, detected in detected_frames(frames, pipeline, overlap=False):
            if frame.time_s < chunk.keep_from_s:  # the warm-up brings the detectors up to date, no more
                warmup_frames += 1
                continue
            size = (detected.frame.shape[1], detected.frame.shape[0])
            kept.append((frame.time_s, size, pipeline.look(detected), detected.shot, detected.fresh))
        truncated, end_reason = source.truncated, source.end_reason
    return ChunkResult(labels, FrameColumns.pack(kept, len(labels)), warmup_frames, truncated, end_reason)


def schedule_aligned(frames: Iterable, *, first_time_s: float, fps: float | None, period: int) -> Iterator:
    """`frames` from the first whose number in the whole part is a multiple of `period`: there a
    single pass runs a full detection too (`Pipeline.detect` runs the detector on every
    `detect_every`-th frame and scans the whole frame on every `full_scan_every`-th run), so from
    that frame on the chunk's detections are the single pass's. Numbers come from times and `fps`."""
    frames = iter(frames)
    if period > 1 and fps:
        for frame in frames:
            if round((frame.time_s - first_time_s) * fps) % period == 0:
                yield frame
                break
    yield from frames


# --- stitching, on the driver -----------------------------------------------------------------------

def stitched_results(chunks: Iterable[ChunkResult], pipeline) -> Iterator[FrameResult]:
    """The frames of a video's chunks, in order, as one pass gives them: `pipeline` (reset here; only
    its tracking stages run) numbers, smooths, orders and confirms the chunks' faces frame by frame."""
    pipeline.reset()
    index = 0
    for chunk in chunks:
        for time_s, size, faces, shot, fresh in chunk.kept.frames():
            yield FrameResult(index, time_s, size, pipeline.follow(faces, shot=shot, fresh=fresh), chunk.labels)
            index += 1


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
