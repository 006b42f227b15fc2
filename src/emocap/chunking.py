"""A long video as chunks transcribed apart and stitched back into one transcript.

The costly work of a video (decoding, detection, classification) is cut into
chunks of about a minute, each decoded by seeking, so that several processes
(Ray workers, `emocap.cluster`) can share one video. Each chunk starts a couple
of seconds early: over that warm-up its detector and tracker come into the
state one whole-video pass has at the chunk's start, and the faces seen there,
which the chunk before also saw, tell which face is which. The driver then:

- numbers the faces: a chunk's face takes the number of the face of the chunk
  before whose boxes it shares in the overlap (optimal assignment on box
  overlap, weighted towards the chunk's start, with the classifier's embedding
  of the face breaking ties); other faces get new numbers in order of
  appearance, as a single pass gives them;
- runs the per-face memory (the smoother) once over the stitched faces: it is
  cheap, and its hysteresis makes a caption depend on the whole past of a face,
  which no warm-up can replay.

So the transcript is that of a single pass: the same frames and times (each
frame belongs to exactly one chunk, by its own time), the same face numbers
and the same captions; tests/test_cluster.py checks it on the bundled clip.
Conditions: the detection schedule (`--detect-every`, `--full-scan-every`)
is found from frame times, which is exact for constant frame rates; a
variable-rate video may see a few different boxes after a chunk's start.

Everything here is plain Python and NumPy: `transcribe_chunk` is the work of
one task, what it returns is arrays, and the stitching is functions of them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from emocap.errors import EmocapError, SourceError
from emocap.images import DEFAULT_MAX_IMAGE_SIDE
from emocap.types import Faces, FrameResult

DEFAULT_CHUNK_S = 60.0
"""Seconds of video per task: long enough that the warm-up costs little (3%), short enough that
a 10-minute video keeps ten workers busy and a lost worker repeats a minute at most."""
DEFAULT_OVERLAP_S = 2.0
"""Warm-up before each chunk's start, decoded and processed but not kept."""
MIN_OVERLAP_FRAMES = 30
"""...and at least this many frames (2 s at 15 fps): the tracker forgets a missing face after 15
frames and its velocities settle within about 10, and the detection schedule is found within
`detect_every * full_scan_every` frames."""
WORKER_THREADS = 1
"""ONNX Runtime threads per task: each task is given one CPU, and the tasks fill the cores."""
LOOK_EVERY = 5
"""Frames between two embeddings of the faces in an overlap (their appearance, for stitching)."""
MIN_TRACK_OVERLAP = 0.5
"""Mean box overlap (IoU) over the overlap's frames for two faces to be one."""
APPEARANCE_WEIGHT = 0.2
"""Weight of the embeddings' cosine similarity beside the box overlap: enough to tell apart two
faces whose boxes both fit, never enough to join faces whose boxes do not."""


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
    overlap_s: float = DEFAULT_OVERLAP_S,
) -> tuple[Chunk, ...]:
    """The part from `start_s` to `end_s` (None: the end) of a video of `duration_s` seconds (None:
    unknown, one chunk) in chunks of equal length, about `chunk_s` each. The last one reads to
    `end_s` as given, so no frame past the container's stated duration is lost."""
    if not chunk_s > 0 or not overlap_s >= 0:
        raise ValueError(f"chunk_s must be positive and overlap_s >= 0, got {chunk_s!r} and {overlap_s!r}")
    stop = duration_s if end_s is None else (end_s if duration_s is None else min(end_s, duration_s))
    if stop is None or stop <= start_s:
        return (Chunk(0, start_s, start_s, end_s),)
    count = max(1, round((stop - start_s) / chunk_s))
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
    pipeline: tuple[tuple[str, object], ...]
    """The keyword arguments of `Pipeline.build` (without the model), as the command line set them."""
    model: ModelOnWorkers = ModelOnWorkers()
    max_side: int = DEFAULT_MAX_IMAGE_SIDE
    """Largest frame, in pixels per side, that the video may have (--max-image-side)."""


