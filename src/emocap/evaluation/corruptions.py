"""FER2013-C: FER2013 test faces under what a webcam or a recorded video does to faces.

In the spirit of ImageNet-C (Hendrycks and Dietterich, 2019): each corruption
at three severities, made deterministically (a seed per corruption and
severity) from the dataset itself, nothing stored. The model is scored on each,
and the mean corruption accuracy (mCA) averages all of them.

The families, and the strength each severity (1 / 2 / 3) stands for, are the table in
`emocap.corruption_families`, which training's `WebcamCorruptions` reads too:

    dark             exposure x 0.5 / 0.3 / 0.15 (a dim room)
    gamma            gamma 1.8 / 2.5 / 3.5 (crushed shadows)
    low_contrast     contrast x 0.5 / 0.3 / 0.15 around the mean
    uneven_light     a light gradient across the face, down to x 0.6 / 0.4 / 0.2 (side or stage light)
    gaussian_blur    sigma 0.8 / 1.5 / 2.5 px at 48 px (focus)
    motion_blur      a 5 / 9 / 13 px streak at a random angle
    downscale        to 32 / 24 / 16 px and back (a small face in a group shot)
    jpeg             quality 30 / 15 / 7
    noise            Gaussian sensor noise, sigma 8 / 16 / 28 levels
    rotation         in-plane, 10 / 20 / 30 degrees either way
    detector_jitter  the crop shifted and scaled by 1 / 2 / 3 times the frame-to-frame
                     spread of MTCNN's boxes, measured on the bundled clip (BOX_JITTER)
    occlusion        a grey patch over the mouth, 30 / 45 / 60% of the face wide

All work on uint8 (N, 48, 48) grayscale faces, as FER2013 stores them and as
the run time crops them, and return the same shape.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from emocap.corruption_families import WEBCAM_CORRUPTIONS, corruption_family

SEVERITIES = (1, 2, 3)

BOX_JITTER = {"shift_x": 0.024, "shift_y": 0.012, "log_scale": 0.023}
"""Spread (std) of MTCNN's boxes around their own 5-frame moving average on the bundled clip, as fractions
of the face side (shift) and in log size (scale): `measure_box_jitter(sample_clip())` measures it."""


def _rng(name: str, severity: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(name.encode()), severity, seed])


def rounded_uint8(images: np.ndarray) -> np.ndarray:
    """Float images rounded and clipped to uint8 pixels."""
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


def _strength(name: str, severity: int):
    """The family's strength at this severity, from the table training reads too."""
    return corruption_family(name).severities[severity - 1]


def _dark(faces, severity, rng):
    return rounded_uint8(faces.astype(np.float32) * _strength("dark", severity))


def _gamma(faces, severity, rng):
    gamma = _strength("gamma", severity)
    return rounded_uint8(255 * (faces.astype(np.float32) / 255) ** gamma)


def _low_contrast(faces, severity, rng):
    scale = _strength("low_contrast", severity)
    images = faces.astype(np.float32)
    mean = images.mean(axis=(1, 2), keepdims=True)
    return rounded_uint8((images - mean) * scale + mean)


def _uneven_light(faces, severity, rng):
    low = _strength("uneven_light", severity)
    size = faces.shape[1]
    angles = rng.uniform(0, 2 * np.pi, len(faces))
    grid = (np.arange(size) - (size - 1) / 2) / (size - 1)  # -0.5 .. 0.5
    along = np.cos(angles)[:, None, None] * grid[None, None, :] + np.sin(angles)[:, None, None] * grid[None, :, None]
    light = 1 - (1 - low) * (along - along.min(axis=(1, 2), keepdims=True)) / np.ptp(along, axis=(1, 2), keepdims=True)
    return rounded_uint8(faces.astype(np.float32) * light)


def _gaussian_blur(faces, severity, rng):
    sigma = _strength("gaussian_blur", severity)
    return np.stack([cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REFLECT) for face in faces])


def _motion_blur(faces, severity, rng):
    length = _strength("motion_blur", severity)
    out = np.empty_like(faces)
    for i, (face, angle) in enumerate(zip(faces, rng.uniform(0, 180, len(faces)))):
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1 / length
        rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), float(angle), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        out[i] = cv2.filter2D(face, -1, kernel / max(kernel.sum(), 1e-6), borderType=cv2.BORDER_REFLECT)
    return out


def _downscale(faces, severity, rng):
    side = _strength("downscale", severity)
    size = faces.shape[1]
    return np.stack([
        cv2.resize(cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA), (size, size),
                   interpolation=cv2.INTER_LINEAR)
        for face in faces
    ])


def _jpeg(faces, severity, rng):
    quality = _strength("jpeg", severity)
    return np.stack([
        cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)
        for face in faces
    ])


def _noise(faces, severity, rng):
    sigma = _strength("noise", severity)
    return rounded_uint8(faces.astype(np.float32) + rng.normal(0, sigma, faces.shape))


