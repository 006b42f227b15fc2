"""Face identities that hold across cuts, crossings and exits: box overlap with appearance.

`IouTracker` follows a box while it moves; it cannot tell whose face is in it.
`AppearanceTracker` also keeps each track's look, the running mean of the
classifier's embeddings of its face (`Faces.embeddings`, scaled to length 1), and:

- at a cut (`update(faces, shot=CUT)`, from `ShotChangeDetector`) ends every
  track: no box continues into another shot by overlap alone; at a jump (a cut
  or fast motion, `shot=JUMP`) a box continues only where the looks agree
  (cosine at least `SAME_LOOK_MIN_COSINE`);
- matches boxes to tracks on overlap plus the cosine of their looks, so where two
  boxes overlap (people crossing) the faces themselves decide which is which;
- keeps an ended track's look for `remember_frames`, and gives its number back to
  a new face whose look is at least `reid_min_cosine` like it (a face that left,
  or was cut away from, and came back); below that the face is a new person.

The classifier is trained on expressions, not on who people are, so its embeddings
tell people apart only roughly: `reid_min_cosine` is set high, and a returning
face whose look is unsure takes a new number rather than somebody else's
(benchmarks/identity.py, docs/benchmarks/captions.md).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from emocap.checks import check_int, check_number
from emocap.defaults import DEFAULT_PATIENCE_FRAMES
from emocap.geometry import iou_matrix
from emocap.tracking.identity import IouTracker
from emocap.tracking.shots import CUT, JUMP, STEADY
from emocap.tracking.table import TrackTable
from emocap.types import Faces

DEFAULT_REMEMBER_FRAMES = 300
"""Frames an ended track's look is kept for re-identification (10 s at 30 fps)."""
DEFAULT_REID_MIN_COSINE = 0.985
"""Cosine of a new face's look with an ended track's look from which the face takes that track's number."""
SAME_LOOK_MIN_COSINE = 0.85
"""At a JUMP, a face continues a track by its box only if its look is at least this like the track's."""
NEAR_SIDES = 1.5
"""A face within this many face sides of where a track out of sight (within its patience) is expected needs
only SAME_LOOK_MIN_COSINE to take it back: a face hidden behind another, or missed, that comes out beside it."""
APPEARANCE_WEIGHT = 1.0
"""Weight of the looks' cosine beside the box overlap (IoU) in matching lone faces to tracks."""
MIN_LOOKS = 3
"""Frames a track's face must be seen alone in before its look may give its number back."""
LOOK_RATE = 0.1
"""Weight of a new look in a track's running mean once it has 1 / LOOK_RATE looks (before: the plain mean)."""
ALONE_IOU = 0.05
"""A face whose box overlaps another's by more (IoU) is not alone: its crop shows some of the other face."""


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class AppearanceTracker(IouTracker):
    """`update(faces, shot=STEADY) -> faces` with `track_ids`: `IouTracker` plus shot changes and the faces' looks.

    Faces without embeddings (d = 0: a model without an embedding output) are matched on boxes
    alone, as `IouTracker` matches them, and a cut still ends every track.
    """

    def __init__(
        self, iou_threshold: float = 0.2, patience_frames: int = DEFAULT_PATIENCE_FRAMES, *,
        remember_frames: int = DEFAULT_REMEMBER_FRAMES, reid_min_cosine: float = DEFAULT_REID_MIN_COSINE,
    ) -> None:
        super().__init__(iou_threshold, patience_frames)
        self.reid_min_cosine = check_number("AppearanceTracker", "reid_min_cosine", reid_min_cosine, -1, 1, "(]")
        self._ended = TrackTable(check_int("AppearanceTracker", "remember_frames", remember_frames, 0))
        self._width: int | None = None

    @property
    def remember_frames(self) -> int:
        return self._ended.patience_frames

    def reset(self) -> None:
        super().reset()
        self._ended.reset()
        self._width: int | None = None

    def update(self, faces: Faces, shot: int = STEADY) -> Faces:
        looks = self._looks_of(faces)
        if shot == CUT:
            self._end(np.ones(len(self._tracks), bool))
        alone = _alone(faces.boxes)
        track_rows, face_rows = self._match_with_looks(faces.boxes, looks, alone, jumped=shot == JUMP)
        self._follow(track_rows, faces.boxes[face_rows])
        ids = np.full(len(faces), -1, np.int64)
        ids[face_rows] = self._tracks.ids[track_rows]
        unmatched = np.flatnonzero(ids < 0)
        taken = self._reidentify(unmatched, looks, faces.boxes, np.setdiff1d(np.arange(len(self._tracks)), track_rows))
        ids[unmatched] = taken
        new = unmatched[taken < 0]
        ids[new] = np.arange(self._next_id, self._next_id + len(new), dtype=np.int64)
        self._next_id += len(new)
        self._start(ids[new], faces.boxes[new], looks[new])
        rows = self._tracks.lookup(ids)
        self._add_looks(rows, looks, alone)
        missed_too_long = np.ones(len(self._tracks), bool)
        missed_too_long[rows] = False
        missed_too_long &= self._tracks.missed + 1 > self.patience_frames
        self._end(missed_too_long)
        self._tracks.end_frame(self._tracks.lookup(ids))
        self._ended.end_frame(np.zeros(0, np.int64))
        return faces.with_(track_ids=ids)

    def _looks_of(self, faces: Faces) -> np.ndarray:
        """The faces' embeddings at length 1; all faces of a stream must have the same width."""
        width = faces.embeddings.shape[1]
        if len(faces):
            if self._width is None:
                self._width = width
            elif width != self._width:
                raise ValueError(f"AppearanceTracker got embeddings of width {width} after {self._width}")
        return unit_rows(faces.embeddings.reshape(len(faces), self._width or 0))

    def _match_with_looks(
        self, boxes: np.ndarray, looks: np.ndarray, alone: np.ndarray, jumped: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(track rows, face rows) of the pairs whose boxes overlap enough, chosen on overlap plus likeness;
        after a jump, only pairs whose looks agree. The crop of a face that overlaps another shows some of
        the other one too (benchmarks/identity.py: weighing those looks swapped faces as they crossed), so
        such faces are matched on their boxes alone."""
        if not len(self._tracks) or not len(boxes):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        overlap = iou_matrix(self._expected_boxes(), boxes)
        likeness = np.where(alone[None, :], self._likeness(self._tracks, looks), 0.0)
        allowed = overlap >= self.iou_threshold
        if jumped:
            allowed &= (likeness >= SAME_LOOK_MIN_COSINE) | ~alone[None, :]
        # Overlap scores every pair, as IouTracker's does (a forced pair below the threshold must not change
        # the assignment of the others); the looks add to the allowed ones.
        score = overlap + APPEARANCE_WEIGHT * np.where(allowed, likeness, 0.0)
        track_rows, face_rows = linear_sum_assignment(score, maximize=True)
        accepted = allowed[track_rows, face_rows]
        return track_rows[accepted].astype(np.int64), face_rows[accepted].astype(np.int64)

    @staticmethod
    def _likeness(table: TrackTable, looks: np.ndarray) -> np.ndarray:
        """Cosine (tracks, faces) of each track's look with each face's; 0 for a track with no look yet."""
        if not looks.shape[1]:
            return np.zeros((len(table), len(looks)), np.float32)
        return np.where(table.columns["count"][:, None] > 0, table.columns["look"] @ looks.T, 0.0)

    def _reidentify(self, faces: np.ndarray, looks: np.ndarray, boxes: np.ndarray, free_rows: np.ndarray) -> np.ndarray:
        """The id each of `faces` (indices) takes back from a track out of sight by its look, -1 for none.
        Candidates: the live tracks not matched this frame (`free_rows`), and the ended ones."""
        taken = np.full(len(faces), -1, np.int64)
        live = free_rows[self._tracks.columns["count"][free_rows] >= MIN_LOOKS] if len(self._tracks) else free_rows
        if not (len(faces) and looks.shape[1] and len(live) + len(self._ended)):
            return taken
        ended_looks = self._ended.columns["look"] if len(self._ended) else np.zeros((0, looks.shape[1]), np.float32)
        candidates = np.concatenate([self._tracks.columns["look"][live], ended_looks])
        likeness = looks[faces] @ candidates.T
        needed = np.full(likeness.shape, self.reid_min_cosine, np.float32)
        needed[:, : len(live)][self._near(live, boxes[faces]).T] = min(SAME_LOOK_MIN_COSINE, self.reid_min_cosine)
        likeness = np.where(likeness >= needed, likeness, -1.0)
        face_rows, candidate_rows = linear_sum_assignment(likeness, maximize=True)
        sure = likeness[face_rows, candidate_rows] >= needed[face_rows, candidate_rows]
        face_rows, candidate_rows = face_rows[sure], candidate_rows[sure]
        in_live = candidate_rows < len(live)
        rows = live[candidate_rows[in_live]]
        taken[face_rows[in_live]] = self._tracks.ids[rows]
        self._tracks.columns["boxes"][rows] = boxes[faces[face_rows[in_live]]]
        self._tracks.columns["velocity"][rows] = 0.0  # it jumped: its old motion says nothing of the next frame
        revived = candidate_rows[~in_live] - len(live)
        taken[face_rows[~in_live]] = self._ended.ids[revived]
        self._revive(revived, boxes[faces[face_rows[~in_live]]])
        return taken

    def _near(self, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(rows, boxes): whether each box's centre lies within NEAR_SIDES sides of where each track is expected."""
        expected = self._expected_boxes()[rows]
        centres = (expected[:, None, :2] + expected[:, None, 2:]) / 2 - (boxes[None, :, :2] + boxes[None, :, 2:]) / 2
        sides = np.maximum(expected[:, 2] - expected[:, 0], expected[:, 3] - expected[:, 1])
        return np.linalg.norm(centres, axis=2) <= NEAR_SIDES * sides[:, None]

    def _revive(self, ended_rows: np.ndarray, boxes: np.ndarray) -> None:
        """Bring ended tracks back to life at `boxes`, with the looks they had."""
        if not len(ended_rows):
            return
        columns = self._ended.columns
        self._tracks.append(
            self._ended.ids[ended_rows], boxes=boxes, velocity=np.zeros((len(boxes), 4), np.float32),
            look=columns["look"][ended_rows], count=columns["count"][ended_rows],
        )
        keep = np.ones(len(self._ended), bool)
        keep[ended_rows] = False
        self._ended.keep(keep)

    def _start(self, ids: np.ndarray, boxes: np.ndarray, looks: np.ndarray) -> None:
        if len(ids):
            self._tracks.append(
                ids, boxes=boxes, velocity=np.zeros((len(ids), 4), np.float32), look=looks,
                count=np.zeros(len(ids), np.int64),
            )

    def _add_looks(self, rows: np.ndarray, looks: np.ndarray, alone: np.ndarray) -> None:
        """Fold each lone face's look into its track's running mean."""
        rows, looks = rows[alone], looks[alone]
        if not (len(rows) and looks.shape[1]):
            return
        columns = self._tracks.columns
        rate = np.maximum(1.0 / (columns["count"][rows] + 1), LOOK_RATE)[:, None]
        columns["look"][rows] = unit_rows((1 - rate) * columns["look"][rows] + rate * looks)
        columns["count"][rows] += 1

    def _end(self, rows: np.ndarray) -> None:
        """End the tracks where the mask `rows` is True; those with a settled look are kept to come back."""
        if not rows.any():
            return
        columns = self._tracks.columns
        kept = rows & (columns["count"] >= MIN_LOOKS) & (columns["look"].shape[1] > 0)
        if kept.any():
            self._ended.append(self._tracks.ids[kept], look=columns["look"][kept], count=columns["count"][kept])
        self._tracks.keep(~rows)


def _alone(boxes: np.ndarray) -> np.ndarray:
    """Whether each box overlaps no other box of the frame by more than ALONE_IOU."""
    overlap = iou_matrix(boxes, boxes)
    np.fill_diagonal(overlap, 0.0)
    return (overlap <= ALONE_IOU).all(axis=1) if len(boxes) else np.zeros(0, bool)