@dataclass(frozen=True, eq=False)
class FrameColumns:
    """Faces of consecutive frames as flat arrays, one row per face, `counts[i]` rows for frame i:
    a chunk's results in a handful of arrays, quick to send from a worker to the driver."""

    times: np.ndarray
    sizes: np.ndarray
    counts: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    track_ids: np.ndarray
    probs: np.ndarray

    @classmethod
    def pack(cls, results: Sequence[FrameResult], num_classes: int) -> "FrameColumns":
        def rows(name: str, tail: tuple[int, ...], dtype) -> np.ndarray:
            parts = [np.asarray(getattr(result.faces, name), dtype).reshape(-1, *tail) for result in results]
            return np.concatenate(parts) if parts else np.zeros((0, *tail), dtype)

        return cls(
            times=np.array([result.time_s for result in results], np.float64),
            sizes=np.array([result.frame_size for result in results], np.int64).reshape(-1, 2),
            counts=np.array([len(result.faces) for result in results], np.int64),
            boxes=rows("boxes", (4,), np.float32),
            scores=rows("scores", (), np.float32),
            landmarks=rows("landmarks", (5, 2), np.float32),
            track_ids=rows("track_ids", (), np.int64),
            probs=rows("probs", (num_classes,), np.float32),
        )

    def __len__(self) -> int:
        return len(self.times)

    def frames(self) -> Iterator[tuple[float, tuple[int, int], Faces]]:
        """(time, frame size, faces) of each frame; the faces in the worker's reading order, tracked
        and classified, with nothing displayed yet (the driver's smoother decides that)."""
        ends = np.cumsum(self.counts)
        for i, (end, count) in enumerate(zip(ends.tolist(), self.counts.tolist())):
            rows = slice(end - count, end)
            faces = Faces(boxes=self.boxes[rows], scores=self.scores[rows], landmarks=self.landmarks[rows],
                          track_ids=self.track_ids[rows], probs=self.probs[rows])
            yield float(self.times[i]), (int(self.sizes[i, 0]), int(self.sizes[i, 1])), faces

    def renumbered(self, numbers: dict[int, int]) -> "FrameColumns":
        """The same frames with each track id replaced by `numbers[id]` (every id must be there)."""
        if not len(self.track_ids):
            return self
        old = np.array(sorted(numbers), np.int64)
        new = np.array([numbers[key] for key in old.tolist()], np.int64)
        return FrameColumns(**{**self.__dict__, "track_ids": new[np.searchsorted(old, self.track_ids)]})


@dataclass(frozen=True, eq=False)
class ChunkResult:
    """What a worker sends back for one chunk: its own frames, the warm-up's (for the stitching
    only), the mean embedding of each face in the warm-up and near the end (by the chunk's own
    track ids), and whether the video ended early."""

    labels: tuple[str, ...]
    warmup: FrameColumns
    kept: FrameColumns
    looks_at_start: dict[int, np.ndarray] = field(default_factory=dict)
    looks_at_end: dict[int, np.ndarray] = field(default_factory=dict)
    truncated: bool = False
    end_reason: str | None = None


@dataclass(frozen=True)
class ChunkFailure:
    """A chunk that could not be transcribed, in the words of the error a user sees."""

    message: str


