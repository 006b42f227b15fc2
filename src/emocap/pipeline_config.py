"""`PipelineConfig`: every setting of a `Pipeline`, written once, checked once.

The commands build one from their options, the pipeline takes it, Ray carries it to the workers (a
frozen dataclass of plain values travels and hashes), and the report prints it (`describe`). Like
`emocap.defaults` it loads no ONNX Runtime, so the command line checks its options before any slow work.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from emocap.checks import check_int, check_number
from emocap.defaults import (
    DEFAULT_CONFIRM_FRAMES, DEFAULT_FULL_SCAN_EVERY, DEFAULT_MIN_FACE_SIZE, DEFAULT_MIRROR,
    DEFAULT_PATIENCE_FRAMES, DEFAULT_SMOOTHER, DEFAULT_UNSURE_BAND, DETECTOR_NAMES, SMOOTHER_NAMES,
)

OWNER = "PipelineConfig"


@dataclass(frozen=True)
class PipelineConfig:
    """The settings of a `Pipeline`. Where the pipeline is given its detector or classifier ready-made
    (tests, benchmarks), the settings that build them (`model`, `detector`, `threads`, `lift_light`, `mirror`) go
    unused.

    model            an exported .onnx emotion model; None: the built-in one
    detector         "mtcnn" (the paper's, confidence 0.95) or "haar" (faster, frontal faces only)
    min_face_size    faces whose box's larger side is under this many pixels are dropped; the detector also
                     starts its search there (MTCNN's pyramid finds smaller ones too, hence the filter)
    smoother         "ema" (probabilities averaged over time, with hysteresis), "paper" (the last `memory`
                     predictions must agree) or "none"
    memory           length of the paper memory (None: the smoother's own, 4); only for smoother="paper"
    detect_every     run the detector on every K-th frame; in between, the last boxes are carried over and
                     their faces classified again (faster, lags fast motion)
    full_scan_every  of the frames the detector runs on, scan the whole frame on every K-th one and search only
                     around the faces already found on the others (MTCNN; a face lost there brings a whole scan
                     at once); 1 scans every frame (the paper's way)
    patience_frames  frames a face may be missed and still keep its identity and memory
    right_to_left    number faces right to left across the frame (the paper's reading order)
    confirm_frames   frames a face must be detected in before it is shown; 1 for a single photo
    unsure_below     a face whose smoothed confidence is under this reads "unsure"; None: the model's own
                     threshold (its calibration), 0: never
    unsure_band      hysteresis about that threshold: a face that names an emotion turns unsure only under
                     threshold - band, an unsure one names an emotion again only at threshold + band (0: none;
                     the default halved the caption changes on built clips, benchmarks/steadiness.py)
    upright_from     turn a face's crop upright when its eye line tilts at least this many degrees; None: never
                     (on PublicTest 10 scored best over heads tilted 0-30 degrees but lost 0.6 points on
                     untilted ones: benchmarks/pipeline_accuracy.py --align)
    brighten_dim_frames  let the detector see a dim frame brightened; faces are still cropped from the frame as
                     it came
    lift_light       the classifier lifts dim and flat faces (`EmotionClassifier`)
    mirror           the classifier averages each face with its mirror image, as the built-in models are made to;
                     off, it sees the face alone at half the cost. Off on video, where the memory averages frames
                     (`emocap.defaults.DEFAULT_MIRROR`); photos (`emocap image`, folders) keep it on
    threads          ONNX Runtime threads a network; None: one a core this process may run on
    """

    model: str | None = None
    detector: str = "mtcnn"
    min_face_size: float = DEFAULT_MIN_FACE_SIZE
    smoother: str = DEFAULT_SMOOTHER
    memory: int | None = None
    detect_every: int = 1
    full_scan_every: int = DEFAULT_FULL_SCAN_EVERY
    patience_frames: int = DEFAULT_PATIENCE_FRAMES
    right_to_left: bool = True
    confirm_frames: int = DEFAULT_CONFIRM_FRAMES
    unsure_below: float | None = None
    unsure_band: float = DEFAULT_UNSURE_BAND
    upright_from: float | None = None
    brighten_dim_frames: bool = True
    lift_light: bool = False
    mirror: bool = DEFAULT_MIRROR
    threads: int | None = None

    def __post_init__(self) -> None:
        """ValueErrors that name the setting as `PipelineConfig.<name>` (the command line says `--<name>`)."""
        if self.model is not None and not isinstance(self.model, str):
            raise ValueError(f"{OWNER}.model must be a path or None, got {self.model!r}")
        _check_choice("detector", self.detector, DETECTOR_NAMES)
        _check_choice("smoother", self.smoother, SMOOTHER_NAMES)
        if self.memory is not None:
            check_int(OWNER, "memory", self.memory, 1)
            if self.smoother != "paper":
                raise ValueError(f"{OWNER}.memory {self.memory} applies to the paper smoother only, "
                                 f"not {self.smoother!r}")
        check_number(OWNER, "min_face_size", self.min_face_size, 0)
        check_int(OWNER, "detect_every", self.detect_every, 1)
        check_int(OWNER, "full_scan_every", self.full_scan_every, 1)
        check_int(OWNER, "patience_frames", self.patience_frames, 0)
        check_int(OWNER, "confirm_frames", self.confirm_frames, 1)
        if self.unsure_below is not None:
            check_number(OWNER, "unsure_below", self.unsure_below, 0, 1, "[)")
        check_number(OWNER, "unsure_band", self.unsure_band, 0, 0.5)
        if self.upright_from is not None and not check_number(OWNER, "upright_from", self.upright_from, 0) <= 90:
            raise ValueError(f"{OWNER}.upright_from must be 0..90 degrees, got {self.upright_from:g}")
        if self.threads is not None:
            check_int(OWNER, "threads", self.threads, 1)
        for name in ("right_to_left", "brighten_dim_frames", "lift_light", "mirror"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{OWNER}.{name} must be True or False, got {getattr(self, name)!r}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    def with_settings(self, **settings) -> PipelineConfig:
        """This config with some settings changed, checked again; an unknown name is refused by name."""
        unknown = sorted(set(settings) - set(self.names()))
        if unknown:
            raise ValueError(f"{OWNER} has no setting {', '.join(map(repr, unknown))}; it has {', '.join(self.names())}")
        return replace(self, **settings)

    def describe(self, model_name: str | None = None) -> tuple[tuple[str, str], ...]:
        """(what, how) rows in a reader's words, for the report: `model_name` names the model where
        `model` is None (which built-in one)."""
        scans = f"detection every {self.detect_every} frame(s), the whole frame every {self.full_scan_every} detection(s)"
        upright = "" if self.upright_from is None else f"; faces tilted {self.upright_from:g} degrees or more turned upright"
        unsure = ("the model's own threshold" if self.unsure_below is None
                  else "never" if self.unsure_below == 0 else f"under {self.unsure_below:g}")
        if self.unsure_band and self.unsure_below != 0:
            unsure += f", give or take {self.unsure_band:g}"
        return (
            ("model", (self.model or model_name or "the built-in model")
             + ("; dim and flat faces lifted (--lift-light)" if self.lift_light else "")
             + ("" if self.mirror else "; each face seen once, not averaged with its mirror image")),
            ("face detector", f"{self.detector}, faces from {self.min_face_size:g} px, {scans}{upright}"),
            ("memory", self.smoother + (f", {self.memory} predictions" if self.memory else "")),
            ("captions", f"a face shown once seen in {self.confirm_frames} frame(s); \"unsure\" {unsure}"),
        )


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{OWNER}.{name} must be one of {', '.join(choices)}, got {value!r}")
