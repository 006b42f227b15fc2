"""The one definition of how a face becomes model input.

Training, evaluation, export and the run-time classifier all build their
input from a `Preprocess`; its fields travel inside the exported model's
metadata, so a model always gets the input it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from emocap.checks import check_number, is_real, is_whole, read_json
from emocap.geometry import square_boxes

FER_SIZE = 48

FER2013_FACE_LIGHT = (0.514, 0.304)
"""The average FER2013 training face's mean brightness and contrast (standard deviation of its
pixels), on a 0-1 scale: the level `Preprocess.lift_to` lifts a dim or flat face to. Measured over
the 28,709 training faces; the middle half of their contrasts lies in 0.290-0.309."""

MAX_CONTRAST_STRETCH = 10.0
"""The most `Preprocess.lift_to` stretches a face's contrast: FER2013-C's darkest and flattest faces (0.15 of
the light or contrast) need about 7x; a blank crop's sensor noise should not be blown up without end."""


@dataclass(frozen=True)
class Preprocess:
    """Grayscale uint8 faces (N, H, W) -> float32 model input (N, channels, size, size).

    `lift_to` (mean, std) on a 0-1 scale, when set, lifts each face darker than `mean` to it and
    stretches each face flatter than `std` to it (at most `MAX_CONTRAST_STRETCH` times), before the
    normalisation by `mean` and `std`; faces already that bright and contrasty pass unchanged. Dim
    light and washed-out contrast then reach the model as the faces it was trained on.
    """

    size: int = FER_SIZE
    channels: int = 1
    mean: float = 0.5
    std: float = 0.5
    lift_to: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        # Types checked too: the fields come from a model file's metadata, where "mean": "x" or a size
        # of 48.5 would otherwise fail only later, in NumPy or OpenCV, on every face.
        if not (is_whole(self.size) and 8 <= self.size <= 512):
            raise ValueError(f"Preprocess.size must be a whole number in 8..512, got {self.size!r}")
        if not (is_whole(self.channels) and self.channels in (1, 3)):
            raise ValueError(f"Preprocess.channels must be 1 or 3, got {self.channels!r}")
        check_number("Preprocess", "mean", self.mean, 0.0, 1.0)  # of pixels on a 0-1 scale
        check_number("Preprocess", "std", self.std, 0.0, interval="(]")
        if self.lift_to is not None:
            if not (isinstance(self.lift_to, tuple) and len(self.lift_to) == 2
                    and all(is_real(value) and 0 < value < 1 for value in self.lift_to)):
                raise ValueError(f"Preprocess.lift_to must be (mean, std), each in (0, 1), got {self.lift_to!r}")

    def __call__(self, gray_faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(gray_faces)
        if faces.ndim != 3:
            raise ValueError(f"expected grayscale faces of shape (N, H, W), got shape {faces.shape}")
        if faces.shape[1:] != (self.size, self.size):
            faces = resize_faces(faces, self.size)
        scaled = faces.astype(np.float32) * (1.0 / 255.0)
        if self.lift_to is not None:
            scaled = lift_light(scaled, self.lift_to)
        normalised = (scaled - self.mean) / self.std
        return np.repeat(normalised[:, None], self.channels, axis=1)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preprocess:
        """The `Preprocess` a model's metadata describes; ValueError that names the field when a field is
        missing or ill-typed."""
        try:
            fields = read_json(text)
        except ValueError as error:
            raise ValueError(f"model metadata has no valid preprocessing: {str(text)[:200]!r} is not JSON ({error})") from None
        if not isinstance(fields, dict):
            raise ValueError(f"model metadata has no valid preprocessing: {str(text)[:200]!r} is not a JSON object")
        missing = [key for key in ("size", "channels", "mean", "std") if key not in fields]
        if missing:
            raise ValueError(f"model metadata has no valid preprocessing: {text[:200]!r} lacks {', '.join(missing)}")
        lift_to = fields.get("lift_to")  # absent from models exported before it existed
        try:
            return cls(**{k: fields[k] for k in ("size", "channels", "mean", "std")},
                       lift_to=tuple(lift_to) if isinstance(lift_to, list) else lift_to)
        except ValueError as error:
            raise ValueError(f"model metadata has no valid preprocessing: {error}") from None


def lift_light(faces: np.ndarray, lift_to: tuple[float, float]) -> np.ndarray:
    """Float faces (N, H, W) on a 0-1 scale, each darker or flatter than `lift_to` (mean, std)
    brightened and stretched to it; see `Preprocess`. `emocap.training.augment` has its torch twin."""
    target_mean, target_std = lift_to
    means = faces.mean(axis=(1, 2), keepdims=True)
    stds = faces.std(axis=(1, 2), keepdims=True)
    stretch = np.clip(target_std / np.maximum(stds, 1e-6), 1.0, MAX_CONTRAST_STRETCH)
    return ((faces - means) * stretch + np.maximum(means, target_mean)).astype(np.float32)


def resize_face(face: np.ndarray, size: int) -> np.ndarray:
    """One image to (size, size): averaged over each output pixel's area when shrinking, so
    fine detail does not alias; bilinear when enlarging."""
    interpolation = cv2.INTER_AREA if max(face.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(face, (size, size), interpolation=interpolation)


def resize_faces(faces: np.ndarray, size: int) -> np.ndarray:
    """Resize a stack of grayscale faces to (N, size, size)."""
    out = np.empty((len(faces), size, size), dtype=faces.dtype)
    for i, face in enumerate(faces):
        out[i] = resize_face(face, size)
    return out


DEFAULT_FACE_MARGIN = -0.05
"""Border around a detector box, as a fraction of its side (negative: a crop inside the box).

Measured with `benchmarks/pipeline_accuracy.py --split PublicTest --margins`:
on FER2013 faces MTCNN's box is a little larger than the FER2013 crop (median
side 1.05x), so the crop that frames a face as FER2013 does is 5% smaller
than the box. The model's training crops zoom in up to 11% and never out,
so -0.05 sits inside what it has seen. (The old 0.25 cost 9.5 points of
accuracy on detected faces: 56.1% against 65.6%.)"""


def face_crop_boxes(boxes: np.ndarray, margin: float = DEFAULT_FACE_MARGIN) -> np.ndarray:
    """Square boxes (n, 4) centred on each detection, side = longer side * (1 + margin)."""
    return square_boxes(np.asarray(boxes, np.float32).reshape(-1, 4), 1 + margin)


def crop_faces(
    frame_bgr: np.ndarray,
    boxes: np.ndarray,
    *,
    size: int = FER_SIZE,
    margin: float = DEFAULT_FACE_MARGIN,
    angles: np.ndarray | None = None,
) -> np.ndarray:
    """Square grayscale crops (n, size, size) uint8 of each box, framed like FER2013.

    `angles` (n,) radians, when given, turns each crop about its centre by minus that angle: a
    head tilted by the angle of its eye line (`eye_line_angles`) comes out upright, as FER2013's
    faces are.

    Parts of a box outside the frame are filled by replicating the border,
    so faces at the edge keep their scale. A face larger than `size` is first
    cut out at the largest whole multiple of `size` that fits it (bilinear,
    shrinking by less than 2x) and then averaged down by that factor:
    warpAffine alone samples without a low-pass filter, and a 150 px face
    shrunk to 48 px would alias.
    Only the crops are converted to grayscale, not the whole frame.
    """
    squares = face_crop_boxes(boxes, margin)
    if angles is None:
        angles = np.zeros(len(squares))
    angles = np.asarray(angles, np.float64).reshape(-1)
    if angles.shape != (len(squares),):
        raise ValueError(f"expected one angle a box ({len(squares)}), got shape {angles.shape}")
    out = np.empty((len(squares), size, size), np.uint8)
    for i, ((x1, y1, x2, y2), angle) in enumerate(zip(squares, angles)):
        side = max(float(x2 - x1), 1e-6)
        factor = max(1, int(side // size))  # a whole factor keeps the final INTER_AREA an exact box average
        cut = size * factor
        scale = cut / side
        cos, sin = scale * np.cos(angle), scale * np.sin(angle)
        centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
        affine = np.array([
            [cos, sin, cut / 2 - cos * centre_x - sin * centre_y],
            [-sin, cos, cut / 2 + sin * centre_x - cos * centre_y],
        ], np.float32)
        crop = cv2.warpAffine(frame_bgr, affine, (cut, cut), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if crop.ndim == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        out[i] = crop if factor == 1 else cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return out


def eye_line_angles(landmarks: np.ndarray) -> np.ndarray:
    """Radians (n,) of each face's line from its left-hand eye to its right-hand eye in the image
    (positive: the right-hand eye lower, y pointing down), from landmarks (n, 5, 2) whose first two
    points are the eyes; 0 where they are NaN (a detector without landmarks)."""
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (5, 2):
        raise ValueError(f"expected landmarks of shape (n, 5, 2), got shape {landmarks.shape}")
    dx, dy = (landmarks[:, 1] - landmarks[:, 0]).T
    # Whichever order the detector gives the eyes in, the line runs left to right: never upside down.
    flip = np.where(dx < 0, -1.0, 1.0)
    angles = np.arctan2(dy * flip, dx * flip)
    return np.where(np.isfinite(angles), angles, 0.0)


def upright_angles(landmarks: np.ndarray, from_degrees: float) -> np.ndarray:
    """`crop_faces` angles (n,) that turn upright the faces whose eye line tilts at least `from_degrees`,
    and leave the others (and faces without landmarks) as they are."""
    angles = eye_line_angles(landmarks)
    return np.where(np.abs(angles) >= np.radians(from_degrees), angles, 0.0)


def bgr_crops_to_gray(crops: list[np.ndarray], size: int) -> np.ndarray:
    """A list of BGR (or grayscale) face crops of any size -> uint8 (N, size, size)."""
    out = np.empty((len(crops), size, size), np.uint8)
    for i, crop in enumerate(crops):
        crop = np.asarray(crop)
        if crop.dtype != np.uint8:
            raise ValueError(f"face crop {i} must be uint8, got dtype {crop.dtype}")
        if crop.ndim in (2, 3) and min(crop.shape[:2]) < 1:  # before cvtColor, which fails on empty input
            raise ValueError(f"face crop {i} is empty, shape {crop.shape}")
        if crop.ndim == 3 and crop.shape[2] == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        elif crop.ndim != 2:
            raise ValueError(f"face crop {i} must be (H, W, 3) BGR or (H, W) gray, got shape {crop.shape}")
        out[i] = resize_face(crop, size)
    return out
