"""Per-face smoothing of the classifier's output over time.

The classifier labels every frame on its own, so a caption taken straight
from it flickers. A smoother remembers each track's recent output and decides
what to show (`Faces.display`), plus a close second emotion
(`Faces.runner_up`), and how sure the smoothed output is of it (`Faces.confidence`).
Three are offered:

- `PaperMemory`: the paper's memory of the last N predicted classes.
- `EmaSmoother`: an exponential average of the probabilities with hysteresis.
- `NoSmoothing`: each frame's own top class (still photos; the baseline).

The first two need tracked faces (`IouTracker` first) with probabilities (classifier
first). A track absent for more than `patience_frames` frames is forgotten;
use the tracker's patience, so state lives exactly as long as the identity.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod

import numpy as np

from emocap.checks import check_int, check_number
from emocap.defaults import DEFAULT_PATIENCE_FRAMES
from emocap.tracking.runner_up import RunnerUpRule
from emocap.tracking.table import TrackTable
from emocap.types import NO_LABEL, UNTRACKED, Faces

NULL_ENTRY = -1
"""A memory entry for a frame in which the face was not detected."""


class TrackSmoother(ABC):
    """The flow both smoothers share: check faces, find each track's state, step it, set the outputs."""

    def __init__(self, patience_frames: int, runner_up_ratio: float | None, runner_up_min_probability: float) -> None:
        owner = type(self).__name__
        self._tracks = TrackTable(check_int(owner, "patience_frames", patience_frames, 0))
        self._runner_up = None
        if runner_up_ratio is not None:
            self._runner_up = RunnerUpRule(
                check_number(owner, "runner_up_ratio", runner_up_ratio, 0, 1, "(]"),
                check_number(owner, "runner_up_min_probability", runner_up_min_probability, 0, 1, "[]"),
            )
        self._num_classes: int | None = None

    @property
    def patience_frames(self) -> int:
        return self._tracks.patience_frames

    def reset(self) -> None:
        self._tracks.reset()
        self._num_classes = None

    def update(self, faces: Faces) -> Faces:
        probs = self._checked_probs(faces)
        if not len(faces) and not len(self._tracks):
            return faces
        rows = self._tracks.rows_for(faces.track_ids, lambda new: self._initial_state(probs[new]))
        display, smoothed = self._step(rows, probs)
        self._tracks.end_frame(rows)
        runner_up = (
            self._runner_up(smoothed, display)
            if self._runner_up is not None
            else np.full(len(faces), NO_LABEL, np.int64)
        )
        chosen = np.take_along_axis(smoothed, np.maximum(display, 0)[:, None], axis=1)[:, 0]
        confidence = np.where(display != NO_LABEL, chosen, np.nan)
        return faces.with_(display=display, runner_up=runner_up, confidence=confidence)

    def _checked_probs(self, faces: Faces) -> np.ndarray:
        name = type(self).__name__
        if not len(faces):
            return np.zeros((0, self._num_classes or 0), np.float32)
        if (faces.track_ids == UNTRACKED).any():
            raise ValueError(f"{name} needs tracked faces (run IouTracker first), got track ids {faces.track_ids.tolist()}")
        ids, counts = np.unique(faces.track_ids, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"{name} got the same track id twice in one frame: {ids[counts > 1].tolist()}")
        k = faces.probs.shape[1]
        if k == 0:
            raise ValueError(f"{name} needs class probabilities (run the classifier first); faces.probs has shape {faces.probs.shape}")
        if self._num_classes is not None and k != self._num_classes:
            raise ValueError(f"{name} was fed {self._num_classes} classes before, now {k}; call reset() between models")
        self._num_classes = k
        return faces.probs

    @abstractmethod
    def _initial_state(self, probs: np.ndarray) -> dict[str, np.ndarray]:
        """State columns of new tracks, given their first probabilities (n, k)."""

    @abstractmethod
    def _step(self, rows: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance the state one frame; (display (n,), smoothed probabilities (n, k)) of the faces at `rows`."""


class PaperMemory(TrackSmoother):
    """The paper's per-face memory of the last `length` predicted classes.

    Every frame, each remembered track gets one entry: the argmax class of its
    probabilities if the face was detected, else a null (never a replacement
    emotion). The displayed class becomes the class of the last `length`
    entries when they are all that same non-null class; otherwise it stays
    what it was (NO_LABEL until the first agreement). Consequences:

    - a prediction seen in fewer than `length` frames in a row never shows;
    - while a face is missing its display is kept, and after it reappears the
      display changes only once `length` fresh predictions in a row agree
      (nulls break agreement, so the old entries cannot complete it);
    - `length=1` shows the raw argmax.

    `runner_up` is judged on the mean probabilities of the non-null entries.
    """

    def __init__(
        self,
        length: int = 4,
        patience_frames: int = DEFAULT_PATIENCE_FRAMES,
        runner_up_ratio: float | None = 0.7,
        runner_up_min_probability: float = 0.2,
    ) -> None:
        self.length = check_int("PaperMemory", "length", length, 1)
        super().__init__(patience_frames, runner_up_ratio, runner_up_min_probability)

    def _initial_state(self, probs: np.ndarray) -> dict[str, np.ndarray]:
        n, k = probs.shape
        return {
            "classes": np.full((n, self.length), NULL_ENTRY, np.int64),
            "probs": np.zeros((n, self.length, k), np.float32),
            "display": np.full(n, NO_LABEL, np.int64),
        }

    def _step(self, rows: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = self._tracks.columns
        entries = np.full(len(self._tracks), NULL_ENTRY, np.int64)
        entries[rows] = probs.argmax(axis=1)
        entry_probs = np.zeros((len(self._tracks), probs.shape[1]), np.float32)
        entry_probs[rows] = probs
        state["classes"] = np.concatenate([state["classes"][:, 1:], entries[:, None]], axis=1)
        state["probs"] = np.concatenate([state["probs"][:, 1:], entry_probs[:, None]], axis=1)
        agreed = (entries != NULL_ENTRY) & (state["classes"] == entries[:, None]).all(axis=1)
        state["display"] = np.where(agreed, entries, state["display"])
        detected = state["classes"][rows] != NULL_ENTRY
        mean_probs = state["probs"][rows].sum(axis=1) / detected.sum(axis=1, keepdims=True)
        return state["display"][rows], mean_probs


class EmaSmoother(TrackSmoother):
    """Exponential average of each track's probabilities, shown with hysteresis.

    On each frame a face is detected, its average becomes
    `alpha * probs + (1 - alpha) * average` (the first frame starts it); frames
    where it is missing leave the average untouched. The display switches to
    the average's top class only when that beats the displayed class's
    average probability by more than `hysteresis`.

    The defaults (per frame at 30 fps) are the most accurate setting that
    flickers no more than `PaperMemory(4)` in `benchmarks/smoothing.py`,
    tuned on videos of PublicTest faces with the built-in model.
    """

    def __init__(
        self,
        alpha: float = 0.3,
        hysteresis: float = 0.3,
        patience_frames: int = DEFAULT_PATIENCE_FRAMES,
        runner_up_ratio: float | None = 0.7,
        runner_up_min_probability: float = 0.2,
    ) -> None:
        self.alpha = check_number("EmaSmoother", "alpha", alpha, 0, 1, "(]")
        self.hysteresis = check_number("EmaSmoother", "hysteresis", hysteresis, 0, 1, "[)")
        super().__init__(patience_frames, runner_up_ratio, runner_up_min_probability)

    def _initial_state(self, probs: np.ndarray) -> dict[str, np.ndarray]:
        return {"average": probs.astype(np.float32), "display": np.full(len(probs), NO_LABEL, np.int64)}

    def _step(self, rows: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = self._tracks.columns
        average = self.alpha * probs + (1 - self.alpha) * state["average"][rows]
        state["average"][rows] = average
        display = state["display"][rows]
        faces = np.arange(len(rows))
        top = average.argmax(axis=1)
        displayed_prob = np.where(display != NO_LABEL, average[faces, np.maximum(display, 0)], -np.inf)
        display = np.where(average[faces, top] > displayed_prob + self.hysteresis, top, display)
        state["display"][rows] = display
        return display, average


class NoSmoothing(TrackSmoother):
    """Shows each frame's top class as it is: for still photos, and as the baseline smoothers are measured against."""

    def __init__(
        self,
        patience_frames: int = 0,
        runner_up_ratio: float | None = 0.7,
        runner_up_min_probability: float = 0.2,
    ) -> None:
        super().__init__(patience_frames, runner_up_ratio, runner_up_min_probability)

    def _initial_state(self, probs: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def _step(self, rows: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return probs.argmax(axis=1).astype(np.int64), probs


SMOOTHERS: dict[str, type[TrackSmoother]] = {"ema": EmaSmoother, "paper": PaperMemory, "none": NoSmoothing}


def make_smoother(name: str, **options) -> TrackSmoother:
    """A smoother by name ("paper", "ema" or "none") with its keyword options."""
    if name not in SMOOTHERS:
        raise ValueError(f"unknown smoother {name!r}; choose one of {', '.join(SMOOTHERS)}")
    cls = SMOOTHERS[name]
    unknown = sorted(set(options) - set(inspect.signature(cls).parameters))
    if unknown:
        raise ValueError(f"smoother {name!r} has no option(s) {unknown}")
    return cls(**options)
