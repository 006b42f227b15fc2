"""Options that several commands share, and what they build: the pipeline and the frame source.

A command module holds its own options and wiring only; whatever two commands
both take (model, detector, smoothing, image size limit) is defined here once.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable

from emocap.commands.arguments import positive_int, real_number, whole_number
from emocap.defaults import (
    DEFAULT_CONFIRM_FRAMES, DEFAULT_FULL_SCAN_EVERY, DEFAULT_MIN_FACE_SIZE, DEFAULT_MIRROR, DEFAULT_SMOOTHER,
    DEFAULT_UNSURE_BAND, DETECTOR_NAMES,
)
from emocap.errors import EmocapError, SourceError
from emocap.images import DEFAULT_MAX_IMAGE_SIDE
from emocap.labels import BUILTIN_MODEL_FILES, BUILTIN_MODEL_NAMES, DEFAULT_WORDING, WORDINGS
from emocap.pipeline_config import PipelineConfig


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """All options `build_pipeline` reads (for commands that process video: `live`, `transcribe`, `serve`)."""
    add_model_options(parser)
    add_smoothing_options(parser)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Detector and classifier options, shared by `live`, `image`, `transcribe` and `serve`."""
    group = parser.add_argument_group("faces and model")
    add_model_choice(group)
    group.add_argument("--detector", choices=DETECTOR_NAMES, default=PipelineConfig.detector,
                       help="face detector: mtcnn (the paper's, default) or haar (faster, frontal faces only)")
    group.add_argument("--min-face-size", type=positive_int, default=DEFAULT_MIN_FACE_SIZE, metavar="PX",
                       help="ignore faces smaller than this many pixels (the larger side of the face's box; the "
                       f"detector searches from this size; default: {DEFAULT_MIN_FACE_SIZE})")
    group.add_argument("--upright-from", type=real_number(0, unit="number of degrees"), default=None, metavar="DEG",
                       help="turn a face upright before classifying it when its eyes tilt DEG degrees or more "
                       "(MTCNN's eye landmarks; 10 scored best over heads tilted 0-30 degrees, +1.5 points, but "
                       "cost 0.6 on upright ones; default: never turn)")
    group.add_argument("--unsure-below", type=real_number(0, maximum=0.99, unit="probability"), default=None,
                       metavar="P",
                       help="caption a face \"unsure\", with no emotion, while the model's smoothed probability of "
                       "the emotion it would show is under P; records keep the probabilities (default: the "
                       "model's own threshold, the lowest at which PublicTest faces still shown are right 85%% "
                       "of the time, see `emocap evaluate`; 0: always name an emotion)")
    group.add_argument("--unsure-band", type=real_number(0, maximum=0.5, unit="probability"),
                       default=DEFAULT_UNSURE_BAND, metavar="B",
                       help="steadier \"unsure\" captions: a face that names an emotion turns unsure only under the "
                       "threshold minus B, and an unsure one names an emotion again only at the threshold plus B, so "
                       "a confidence wavering about the threshold does not flicker (default: %(default)g, which about "
                       "halves the caption changes; 0: none)")
    add_lift_light_option(group)
    group.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=DEFAULT_MIRROR,
                       help="average each face with its mirror image, as the built-in models are made to: +0.7 "
                       "points on FER2013's test faces, +1 on built clips through the memory (default); "
                       "--no-mirror does half the classifier's work, for a slow CPU with several faces")


def add_lift_light_option(parser) -> None:
    """--lift-light: the classifier lifts dim and flat faces (the model options, and `evaluate`)."""
    parser.add_argument("--lift-light", action="store_true",
                        help="brighten and stretch a face darker or flatter than the average training face before "
                        "classifying it: for dim rooms and washed-out video (FER2013 faces at 15%% of the "
                        "light: 69.4%% right instead of 59.1%%; in good light 0.5 points fewer on the live "
                        "path; default: off)")


