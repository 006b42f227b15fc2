"""`emocap image`: the emotion of every face in one or more photos."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from emocap.commands.arguments import add_command
from emocap.commands.options import add_image_limit_option, add_model_options, add_wording_option, build_pipeline
from emocap.errors import OutputError, SourceError
from emocap.outputs.files import ANNOTATED_STEM, is_annotated_copy

TOP_CLASSES = 3
ANNOTATED_SUFFIX = f"{ANNOTATED_STEM}.png"

EPILOG = """\
Each face is classified on its own (there is no memory to steady a still
photo), so the label is the model's top class, with a runner-up when the
two are close.

examples:
  emocap image photo.jpg
      photo.jpg: 1 face
        Face 1 (centre): looks happy - positive   happy 91%  surprise 5%  neutral 2%   box 120,64-310,290
  emocap image photo.jpg --annotate photo-emotions.png
  emocap image holiday/ --annotate marked/      a folder in, a folder of annotated copies out
  emocap image a.jpg b.jpg --json > faces.jsonl
      one JSON line per photo: {"path", "size", "faces": [...]} (faces as in `emocap live --no-window`)
"""


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "image",
        help="emotions of the faces in photos",
        description="Find the faces in photos and say which emotion each one shows.",
        epilog=EPILOG,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, or folders of images")
    parser.add_argument("--annotate", type=Path, metavar="OUT",
                        help="save a copy with boxes, captions and probability bars: a file for one photo, "
                        f"an existing folder for several (each saved as NAME{ANNOTATED_SUFFIX})")
    parser.add_argument("--json", action="store_true", help="one JSON line per photo instead of text")
    add_wording_option(parser)
    add_image_limit_option(parser)
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    photos = expand_paths(args.paths)
    targets = annotation_targets(photos, args.annotate, model=args.model)
    # A still photo has no history to smooth, and no earlier faces to search near.
    pipeline = build_pipeline(args, stills=True, smoother="none", full_scan_every=1)
    failures = 0
    for photo, target in zip(photos, targets):
        try:
            describe(photo, target, pipeline, as_json=args.json, max_side=args.max_image_side, wording=args.wording)
        except SourceError as error:
            print(f"emocap image: error: {error}", file=sys.stderr)
            failures += 1
    return SourceError.exit_code if failures else 0


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given, folders replaced by their images (not our own annotated copies); SourceError otherwise."""
    from emocap.sources import folder_images, no_such_input

    photos: list[Path] = []
    for text in paths:
        path = Path(text).expanduser()
        if path.is_dir():
            images = [image for image in folder_images(path, text) if not is_annotated_copy(image)]
            if not images:
                raise SourceError(f"folder {text!r} has only annotated copies (*{ANNOTATED_STEM}.*), no photos")
            photos.extend(images)
        elif path.is_file():
            photos.append(path)
        else:
            raise SourceError(no_such_input(path, text, "image or folder"))
    return photos


def annotation_targets(photos: list[Path], annotate: Path | None, *, model: str | None = None) -> list[Path | None]:
    """Where each annotated copy goes: OUT itself for one photo, OUT/NAME.annotated.png for several.

    Checked before any work: no copy over a photo read or the `model` (--model) in use, no two copies on one file.
    """
    from emocap.outputs.files import check_folders, check_outputs

    if annotate is None:
        return [None] * len(photos)
    if annotate.is_dir():
        targets = [annotate / f"{photo.stem}{ANNOTATED_SUFFIX}" for photo in photos]
    elif len(photos) > 1:
        raise OutputError(
            f"--annotate {str(annotate)!r} must be an existing folder when there are {len(photos)} photos"
        )
    else:
        from emocap.images import can_write_image

        if not can_write_image(annotate):
            raise OutputError(f"cannot write an image named {str(annotate)!r}: use .png or .jpg")
        targets = [annotate]
    check_outputs(((photo, [target]) for photo, target in zip(photos, targets)), noun="photo", verb="annotates",
                  also_read={"--model": model})
    check_folders(targets)
    return targets


def describe(photo: Path, target: Path | None, pipeline, *, as_json: bool, max_side: int, wording: str) -> None:
    """Classify the faces of one photo, print them, and save the annotated copy if asked."""
    from emocap.outputs import CaptionOverlay, frame_record
    from emocap.images import read_image

    image = read_image(photo, max_side=max_side)
    pipeline.reset()
    result = pipeline.process(image, 0.0)
    if target is not None:
        save_annotated(CaptionOverlay(wording=wording).annotate(image, result), target)
    if as_json:
        record = frame_record(result, wording=wording)
        line = {"path": str(photo), "size": list(result.frame_size), "faces": record["faces"]}
        print(json.dumps(line, ensure_ascii=False, allow_nan=False), flush=True)
    else:
        print(text_report(photo, result, wording=wording), flush=True)


def text_report(photo: Path, result, *, wording: str) -> str:
    """'photo.jpg: 2 faces' and one line per face: caption, top classes, box."""
    import numpy as np

    from emocap.outputs.captions import frame_captions

    faces = result.faces
    if not len(faces):
        return f"{photo}: no face found"
    labels = result.labels
    lines = [f"{photo}: {len(faces)} face{'s' if len(faces) > 1 else ''}"]
    top = np.argsort(-faces.probs, axis=1)[:, :TOP_CLASSES]
    _, _, captions = frame_captions(result, separator=" - ", wording=wording)
    for row, caption in enumerate(captions):
        shares = "  ".join(f"{labels[c]} {faces.probs[row, c]:.0%}" for c in top[row])
        x1, y1, x2, y2 = np.round(faces.boxes[row]).astype(int).tolist()
        lines.append(f"  {caption}   {shares}   box {x1},{y1}-{x2},{y2}")
    return "\n".join(lines)


def save_annotated(annotated, target: Path) -> None:
    from emocap.images import write_image

    write_image(target, annotated)
    print(f"emocap image: wrote {target}", file=sys.stderr)

