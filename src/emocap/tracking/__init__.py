"""Face identities across frames, and the per-face memory that steadies the captions.

Stages (each `update(faces) -> faces`, `reset()`), in pipeline order:
`ShotChangeDetector` tells the cuts of a video from its frames (perception runs it, where the frames are,
and its verdict reaches the tracker in the `FaceRecord`); then captioning's: `AppearanceTracker`
(`IouTracker` plus the faces' looks and the cuts) sets `track_ids`; a smoother (`PaperMemory` or `EmaSmoother`,
built by name with `make_smoother`) sets `display`, `runner_up` and `confidence`;
`UnsureRule` shows a face it is not sure of as UNSURE;
`order_for_reading` sorts the faces right to left; `TrackConfirmation` keeps
the faces of tracks detected in a few frames, numbered as they are shown.
"""

from emocap.tracking.appearance import AppearanceTracker
from emocap.tracking.confirmation import DEFAULT_CONFIRM_FRAMES, TrackConfirmation
from emocap.tracking.identity import IouTracker
from emocap.tracking.ordering import order_for_reading
from emocap.tracking.runner_up import RunnerUpRule
from emocap.tracking.unsure import UNSURE_WORD, UnsureRule
from emocap.tracking.shots import ShotChangeDetector
from emocap.tracking.smoothers import NULL_ENTRY, SMOOTHERS, EmaSmoother, NoSmoothing, PaperMemory, TrackSmoother, make_smoother

__all__ = [
    "IouTracker",
    "AppearanceTracker",
    "ShotChangeDetector",
    "TrackConfirmation",
    "DEFAULT_CONFIRM_FRAMES",
    "PaperMemory",
    "EmaSmoother",
    "NoSmoothing",
    "TrackSmoother",
    "RunnerUpRule",
    "UnsureRule",
    "UNSURE_WORD",
    "SMOOTHERS",
    "NULL_ENTRY",
    "make_smoother",
    "order_for_reading",
]