class LookSums:
    """Running sums of each track's embeddings, for its mean appearance."""

    def __init__(self) -> None:
        self._sums: dict[int, np.ndarray] = {}
        self._counts: dict[int, int] = {}

    def add(self, track_ids: np.ndarray, embeddings: np.ndarray) -> None:
        for track, embedding in zip(track_ids.tolist(), embeddings):
            self._sums[track] = self._sums.get(track, 0) + embedding.astype(np.float64)
            self._counts[track] = self._counts.get(track, 0) + 1

    def means(self) -> dict[int, np.ndarray]:
        """Each track's mean embedding, scaled to length 1 (so a dot product is the cosine)."""
        means = {track: total / self._counts[track] for track, total in self._sums.items()}
        return {track: (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32) for track, mean in means.items()}


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
    video: str | Path, facts: VideoFacts, chunks: Sequence[Chunk], pipeline: dict, model: ModelOnWorkers = ModelOnWorkers(),
    max_side: int = DEFAULT_MAX_IMAGE_SIDE,
) -> list[ChunkJob]:
    """The tasks of one video: its chunks, each told where the next one's warm-up starts."""
    settings = tuple(sorted(pipeline.items()))
    return [
        ChunkJob(str(Path(video).resolve()), chunk, facts.first_time_s, facts.fps,
                 chunks[i + 1].decode_from_s if i + 1 < len(chunks) else None, settings, model, max_side)
        for i, chunk in enumerate(chunks)
    ]


# --- the work of one task --------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def worker_pipeline(settings: tuple[tuple[str, object], ...], model: ModelOnWorkers):
    """The pipeline of a worker process, built once and kept for the chunks that follow (loading the
    networks takes longer than a short chunk)."""
    from emocap.pipeline import Pipeline

    return Pipeline.build(**dict(settings), model=model.path(), threads=WORKER_THREADS)


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
        nothing = FrameColumns.pack([], len(pipeline.labels))
        return ChunkResult(
            pipeline.labels, nothing, nothing, truncated=True,
            end_reason=f"{job.video!r} has no frames after {job.chunk.decode_from_s:g} s, though its container "
            "promises more: the file looks truncated",
        )
    except EmocapError as error:
        return ChunkFailure(str(error))


def _transcribe_chunk(job: ChunkJob, pipeline) -> ChunkResult:
    from emocap.sources import open_path
    from emocap.transcription import detected_frames

    chunk, labels = job.chunk, pipeline.labels
    warmup, kept = [], []
    looks = {"start": LookSums(), "end": LookSums()}
    period = pipeline.detect_every * pipeline.full_scan_every
    with open_path(job.video, start_s=chunk.decode_from_s, end_s=chunk.end_s, max_image_side=job.max_side) as source:
        frames = schedule_aligned(source, first_time_s=job.first_time_s, fps=job.fps, period=period)
        for ordinal, (frame, detected) in enumerate(detected_frames(frames, pipeline, overlap=False)):
            result = pipeline.finish(detected, frame.time_s)
            in_warmup = frame.time_s < chunk.keep_from_s
            (warmup if in_warmup else kept).append(result)
            near_end = job.tail_from_s is not None and frame.time_s >= job.tail_from_s
            # The faces' embeddings come from the pipeline's own run of the classifier (none, d = 0, for a
            # model exported without them: boxes alone stitch the chunks).
            faces = result.faces
            if (in_warmup or near_end) and ordinal % LOOK_EVERY == 0 and len(faces) and faces.embeddings.shape[1]:
                looks["start" if in_warmup else "end"].add(faces.track_ids, faces.embeddings)
        truncated, end_reason = source.truncated, source.end_reason
    return ChunkResult(
        labels, FrameColumns.pack(warmup, len(labels)), FrameColumns.pack(kept, len(labels)),
        looks["start"].means(), looks["end"].means(), truncated, end_reason,
    )


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

def _time_keys(times: np.ndarray) -> list[int]:
    """Frame times as whole microseconds: two workers compute the same time for the same frame."""
    return np.round(times * 1e6).astype(np.int64).tolist()