def add_fer_data_option(parser, *, use: str = "", required: bool = True) -> None:
    """--data: FER2013 in any of the layouts `emocap.datasets` reads (`evaluate`, `calibrate`, `train`,
    `export`, `interpolate`); `use` says what the command does with its faces."""
    parser.add_argument("--data", required=required, metavar="PATH",
                        help="FER2013: Kaggle folder (train/, test/), the original CSV, or the mosaic pack folder"
                        + (f" ({use})" if use else ""))


def add_model_choice(parser) -> None:
    """--model and --labels: a built-in model by name or a model file, or which built-in model by its labels."""
    names = "; ".join(f"{name}: {summary}" for name, (_, summary) in BUILTIN_MODEL_NAMES.items())
    parser.add_argument("--model", metavar="NAME|FILE.onnx", type=model_by_name,
                        help=f"a built-in model by name ({names}) or an emotion model from `emocap export` (a file "
                        "named like a built-in model: ./NAME); default: standard")
    parser.add_argument("--labels", choices=tuple(BUILTIN_MODEL_FILES), default=None,
                        help="which built-in model by its classes: fer2013 (FER2013's seven emotions; the default) "
                        "or ferplus (eight: the seven and contempt, trained on FER+'s ten votes a face)")


def model_by_name(model: str) -> str:
    """The file a model option names: a built-in model's (a name wins over a file of that name; 'builtin' is
    the default one) or the path given; read as the option is parsed, so every use of the option sees the file."""
    from emocap.classifier import BUILTIN_MODEL, NAMED_MODELS

    if model == "builtin":
        return str(BUILTIN_MODEL)
    return str(NAMED_MODELS[model]) if model in NAMED_MODELS else model


def chosen_model(args: argparse.Namespace) -> str | None:
    """The model file --model or --labels names; None for the default built-in model."""
    labels = getattr(args, "labels", None)
    if labels is None:
        return args.model
    if args.model:
        raise EmocapError(f"--labels {labels} chooses a built-in model and --model {args.model!r} brings its own "
                          "labels: give one of the two")
    from emocap.classifier import BUILTIN_MODELS

    return str(BUILTIN_MODELS[labels])


MAX_PAPER_MEMORY = 3600


def add_smoothing_options(parser: argparse.ArgumentParser) -> None:
    """Tracking and smoothing options, shared by `live`, `transcribe` and `serve`."""
    group = parser.add_argument_group("tracking and smoothing")
    group.add_argument("--smoother", choices=("ema", "paper"), default=DEFAULT_SMOOTHER,
                       help="ema: average each face's probabilities over time, change the caption only when "
                       "another emotion clearly leads (default: more accurate, quicker and calmer in "
                       "docs/BENCHMARKS.md); paper: change it only when the last N predictions agree")
    group.add_argument("--memory", type=whole_number(1, MAX_PAPER_MEMORY, note="two minutes at 30 fps"),
                       default=None, metavar="N",
                       help="predictions the paper memory keeps (default 4; only with --smoother paper); at most "
                       f"{MAX_PAPER_MEMORY}, two minutes at 30 fps: a caption that must hold longer than that "
                       "before it shows is never seen, and each entry costs memory for every face")
    group.add_argument("--detect-every", type=positive_int, default=1, metavar="K",
                       help="run the face detector on every K-th frame and reuse its boxes in between (default: 1)")
    group.add_argument("--full-scan-every", type=positive_int, default=DEFAULT_FULL_SCAN_EVERY, metavar="K",
                       help="MTCNN scans the whole frame every K-th time it runs and, in between, looks only where "
                       "the faces were (scanning at once if one is lost): new faces appear within K frames; "
                       f"1 scans every frame, the paper's way (default: {DEFAULT_FULL_SCAN_EVERY})")
    group.add_argument("--confirm-frames", type=positive_int, default=DEFAULT_CONFIRM_FRAMES, metavar="N",
                       help="caption a face once it has been detected in N frames, so a one-frame false "
                       f"detection gets no caption, record or report row (default: {DEFAULT_CONFIRM_FRAMES}; "
                       "1 captions every detection; photos always 1)")


