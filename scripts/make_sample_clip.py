"""Build the bundled sample clip, src/emocap/samples/faces.mp4, from two public-domain photos.

Developer tooling, not a command: the clip is made once and committed; this rebuilds it.

A virtual camera moves over a "wall" with two portraits on it:
Eileen Collins (NASA, `skimage.data.astronaut()`) and Grace Hopper
(U.S. Navy, matplotlib's `grace_hopper.jpg`). The shot, 9 s at 15 fps, 640x360:

    0.0-2.0 s  close on Collins, slow zoom in           one face
    2.0-4.6 s  pan to the bare wall between the photos   the face leaves; ~1.3 s with no face
    4.6-6.0 s  pan on to Hopper                          another face
    6.0-7.4 s  zoom out until both are in view           two faces
    7.4-9.0 s  hold, with drift                          two faces

A little hand-held shake (a few pixels, a fraction of a degree) makes it
move like a camera. The clip is made once and committed; run this again to
rebuild it (needs scikit-image, a test dependency):

    python scripts/make_sample_clip.py [--out src/emocap/samples/faces.mp4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from emocap_testkit.faces import portrait

OUT_SIZE = (640, 360)
FPS = 15
CANVAS_SIZE = (1600, 900)
COLLINS_AT = (90, 200)  # top-left corner of each photo on the canvas
HOPPER_AT = (998, 150)

# (time s, camera centre x, centre y on the canvas, zoom = output px per canvas px)
KEYFRAMES = np.array(
    [
        (0.0, 380, 380, 1.05),
        (2.0, 370, 370, 1.20),
        (3.4, 800, 450, 1.00),
        (4.6, 800, 450, 1.00),
        (6.0, 1230, 390, 1.00),
        (7.4, 800, 450, 0.44),
        (9.0, 815, 445, 0.46),
    ],
    np.float64,
)


def build_wall(collins: np.ndarray, hopper: np.ndarray) -> np.ndarray:
    """A warm grey wall (soft vertical gradient) with the two photos hung on it in thin dark frames."""
    width, height = CANVAS_SIZE
    shade = np.linspace(1.05, 0.85, height, dtype=np.float32)[:, None, None]
    wall = np.clip(np.array([150, 165, 180], np.float32) * shade, 0, 255)
    wall = np.broadcast_to(wall, (height, width, 3)).astype(np.uint8).copy()
    for photo, (x, y) in ((collins, COLLINS_AT), (hopper, HOPPER_AT)):
        h, w = photo.shape[:2]
        cv2.rectangle(wall, (x - 8, y - 8), (x + w + 7, y + h + 7), (40, 40, 45), thickness=-1)
        wall[y : y + h, x : x + w] = photo
    return wall


def camera_path(times: np.ndarray) -> np.ndarray:
    """(n, 4) centre x, centre y, zoom, roll (degrees) at each time: eased keyframes plus hand-held shake."""
    segment = np.clip(np.searchsorted(KEYFRAMES[:, 0], times, side="right") - 1, 0, len(KEYFRAMES) - 2)
    start, end = KEYFRAMES[segment], KEYFRAMES[segment + 1]
    progress = np.clip((times - start[:, 0]) / (end[:, 0] - start[:, 0]), 0, 1)
    eased = (progress * progress * (3 - 2 * progress))[:, None]
    centre = start[:, 1:3] + (end[:, 1:3] - start[:, 1:3]) * eased
    zoom = np.exp(np.log(start[:, 3]) + (np.log(end[:, 3]) - np.log(start[:, 3])) * eased[:, 0])
    shake = np.stack(
        [
            2.0 * np.sin(2 * np.pi * 0.7 * times) + 1.0 * np.sin(2 * np.pi * 1.9 * times + 1.0),
            1.5 * np.sin(2 * np.pi * 0.5 * times + 2.0) + 0.8 * np.sin(2 * np.pi * 2.3 * times),
        ],
        axis=1,
    )
    roll = 0.5 * np.sin(2 * np.pi * 0.3 * times)
    return np.column_stack([centre + shake / zoom[:, None], zoom, roll])


def render(wall: np.ndarray, centre_x: float, centre_y: float, zoom: float, roll: float) -> np.ndarray:
    out_w, out_h = OUT_SIZE
    affine = cv2.getRotationMatrix2D((centre_x, centre_y), roll, zoom)
    affine[:, 2] += (out_w / 2 - centre_x, out_h / 2 - centre_y)
    return cv2.warpAffine(wall, affine, OUT_SIZE, flags=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_out = Path(__file__).resolve().parents[1] / "src" / "emocap" / "samples" / "faces.mp4"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)

    wall = build_wall(portrait("astronaut"), portrait("grace_hopper"))
    times = np.arange(int(KEYFRAMES[-1, 0] * FPS)) / FPS
    path = camera_path(times)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(f".{args.out.stem}.part{args.out.suffix}")
    writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), FPS, OUT_SIZE)
    try:
        if not writer.isOpened():
            raise SystemExit(f"OpenCV cannot write {temporary}")
        for centre_x, centre_y, zoom, roll in path:
            writer.write(render(wall, centre_x, centre_y, zoom, roll))
    finally:
        writer.release()

    check = cv2.VideoCapture(str(temporary))
    try:
        frames = int(check.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, first = check.read()
    finally:
        check.release()
    if not ok or first.shape[:2] != OUT_SIZE[::-1] or frames != len(times):
        temporary.unlink(missing_ok=True)
        raise SystemExit(f"read-back check failed: ok={ok}, frames={frames} of {len(times)}")
    temporary.replace(args.out)
    print(f"wrote {args.out}: {len(times)} frames, {OUT_SIZE[0]}x{OUT_SIZE[1]} at {FPS} fps, "
          f"{args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