def _affine(faces, angles, shifts, scales):
    size = faces.shape[1]
    centre = ((size - 1) / 2, (size - 1) / 2)
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        matrix = cv2.getRotationMatrix2D(centre, float(angles[i]), float(scales[i]))
        matrix[:, 2] += shifts[i] * size
        out[i] = cv2.warpAffine(face, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def rotated_faces(faces: np.ndarray, degrees) -> np.ndarray:
    """Faces (N, H, W) each turned about its centre by its angle in `degrees` (N,), counter-clockwise for
    positive ones, edges replicated: FER2013-C's rotation."""
    return _affine(faces, np.asarray(degrees, np.float64), np.zeros((len(faces), 2)), np.ones(len(faces)))


def _rotation(faces, severity, rng):
    angle = _strength("rotation", severity)
    return rotated_faces(faces, angle * rng.choice([-1.0, 1.0], len(faces)))


def jittered_boxes(rng: np.random.Generator, count: int, spread: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shifts (count, 2), as fractions of the face side, and scales (count,) of the face in its crop when
    MTCNN's box moves by `spread` (one for every face, or one a face) times its measured frame-to-frame
    spread (BOX_JITTER)."""
    spreads = np.broadcast_to(np.asarray(spread, np.float64), (count,))
    shifts = rng.normal(0, 1, (count, 2)) * spreads[:, None] * np.array([BOX_JITTER["shift_x"], BOX_JITTER["shift_y"]])
    # A box that is larger than it should be shows the face smaller in the crop: scale by the inverse.
    scales = np.exp(-rng.normal(0, 1, count) * spreads * BOX_JITTER["log_scale"])
    return shifts, scales


def _detector_jitter(faces, severity, rng):
    shifts, scales = jittered_boxes(rng, len(faces), _strength("detector_jitter", severity))
    return _affine(faces, np.zeros(len(faces)), shifts, scales)


def _occlusion(faces, severity, rng):
    width = _strength("occlusion", severity)
    size = faces.shape[1]
    out = faces.copy()
    half = round(width * size / 2)
    centres = np.round(size / 2 + rng.normal(0, 0.03 * size, len(faces))).astype(int)
    top, bottom = round(0.66 * size), round(0.90 * size)  # the mouth region of a FER2013-framed face
    for i, centre in enumerate(centres):
        out[i, top:bottom, max(centre - half, 0) : centre + half] = 128
    return out


@dataclass(frozen=True)
class Corruption:
    name: str
    apply: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

    def __call__(self, faces: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        faces = np.asarray(faces)
        if faces.dtype != np.uint8 or faces.ndim != 3:
            raise ValueError(f"expected uint8 grayscale faces (N, H, W), got {faces.dtype} {faces.shape}")
        return self.apply(faces, severity, _rng(self.name, severity, seed))


_APPLY = {
    "dark": _dark, "gamma": _gamma, "low_contrast": _low_contrast, "uneven_light": _uneven_light,
    "gaussian_blur": _gaussian_blur, "motion_blur": _motion_blur, "downscale": _downscale, "jpeg": _jpeg,
    "noise": _noise, "rotation": _rotation, "detector_jitter": _detector_jitter, "occlusion": _occlusion,
}

# In the table's order, which is the order of the report, its JSON and its plot; a family the table
# gains without a function here fails at import, not halfway through an evaluation.
CORRUPTIONS: dict[str, Corruption] = {
    family.name: Corruption(family.name, _APPLY[family.name]) for family in WEBCAM_CORRUPTIONS
}


def corruption_accuracy(predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray, labels: np.ndarray,
                        *, seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """Accuracy on clean faces, on each corruption at each severity, and their mean (mCA).

    `predict` maps uint8 faces (N, 48, 48) to probabilities (N, k)."""
    def accuracy(images: np.ndarray) -> float:
        return float((predict(images).argmax(axis=1) == labels).mean())

    report = {"faces": len(faces), "seed": seed, "clean": accuracy(faces), "corruptions": {}}
    for name, corruption in CORRUPTIONS.items():
        if progress is not None:
            progress(name)
        report["corruptions"][name] = {str(s): accuracy(corruption(faces, s, seed)) for s in SEVERITIES}
    scores = [value for by_severity in report["corruptions"].values() for value in by_severity.values()]
    report["mca"] = float(np.mean(scores))
    report["middle_severity_drop"] = {
        name: report["clean"] - by_severity["2"] for name, by_severity in report["corruptions"].items()
    }
    return report


def measure_box_jitter(clip) -> dict[str, float]:
    """The spread of MTCNN's boxes around their own 5-frame moving average, on a video: the detector's
    frame-to-frame noise without the faces' own motion (fractions of the face side; log size)."""
    from collections import defaultdict

    from emocap.detection.mtcnn import MtcnnFaceDetector
    from emocap.pipeline import Pipeline
    from emocap.sources import open_path

    # Every frame scanned whole, as the paper detects: between scans the default search refits the last
    # boxes, which steadies them, so this is the larger spread of the two. The detector's own boxes, all of
    # them: confirmation and the size filter drop each track's first boxes, which moved shift_x by 15%.
    # The detector searches from its own 40 px; min_face_size 0 turns off only the pipeline's size filter.
    pipeline = Pipeline(MtcnnFaceDetector(), None, smoother="none", full_scan_every=1, confirm_frames=1, min_face_size=0)
    tracks: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
    with open_path(clip) as source:
        for frame in source:
            result = pipeline.process(frame.image_bgr, frame.time_s)
            for track_id, box in zip(result.faces.track_ids.tolist(), result.faces.boxes.tolist()):
                tracks[track_id][result.index] = np.asarray(box, np.float64)
    shifts, scales = [], []
    for boxes in tracks.values():
        for index, box in boxes.items():
            window = [boxes[j] for j in range(index - 2, index + 3) if j in boxes]
            if len(window) < 5:
                continue
            window = np.array(window)
            side = (box[2] - box[0] + box[3] - box[1]) / 2
            centres = (window[:, :2] + window[:, 2:]) / 2
            shifts.append(((box[:2] + box[2:]) / 2 - centres.mean(axis=0)) / side)
            sides = (window[:, 2] - window[:, 0] + window[:, 3] - window[:, 1]) / 2
            scales.append(np.log(side / sides.mean()))
    shifts, scales = np.array(shifts), np.array(scales)
    return {"shift_x": float(shifts[:, 0].std()), "shift_y": float(shifts[:, 1].std()),
            "log_scale": float(scales.std()), "samples": len(scales)}