def add_wording_option(parser: argparse.ArgumentParser) -> None:
    """--wording: how every caption this command shows words a face (`live`, `image`, `transcribe`, `serve`)."""
    parser.add_argument(
        "--wording", choices=WORDINGS, default=DEFAULT_WORDING,
        help="looks: captions say \"looks happy\", \"looks sad / fear\"; plain: \"happy\", \"sad / fear\" "
        f"(default: {DEFAULT_WORDING}, since a caption describes how a face looks, not what its person feels). "
        "\"unsure\" is said as it is; records keep the class names in label and runner_up",
    )


def add_image_limit_option(parser: argparse.ArgumentParser) -> None:
    """The one size limit on decoded images (`image`, `live` over photos, `serve`)."""
    parser.add_argument(
        "--max-image-side", type=whole_number(16), default=DEFAULT_MAX_IMAGE_SIDE, metavar="PX",
        help=f"refuse images and video frames larger than this many pixels per side, from their headers, "
        f"before decoding them (default: {DEFAULT_MAX_IMAGE_SIDE}; each decoded copy of a frame "
        "takes 3 bytes a pixel and decoders make several: gigabytes for a side of 20000)",
    )


def pipeline_config(args: argparse.Namespace, **changes) -> PipelineConfig:
    """The `PipelineConfig` of the shared options this command has (settings it has no option for keep the
    config's defaults), with `changes`; checked before any slow work (a camera probe, loading models), its
    errors in the options' own names."""
    settings = {name: getattr(args, name) for name in PipelineConfig.names() if hasattr(args, name)}
    try:
        return PipelineConfig(**{**settings, "model": chosen_model(args), **changes})
    except ValueError as error:
        raise EmocapError(re.sub(r"^PipelineConfig\.(\w+)", lambda name: "--" + name[1].replace("_", "-"),
                                 str(error))) from None


def build_pipeline(args: argparse.Namespace, *, stills: bool = False, config: PipelineConfig | None = None, **changes):
    """A Pipeline of `config`, or of `pipeline_config(args, **changes)` (heavy imports happen here, not at
    `emocap --help`). For `stills` (photos, each a frame of its own) a face is shown at once: there are no
    frames to confirm it in."""
    from emocap.pipeline import Pipeline

    if config is None:
        config = pipeline_config(args, **({"confirm_frames": 1} if stills else {}), **changes)
    try:
        return Pipeline(config=config)
    except ValueError as error:  # each detector has its own smallest face (MTCNN 12 px, Haar 24 px)
        raise EmocapError(f"--detector {config.detector} --min-face-size {config.min_face_size:g}: {error}") from None


def open_requested_source(
    spec: str | None, *, command: str, max_image_side: int = DEFAULT_MAX_IMAGE_SIDE,
    on_unreadable_image: Callable[[SourceError], None] | None = None,
):
    """The named source; with none named, camera 0, or the bundled sample clip when no camera opens."""
    from emocap.sources import open_source, sample_clip

    options = {"max_image_side": max_image_side, "on_unreadable_image": on_unreadable_image}
    if spec is not None:
        return open_source(spec, **options)
    try:
        return open_source("0")
    except SourceError as error:
        print(
            f"emocap {command}: note: {error}; playing the bundled sample clip instead "
            "(choose a camera, video, folder or the screen with --source)",
            file=sys.stderr,
        )
        return open_source(str(sample_clip()))


@contextmanager
def steps_bar(total: int, desc: str, unit: str) -> Iterator[Callable[[str], None]]:
    """A progress bar of `total` named steps (a yardstick's conditions, FER2013-C's corruptions): the
    callback it yields shows a step's name and moves the bar one step."""
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False) as bar:
        yield lambda name: (bar.set_postfix_str(name), bar.update())
