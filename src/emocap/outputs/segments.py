"""From a stream of frames to captions over time: one `Segment` per stable stretch of each face.

A face's *state* in a frame is what its caption shows: the displayed class
and the runner-up, or "nothing" when the face is not in the frame or has no
label yet. Consecutive frames in the same state form a *run*. A run starts at
its first frame's time and ends at the time of the first frame after it (the
end of the video for the last one), so variable frame rates keep exact times.

Runs shorter than `min_duration_s` are flickers. A cluster of consecutive
flickers is settled against the stretches around it:

- shorter than `min_duration_s` in all: it takes the state of the stretch
  before it when that shows a label (a caption holds until a new one lasts),
  else of the stretch after it when that shows one, else (a face seen only
  briefly) the label it showed longest;
- `min_duration_s` or longer (a face that keeps changing): it becomes one
  stretch with the state it spent most time in.

Neighbouring stretches in the same state are joined, and each stretch with
a label becomes a `Segment`. So a face that drops out of detection for less
than `min_duration_s` keeps its caption, and a face seen for a moment still
gets one if it showed a label at all.

`SegmentBuilder` does this as frames arrive and hands segments out in order
of start time. It keeps only the faces still open, so memory stays flat on
long videos; a finished segment waits only while an earlier-starting one of
another face is still open.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np

from emocap.errors import DataError
from emocap.labels import DEFAULT_WORDING, VALENCE_OF, check_wording
from emocap.outputs.captions import caption_text, class_name, emotion_words, face_numbers, position_words
from emocap.tracking.table import TrackTable
from emocap.types import NO_LABEL, UNTRACKED, FrameResult

NOTHING_SHOWN = (NO_LABEL, NO_LABEL)


@dataclass(frozen=True)
class Segment:
    """One face showing one caption from `start_s` to `end_s`.

    track_id    the tracker's identity (the caption calls it Face track_id + 1)
    display     class index shown; runner_up: second class shown beside it, or NO_LABEL
    labels      class names of the model
    box         float32 (4,) mean x1, y1, x2, y2 over the frames the face was seen
    probs       float32 (k,) mean class probabilities over those frames
    frames      how many frames the face was seen in (short drop-outs are bridged)
    frame_size  (width, height) of the video
    wording     how its caption words what it shows (`emocap.labels.WORDINGS`)
    """

    track_id: int
    start_s: float
    end_s: float
    display: int
    runner_up: int
    labels: tuple[str, ...]
    box: np.ndarray
    probs: np.ndarray
    frames: int
    frame_size: tuple[int, int]
    wording: str = DEFAULT_WORDING

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def face_number(self) -> int:
        return int(face_numbers(np.array([self.track_id]))[0])

    @property
    def label(self) -> str:
        return class_name(self.labels, self.display)

    @property
    def runner_up_label(self) -> str:
        return class_name(self.labels, self.runner_up)

    @property
    def valence(self) -> str:
        return VALENCE_OF.get(self.label, "")

    @property
    def position(self) -> str:
        return str(position_words(self.box, self.frame_size[0])[0])

    @property
    def emotion_words(self) -> str:
        """'looks happy', 'looks sad / fear', 'unsure' (or, plain, 'happy'...)."""
        return emotion_words(self.label, self.runner_up_label, wording=self.wording)

    @property
    def caption(self) -> str:
        """'Face 1 (left): looks happy — positive'."""
        return caption_text(self.face_number, self.label, self.runner_up_label, position=self.position,
                            wording=self.wording)


@dataclass
class _Run:
    """Frames of one face in one state; sums rather than lists keep it small."""

    state: tuple[int, int]
    start: float
    end: float
    frames: int
    box_sum: np.ndarray
    probs_sum: np.ndarray

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def shows_label(self) -> bool:
        return self.state[0] != NO_LABEL


def _join(runs: list[_Run], state: tuple[int, int]) -> _Run:
    """Consecutive runs as one stretch in `state`."""
    return _Run(
        state=state,
        start=runs[0].start,
        end=runs[-1].end,
        frames=sum(run.frames for run in runs),
        box_sum=np.sum([run.box_sum for run in runs], axis=0),
        probs_sum=np.sum([run.probs_sum for run in runs], axis=0),
    )


def _longest_state(runs: list[_Run], *, labelled_only: bool) -> tuple[int, int]:
    """The state the runs spent most time in (the earliest on a tie)."""
    time_in: dict[tuple[int, int], float] = {}
    for run in runs:
        if run.shows_label or not labelled_only:
            time_in[run.state] = time_in.get(run.state, 0.0) + run.duration
    return max(time_in, key=time_in.__getitem__) if time_in else NOTHING_SHOWN


class _FaceHistory:
    """The settled past of one face: its open stretch and the flickers after it."""

    def __init__(self, min_duration_s: float) -> None:
        self._min_duration_s = min_duration_s
        self._open: _Run | None = None
        self._flickers: list[_Run] = []

    def earliest_open_start(self) -> float:
        """Start of the earliest time that may still become part of a segment."""
        starts = [run.start for run in self._flickers[:1]]
        if self._open is not None and self._open.shows_label:
            starts.append(self._open.start)
        return min(starts, default=math.inf)

    def push(self, run: _Run) -> list[_Run]:
        """Add the next run; returns the stretches this settles."""
        if not self._flickers and self._open is not None and self._open.state == run.state:
            self._open = _join([self._open, run], run.state)
            return []
        if run.duration < self._min_duration_s:
            self._flickers.append(run)
            return []
        return self._settle(run)

    def finish(self) -> list[_Run]:
        """The stretches left at the end of the video."""
        return self._settle(None)

    def _settle(self, following: _Run | None) -> list[_Run]:
        sequence = [run for run in (self._open,) if run is not None]
        if self._flickers:
            sequence.append(self._settle_flickers(following))
            self._flickers = []
        if following is not None:
            sequence.append(following)
        joined: list[_Run] = []
        for run in sequence:
            if joined and joined[-1].state == run.state:
                joined[-1] = _join([joined[-1], run], run.state)
            else:
                joined.append(run)
        self._open = joined.pop() if following is not None else None
        return joined

    def _settle_flickers(self, following: _Run | None) -> _Run:
        flickers = self._flickers
        if sum(run.duration for run in flickers) >= self._min_duration_s:
            return _join(flickers, _longest_state(flickers, labelled_only=False))
        for neighbour in (self._open, following):
            if neighbour is not None and neighbour.shows_label:
                return _join(flickers, neighbour.state)
        return _join(flickers, _longest_state(flickers, labelled_only=True))


class SegmentBuilder:
    """Turns `FrameResult`s into `Segment`s as they arrive (see the module docstring).

        builder = SegmentBuilder(min_duration_s=0.5, wording="looks")
        for result in results:
            for segment in builder.update(result):
                ...
        for segment in builder.finish(end_time_s=video_end):
            ...

    Faces without a track id (no tracker ran) have no identity over time and
    are left out. Frame times must increase.
    """

    def __init__(self, min_duration_s: float = 0.5, *, wording: str = DEFAULT_WORDING) -> None:
        if not (isinstance(min_duration_s, (int, float)) and math.isfinite(min_duration_s) and min_duration_s >= 0):
            raise ValueError(f"min_duration_s must be a finite number >= 0, got {min_duration_s!r}")
        self.min_duration_s = float(min_duration_s)
        self.wording = check_wording(wording)
        self._labels: tuple[str, ...] | None = None
        self._frame_size = (0, 0)
        self._last_time: float | None = None
        self._last_interval: float | None = None
        self._histories: dict[int, _FaceHistory] = {}
        self._ready: list[tuple[float, int, int, Segment]] = []
        self._sequence = itertools.count()
        self._clear_faces(num_classes=0)

    def _clear_faces(self, num_classes: int) -> None:
        """One row per open face: the run it is in now, in columns updated together each frame."""
        # Rows leave when the builder decides (_forget), never by the table's own patience.
        self._faces = TrackTable(patience_frames=0)
        self._faces.append(
            np.zeros(0, np.int64), state=np.zeros((0, 2), np.int64), start=np.zeros(0), frames=np.zeros(0, np.int64),
            box_sum=np.zeros((0, 4)), probs_sum=np.zeros((0, num_classes)), unsettled=np.zeros(0, bool),
            held_from=np.zeros(0),
        )

    @property
    def open_faces(self) -> int:
        """Faces whose captions are still open (present, or gone for less than min_duration_s)."""
        return len(self._faces)

    def update(self, result: FrameResult) -> list[Segment]:
        """Take one frame; returns the segments now complete, in order of start time."""
        time_s = self._check_time(result)
        self._check_labels(result)
        self._frame_size = result.frame_size
        faces = result.faces
        tracked = faces.track_ids != UNTRACKED
        if not tracked.all():
            faces = faces[tracked]
        if len(np.unique(faces.track_ids)) != len(faces):
            raise ValueError(f"frame {result.index} has the same track id on two faces: {faces.track_ids.tolist()}")
        shown = np.stack([faces.display, np.where(faces.display == NO_LABEL, NO_LABEL, faces.runner_up)], axis=1)

        rows = self._rows_of(faces.track_ids, shown, time_s)
        open_ = self._faces.columns
        target = np.full_like(open_["state"], NO_LABEL)
        target[rows] = shown
        present = np.zeros(len(self._faces), bool)
        present[rows] = True

        for row in np.flatnonzero((target != open_["state"]).any(axis=1)):
            self._end_run(row, time_s, next_state=target[row])
        # A run that has lasted min_duration_s is no flicker, whatever comes next: settling it
        # now lets earlier segments out without waiting for its end.
        started = open_["start"]
        lasting = open_["unsettled"] & (time_s - started >= self.min_duration_s) & (started < time_s)
        for row in np.flatnonzero(lasting):
            self._end_run(row, time_s, next_state=open_["state"][row])
            open_["unsettled"][row] = False
        if self._forget((open_["state"][:, 0] == NO_LABEL) & ~present & ~open_["unsettled"]):
            rows = self._rows_of(faces.track_ids, shown, time_s)
        open_ = self._faces.columns
        open_["frames"][rows] += 1
        open_["box_sum"][rows] += faces.boxes
        if faces.probs.shape[1] == open_["probs_sum"].shape[1]:
            open_["probs_sum"][rows] += faces.probs
        return self._release(up_to=open_["held_from"].min(initial=math.inf))

    def finish(self, end_time_s: float | None = None) -> list[Segment]:
        """End the video at `end_time_s` (by default the last frame lasts as long as the one before);
        returns the remaining segments, in order of start time. The builder is then empty again."""
        if self._last_time is None:
            return []
        if end_time_s is None:
            if self._last_interval is None:
                raise ValueError("one frame only: give finish(end_time_s=...) to say how long it lasts")
            end_time_s = self._last_time + self._last_interval
        if not end_time_s > self._last_time:
            raise ValueError(f"end_time_s must be after the last frame ({self._last_time!r} s), got {end_time_s!r}")
        for row in range(len(self._faces)):
            self._end_run(row, float(end_time_s), next_state=self._faces.columns["state"][row])
        for track_id, history in self._histories.items():
            self._hold(track_id, history.finish())
        segments = self._release(up_to=math.inf)
        self._histories.clear()
        self._clear_faces(num_classes=0)
        self._labels = self._last_time = self._last_interval = None
        return segments

    def _check_time(self, result: FrameResult) -> float:
        time_s = float(result.time_s)
        if not math.isfinite(time_s):
            raise DataError(f"frame {result.index} has no valid time ({result.time_s!r})")
        if self._last_time is not None:
            if not time_s > self._last_time:
                raise DataError(
                    f"frame times must increase: frame {result.index} is at {time_s!r} s, after {self._last_time!r} s"
                )
            self._last_interval = time_s - self._last_time
        self._last_time = time_s
        return time_s

    def _check_labels(self, result: FrameResult) -> None:
        if self._labels is None:
            self._labels = tuple(result.labels)
            self._faces.columns["probs_sum"] = np.zeros((len(self._faces), len(self._labels)))
        elif tuple(result.labels) != self._labels:
            raise ValueError(f"frame {result.index} has labels {result.labels!r}, earlier frames {self._labels!r}")

    def _rows_of(self, track_ids: np.ndarray, shown: np.ndarray, time_s: float) -> np.ndarray:
        """Rows of these faces, opening a row (a run starting now) for each face not open yet."""

        def opening(new: np.ndarray) -> dict[str, np.ndarray]:
            count = int(new.sum())
            for track_id in track_ids[new].tolist():
                self._histories[track_id] = _FaceHistory(self.min_duration_s)
            return {
                "state": shown[new], "start": np.full(count, time_s), "frames": np.zeros(count, np.int64),
                "box_sum": np.zeros((count, 4)), "probs_sum": np.zeros((count, self._faces.columns["probs_sum"].shape[1])),
                "unsettled": np.ones(count, bool), "held_from": np.full(count, time_s),
            }

        return self._faces.rows_for(track_ids, opening)

    def _end_run(self, row: int, time_s: float, next_state: np.ndarray) -> None:
        """Close the run of `row` at `time_s`, give it to the face's history, and start the next one."""
        open_ = self._faces.columns
        track_id = int(self._faces.ids[row])
        run = _Run(
            state=(int(open_["state"][row, 0]), int(open_["state"][row, 1])),
            start=float(open_["start"][row]),
            end=time_s,
            frames=int(open_["frames"][row]),
            box_sum=open_["box_sum"][row].copy(),
            probs_sum=open_["probs_sum"][row].copy(),
        )
        history = self._histories[track_id]
        self._hold(track_id, history.push(run))
        open_["state"][row] = next_state
        open_["start"][row] = time_s
        open_["frames"][row] = 0
        open_["box_sum"][row] = 0.0
        open_["probs_sum"][row] = 0.0
        open_["unsettled"][row] = True
        open_["held_from"][row] = min(history.earliest_open_start(), time_s)

    def _forget(self, rows: np.ndarray) -> bool:
        """Drop faces gone for good (their absence has settled): a return starts afresh. True if any went."""
        if not rows.any():
            return False
        for track_id in self._faces.ids[rows].tolist():
            del self._histories[track_id]
        self._faces.keep(~rows)
        return True

    def _hold(self, track_id: int, stretches: list[_Run]) -> None:
        for stretch in stretches:
            if stretch.shows_label:
                segment = self._segment(track_id, stretch)
                heapq.heappush(self._ready, (segment.start_s, track_id, next(self._sequence), segment))

    def _release(self, up_to: float) -> list[Segment]:
        released = []
        while self._ready and self._ready[0][0] <= up_to:
            released.append(heapq.heappop(self._ready)[-1])
        return released

    def _segment(self, track_id: int, stretch: _Run) -> Segment:
        seen = max(stretch.frames, 1)
        return Segment(
            track_id=track_id,
            start_s=stretch.start,
            end_s=stretch.end,
            display=stretch.state[0],
            runner_up=stretch.state[1],
            labels=self._labels or (),
            box=(stretch.box_sum / seen).astype(np.float32),
            probs=(stretch.probs_sum / seen).astype(np.float32),
            frames=stretch.frames,
            frame_size=self._frame_size,
            wording=self.wording,
        )