def match_tracks(
    later: FrameColumns, earlier: FrameColumns, *, later_looks: dict[int, np.ndarray] | None = None,
    earlier_looks: dict[int, np.ndarray] | None = None,
) -> dict[int, int]:
    """{later track id: earlier track id} for the faces of two chunks that are one: over the frames
    both have (same times), the box overlap (IoU) of each pair, weighted so the frames nearest the
    later chunk's start count most and divided by the weight of the frames where either face is
    there; plus APPEARANCE_WEIGHT times the cosine of their mean embeddings. An optimal one-to-one
    assignment; pairs under MIN_TRACK_OVERLAP of box overlap are not matched."""
    from scipy.optimize import linear_sum_assignment

    from emocap.geometry import iou_matrix

    earlier_rows = dict(zip(_time_keys(earlier.times), np.cumsum(earlier.counts).tolist()))
    shared = [(key, end) for key, end in zip(_time_keys(later.times), np.cumsum(later.counts).tolist()) if key in earlier_rows]
    later_ids, earlier_ids = np.unique(later.track_ids), np.unique(earlier.track_ids)
    if not shared or not len(later_ids) or not len(earlier_ids):
        return {}
    later_counts = dict(zip(_time_keys(later.times), later.counts.tolist()))
    earlier_counts = dict(zip(_time_keys(earlier.times), earlier.counts.tolist()))
    overlap = np.zeros((len(later_ids), len(earlier_ids)))
    either = np.zeros_like(overlap)
    for weight, (key, later_end) in enumerate(shared, start=1):
        a = slice(later_end - later_counts[key], later_end)
        b = slice(earlier_rows[key] - earlier_counts[key], earlier_rows[key])
        rows = np.searchsorted(later_ids, later.track_ids[a])
        columns = np.searchsorted(earlier_ids, earlier.track_ids[b])
        if len(rows) and len(columns):
            overlap[np.ix_(rows, columns)] += weight * iou_matrix(later.boxes[a], earlier.boxes[b])
        present_later = np.isin(np.arange(len(later_ids)), rows)
        present_earlier = np.isin(np.arange(len(earlier_ids)), columns)
        either += weight * (present_later[:, None] | present_earlier[None, :])
    box_score = overlap / np.maximum(either, 1e-12)
    score = box_score + APPEARANCE_WEIGHT * _cosines(later_ids, earlier_ids, later_looks or {}, earlier_looks or {})
    pairs = zip(*linear_sum_assignment(score, maximize=True))
    return {int(later_ids[r]): int(earlier_ids[c]) for r, c in pairs if box_score[r, c] >= MIN_TRACK_OVERLAP}


def _cosines(rows: np.ndarray, columns: np.ndarray, row_looks: dict, column_looks: dict) -> np.ndarray:
    """Cosine similarity of the unit mean embeddings of each pair; 0 where either has none."""
    cosines = np.zeros((len(rows), len(columns)))
    for i, row in enumerate(rows.tolist()):
        for j, column in enumerate(columns.tolist()):
            if row in row_looks and column in column_looks:
                cosines[i, j] = float(row_looks[row] @ column_looks[column])
    return cosines


class IdentityStitcher:
    """Gives the faces of one video's chunks, fed in order, the numbers a single pass gives them."""

    def __init__(self) -> None:
        self._next_id = 0
        self._previous: FrameColumns | None = None
        self._previous_looks: dict[int, np.ndarray] = {}

    def add(self, result: ChunkResult) -> FrameColumns:
        """The chunk's own frames with the video's face numbers (as track ids)."""
        numbers = {} if self._previous is None else match_tracks(
            result.warmup, self._previous, later_looks=result.looks_at_start, earlier_looks=self._previous_looks,
        )
        for track in np.unique(result.kept.track_ids).tolist():  # ids grow in order of appearance
            if track not in numbers:
                numbers[track] = self._next_id
                self._next_id += 1
        kept = result.kept.renumbered(numbers)
        self._previous = kept
        self._previous_looks = {numbers[track]: look for track, look in result.looks_at_end.items() if track in numbers}
        return kept


def stitched_results(chunks: Iterable[ChunkResult], smoother, labels: tuple[str, ...]) -> Iterator[FrameResult]:
    """The frames of a video's chunks, in order, as one pass gives them: faces numbered across the
    chunks and `smoother` (reset here) run over them all."""
    smoother.reset()
    stitcher = IdentityStitcher()
    index = 0
    for chunk in chunks:
        for time_s, size, faces in stitcher.add(chunk).frames():
            yield FrameResult(index, time_s, size, smoother.update(faces), labels)
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
