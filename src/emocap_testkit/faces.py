"""Real faces from two public-domain photos, and frames built from them: the portraits the bundled
sample clip is made of (emocap/samples/README.md), for the tests, the benchmarks and the scripts that
build the docs' figures and the clip. Fixtures, not product: the clip is what emocap ships.

* "astronaut": Eileen Collins, NASA photo (public domain), shipped by
  scikit-image as `skimage.data.astronaut()` (needs scikit-image, a test extra);
* "grace_hopper": Grace Hopper, US Navy photo (public domain), shipped by
  matplotlib as `mpl-data/sample_data/grace_hopper.jpg`.

The face regions below were checked by eye on the photos (x1, y1, x2, y2:
brow to chin, ear to ear, the extent MTCNN's boxes cover).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from emocap.images import read_image

FACE_REGIONS = {
    "astronaut": (175.0, 55.0, 270.0, 175.0),
    "grace_hopper": (170.0, 105.0, 355.0, 340.0),
}
PATCH_MARGIN = 0.6
"""Border kept around a face when it is cut out, as a fraction of the face side (hair, neck)."""


def astronaut_bgr() -> np.ndarray:
    try:
        from skimage import data
    except ImportError as error:  # scikit-image is a test dependency only
        raise ImportError("the astronaut photo needs scikit-image (pip install scikit-image)") from error
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def grace_hopper_bgr() -> np.ndarray:
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return read_image(path)


PHOTOS = {"astronaut": astronaut_bgr, "grace_hopper": grace_hopper_bgr}


def portrait(name: str, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """One of the photos (BGR), whole or cut to `crop` (x1, y1, x2, y2 in the photo's pixels)."""
    if name not in PHOTOS:
        raise ValueError(f"photo must be one of {sorted(PHOTOS)}, got {name!r}")
    photo = PHOTOS[name]()
    if crop is None:
        return photo
    x1, y1, x2, y2 = crop
    return photo[y1:y2, x1:x2].copy()


def face_patch(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A square cut around one photo's face, and the face's box inside that cut."""
    photo = portrait(name)
    face = np.asarray(FACE_REGIONS[name])
    centre = (face[:2] + face[2:]) / 2
    side = (face[2:] - face[:2]).max() * (1 + PATCH_MARGIN)
    x1, y1 = np.maximum(np.round(centre - side / 2), 0).astype(int)
    x2, y2 = np.minimum(np.round(centre + side / 2), photo.shape[1::-1]).astype(int)
    return photo[y1:y2, x1:x2].copy(), face - [x1, y1, x1, y1]


def face_scene(
    width: int,
    height: int,
    count: int,
    face_side: float,
    *,
    background: int = 190,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A BGR frame with `count` real faces pasted on a plain background, and their boxes (count, 4).

    Faces alternate between the two photos, sit one per cell of a grid with a
    little random offset, and are scaled so each face box has about
    `face_side` pixels on its longer side.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count!r}")
    columns = min(count, math.ceil(math.sqrt(count * width / height)))
    rows = math.ceil(count / columns)
    cell_w, cell_h = width / columns, height / rows
    patches = [face_patch(name) for name in ("astronaut", "grace_hopper")]
    frame = np.full((height, width, 3), background, np.uint8)
    boxes = np.zeros((count, 4))
    rng = np.random.default_rng(seed)
    for index in range(count):  # builds a test frame, not the per-frame path
        patch, face = patches[index % len(patches)]
        scale = face_side / (face[2:] - face[:2]).max()
        resized = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ph, pw = resized.shape[:2]
        if pw > cell_w or ph > cell_h:
            raise ValueError(
                f"{count} faces of side {face_side!r} do not fit a {width}x{height} frame "
                f"(a face with its border needs {pw}x{ph}, a cell is {cell_w:.0f}x{cell_h:.0f})"
            )
        row, column = divmod(index, columns)
        slack_x, slack_y = cell_w - pw, cell_h - ph
        x = int(column * cell_w + slack_x * rng.uniform(0.25, 0.75))
        y = int(row * cell_h + slack_y * rng.uniform(0.25, 0.75))
        frame[y : y + ph, x : x + pw] = resized
        boxes[index] = face * scale + [x, y, x, y]
    return frame, boxes


def placed_faces(
    width: int, height: int, placements: list[tuple[str, float, float, float]], *,
    background: int | np.ndarray = 190, patches: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A BGR frame with faces where `placements` put them, and each face's box and visible share.

    A placement is (name, x, y, face side): the face box's top-left corner and its longer side in
    pixels; the name is one of `patches` (name -> (image, face box in it), as `face_patch` gives),
    or else one of the photos. Later faces cover earlier ones, and faces are cut at the frame's
    edges (a face may leave the frame); the visible share (0..1) is the part of each face box no
    later face covers and the frame still shows. `background`: a grey level or a BGR frame.
    """
    if isinstance(background, np.ndarray):
        frame = background.copy()
    else:
        frame = np.full((height, width, 3), background, np.uint8)
    owner = np.full((height, width), -1, np.int64)
    boxes = np.zeros((len(placements), 4))
    for index, (name, x, y, side) in enumerate(placements):  # builds a test frame, not the per-frame path
        patch, face = patches[name] if patches and name in patches else face_patch(name)
        scale = side / (face[2:] - face[:2]).max()
        resized = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        left, top = int(round(x - face[0] * scale)), int(round(y - face[1] * scale))
        x1, y1 = max(left, 0), max(top, 0)
        x2, y2 = min(left + resized.shape[1], width), min(top + resized.shape[0], height)
        if x2 > x1 and y2 > y1:
            frame[y1:y2, x1:x2] = resized[y1 - top : y2 - top, x1 - left : x2 - left]
            owner[y1:y2, x1:x2] = index
        boxes[index] = face * scale + [left, top, left, top]
    visible = np.zeros(len(placements))
    for index, box in enumerate(boxes):
        x1, y1, x2, y2 = np.round(box).astype(int)
        area = max(x2 - x1, 1) * max(y2 - y1, 1)
        inside = owner[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)]
        visible[index] = (inside == index).sum() / area
    return frame, boxes, visible


def astronaut_frame() -> np.ndarray:
    """640x480 BGR frame with the astronaut portrait (one real face) on a grey wall, as a webcam shows
    a person: the frame the web page's tests and benchmark send."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 80:560] = cv2.resize(portrait("astronaut"), (480, 480), interpolation=cv2.INTER_AREA)
    return frame
