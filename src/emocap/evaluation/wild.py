"""Faces as video shows them (issue 44's yardstick): FER2013 test faces turned, tilted, lit from one
side, in warm dim light, partly covered, small and soft, and cropped off-centre, each at three
severities, and how a model reads them with and without its "unsure" rule.

The conditions and their parameters are the table `WILD_CONDITIONS` in `emocap.corruption_families`,
fixed before any model was scored on them. Like FER2013-C (`emocap.evaluation.corruptions`, whose
`Corruption` runs these too) each is made deterministically from the faces, a seed per condition and
severity, uint8 (N, 48, 48) in and out, nothing stored. The warps and the occluders are drawn at
`WILD_RENDER_SIDE` px and brought back to 48, so that a turned face is a warped face, not a 48 px
resampling artefact.

The mean accuracy over all conditions and severities is the wild accuracy; under the model's calibrated
"unsure" rule (a face's top probability under its threshold reads "unsure") each condition also gets the
share of faces shown and the share right among those shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Callable

import cv2
import numpy as np

from emocap.corruption_families import WILD_CONDITIONS, WILD_RENDER_SIDE, wild_condition
from emocap.evaluation.corruptions import SEVERITIES, Corruption, jittered_boxes, rounded_uint8


def _parameters(name: str, severity: int) -> dict[str, float]:
    return wild_condition(name).severities[severity - 1]


Parameters = dict[str, "float | np.ndarray"]
"""A condition's parameters (the names its `WildCondition.description` explains): one value for every
face (the yardstick's severities) or an array of one a face (training's draws)."""


def _per_face(parameters: Parameters, name: str, count: int, dtype=np.float64) -> np.ndarray:
    """The parameter `name` as an array of one value a face, (count,)."""
    return np.broadcast_to(np.asarray(parameters[name], dtype), (count,))


# --- warps of the face plane, drawn at WILD_RENDER_SIDE px ------------------------------------------

def _to_pixels(side: int) -> np.ndarray:
    """Face coordinates (the crop spans -0.5 .. 0.5 both ways, y down) to pixel centres of a `side` px crop."""
    return np.array([[side, 0, (side - 1) / 2], [0, side, (side - 1) / 2], [0, 0, 1]], np.float64)


def warped_faces(faces: np.ndarray, homographies: np.ndarray, render_side: int = WILD_RENDER_SIDE) -> np.ndarray:
    """Each face (N, H, H) moved by its homography (N, 3, 3) in face coordinates (the crop spans -0.5 .. 0.5),
    drawn at `render_side` px with the edges replicated, and brought back to H px."""
    size = faces.shape[1]
    pixels = _to_pixels(render_side)
    out = np.empty_like(faces)
    for i, (face, homography) in enumerate(zip(faces, homographies)):
        large = cv2.resize(face, (render_side, render_side), interpolation=cv2.INTER_CUBIC)
        matrix = pixels @ homography @ np.linalg.inv(pixels)
        warped = cv2.warpPerspective(large, matrix, (render_side, render_side), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
        out[i] = cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA)
    return out


def turned_plane(yaw_degrees: float, camera_distance: float) -> np.ndarray:
    """The homography of a face plane turned by `yaw_degrees` about its vertical axis (positive: its right
    side, as the picture shows it, goes away) and seen by a pinhole camera `camera_distance` face widths
    away, scaled so that its nearer, taller edge keeps the crop's height and centred in the crop."""
    yaw = math.radians(yaw_degrees)
    # (x, y) on the plane lands at (x cos, y) / (1 + x sin / d): the far side shrinks and gets shorter.
    projection = np.array([[math.cos(yaw), 0, 0], [0, 1, 0], [math.sin(yaw) / camera_distance, 0, 1]])
    near_depth = 1 - 0.5 * abs(math.sin(yaw)) / camera_distance
    left, right = (float((projection @ [x, 0, 1])[0] / (projection @ [x, 0, 1])[2]) for x in (-0.5, 0.5))
    fit = np.array([[near_depth, 0, -near_depth * (left + right) / 2], [0, near_depth, 0], [0, 0, 1]])
    return fit @ projection


def _in_plane(degrees: float, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    turn = math.radians(degrees)
    cos, sin = scale * math.cos(turn), scale * math.sin(turn)
    return np.array([[cos, sin, shift[0]], [-sin, cos, shift[1]], [0, 0, 1]])


def _either_way(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], count)


def render_yaw(faces: np.ndarray, p: Parameters, rng: np.random.Generator) -> np.ndarray:
    count = len(faces)
    yaws, distances = _per_face(p, "yaw_degrees", count), _per_face(p, "camera_distance", count)
    signs = _either_way(rng, count)
    return warped_faces(faces, np.stack([turned_plane(sign * yaw, distance)
                                         for sign, yaw, distance in zip(signs, yaws, distances)]))


def render_tilt(faces: np.ndarray, p: Parameters, rng: np.random.Generator) -> np.ndarray:
    count = len(faces)
    roll_sizes, yaw_sizes = _per_face(p, "roll_degrees", count), _per_face(p, "yaw_degrees", count)
    distances = _per_face(p, "camera_distance", count)
    rolls, yaws = _either_way(rng, count), _either_way(rng, count)
    return warped_faces(faces, np.stack([
        _in_plane(roll * roll_size) @ turned_plane(yaw * yaw_size, distance)
        for roll, yaw, roll_size, yaw_size, distance in zip(rolls, yaws, roll_sizes, yaw_sizes, distances)
    ]))


def render_off_centre(faces: np.ndarray, p: Parameters, rng: np.random.Generator) -> np.ndarray:
    shifts, scales = jittered_boxes(rng, len(faces), _per_face(p, "box_jitter", len(faces)))
    return warped_faces(faces, np.stack([_in_plane(0.0, scale, shift) for shift, scale in zip(shifts, scales)]))


# --- light -----------------------------------------------------------------------------------------

def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Face coordinates (-0.5 .. 0.5) of the pixel centres: x (1, size), y (size, 1)."""
    along = (np.arange(size) - (size - 1) / 2) / size
    return along[None, :], along[:, None]


def render_side_light(faces: np.ndarray, p: Parameters, rng: np.random.Generator) -> np.ndarray:
    count = len(faces)
    tilts = _per_face(p, "tilt_degrees", count)
    angles = np.radians(rng.uniform(-tilts, tilts, count))
    angles += np.pi * (rng.random(count) < 0.5)  # the lit side: right, or left
    edge_offsets = _per_face(p, "edge_offset", count)
    offsets = rng.uniform(-edge_offsets, edge_offsets, count)
    x, y = _grid(faces.shape[1])
    across = np.cos(angles)[:, None, None] * x + np.sin(angles)[:, None, None] * y - offsets[:, None, None]
    # A logistic that rises from 10% to 90% over edge_width: 2 ln 9 times its scale.
    step = 1 / (1 + np.exp(-across * 2 * math.log(9) / _per_face(p, "edge_width", count)[:, None, None]))
    shadow = 1 / _per_face(p, "light_ratio", count)[:, None, None]
    return rounded_uint8(faces.astype(np.float32) * (shadow + (1 - shadow) * step))


def render_warm_dim(faces: np.ndarray, p: Parameters, rng: np.random.Generator) -> np.ndarray:
    # float32 parameters, as the float32 faces they scale (a float64 one would change the yardstick's pixels).
    contrast, exposure, veil, noise_sigma = (_per_face(p, name, len(faces), np.float32)[:, None, None]
                                             for name in ("contrast", "exposure", "veil", "noise_sigma"))
    images = faces.astype(np.float32)
    mean = images.mean(axis=(1, 2), keepdims=True)
    dim = ((images - mean) * contrast + mean) * exposure + veil
    return rounded_uint8(dim + rng.normal(0, noise_sigma, faces.shape))


# --- a hand or a bar over the mouth or chin --------------------------------------------------------

_SUBPIXEL = 4
"""Fractional bits of the coordinates cv2 draws the occluders with, so that their area grows smoothly with scale."""


def _hand(canvas: np.ndarray, scale: float, anchor: tuple[float, float], angle: float, mirror: bool) -> None:
    """A palm and five fingers pointing up, about `scale` face widths tall, its palm at `anchor` (face
    coordinates), turned by `angle` degrees; drawn in 255 on `canvas`."""
    side, unit = canvas.shape[0], 1 << _SUBPIXEL
    turn = _in_plane(angle)[:2, :2]
    flip = -1.0 if mirror else 1.0

    def point(x, y) -> np.ndarray:
        rotated = turn @ np.array([flip * x * scale, y * scale])
        return np.round([((v + a + 0.5) * side - 0.5) * unit for v, a in zip(rotated, anchor)]).astype(np.int32)

    def finger(x0, y0, x1, y1, width) -> None:
        start, end = point(x0, y0), point(x1, y1)
        across = np.array([start[1] - end[1], end[0] - start[0]], np.float64)
        across *= width * scale * side * unit / 2 / max(np.hypot(*across), 1)
        corners = np.round([start + across, end + across, end - across, start - across]).astype(np.int32)
        cv2.fillConvexPoly(canvas, corners, 255, cv2.LINE_8, _SUBPIXEL)
        cv2.circle(canvas, tuple(int(v) for v in end), int(round(width * scale * side * unit / 2)), 255, -1,
                   cv2.LINE_8, _SUBPIXEL)

    axes = tuple(int(round(a * scale * side * unit)) for a in (0.22, 0.26))
    cv2.ellipse(canvas, tuple(int(v) for v in point(0, 0)), axes, float(angle), 0, 360, 255, -1, cv2.LINE_8, _SUBPIXEL)
    for x, top in ((-0.15, -0.62), (-0.05, -0.7), (0.05, -0.68), (0.15, -0.56)):  # fingers, spread a little
        finger(x, -0.1, x * 1.3, top, 0.09)
    finger(0.18, 0.05, 0.42, -0.22, 0.1)  # the thumb, out to one side


def _bar(canvas: np.ndarray, scale: float, anchor: tuple[float, float], angle: float, width: float) -> None:
    """A bar `width` face widths wide and `scale` tall, centred at `anchor`, turned by `angle` degrees."""
    side = canvas.shape[0]
    centre = tuple((a + 0.5) * side - 0.5 for a in anchor)
    corners = cv2.boxPoints((centre, (width * side, scale * side), -float(angle)))
    cv2.fillPoly(canvas, [np.round(corners).astype(np.int32)], 255)


def _cover(draw: Callable[[np.ndarray, float], None], size: int, area: float) -> np.ndarray:
    """The cover (size, size) in [0, 1] of the shape `draw(canvas, scale)` draws, its scale chosen by
    bisection so that the cover adds up to `area` of the crop: the nearest of the scales tried (line widths
    are whole pixels at WILD_RENDER_SIDE, so the cover moves in small steps)."""
    low, high, best = 0.0, 2.0, None
    for _ in range(24):
        scale = (low + high) / 2
        canvas = np.zeros((WILD_RENDER_SIDE, WILD_RENDER_SIDE), np.uint8)
        draw(canvas, scale)
        cover = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        if best is None or abs(cover.mean() - area) < abs(best.mean() - area):
            best = cover
        if abs(cover.mean() - area) < 0.002:
            break
        low, high = (scale, high) if cover.mean() < area else (low, scale)
    return best


def occluder_covers(count: int, size: int, area: "float | np.ndarray",
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """float32 (count, size, size) in [0, 1]: how much of each pixel a hand or a bar (at random) covers,
    over the mouth or chin, `area` of the crop in all (one for every face, or one a face); and bool
    (count,): which are hands."""
    areas = np.broadcast_to(np.asarray(area, np.float64), (count,))
    covers = np.empty((count, size, size), np.float32)
    hands = rng.random(count) < 0.5
    for i in range(count):
        angle = rng.uniform(-20, 20)
        if hands[i]:  # the palm at the chin, the fingers up over the mouth (a FER2013 mouth is at about y 0.28)
            anchor, mirror = (rng.normal(0, 0.08), rng.uniform(0.35, 0.48)), bool(rng.random() < 0.5)
            covers[i] = _cover(lambda canvas, scale: _hand(canvas, scale, anchor, angle, mirror), size, areas[i])
        else:  # across the mouth or the chin
            anchor, width = (rng.normal(0, 0.05), rng.uniform(0.26, 0.4)), rng.uniform(0.6, 1.1)
            covers[i] = _cover(lambda canvas, scale: _bar(canvas, scale, anchor, angle, width), size, areas[i])
    return covers, hands


def render_occluder(faces: np.ndarray, p: Parameters, rng: np.random.Generator) -> np.ndarray:
    covers, hands = occluder_covers(len(faces), faces.shape[1], _per_face(p, "area", len(faces)), rng)
    # A hand is about as bright as the face it covers; a bar (a cup, a microphone, a sleeve) is any grey.
    medians = np.median(faces.reshape(len(faces), -1), axis=1)
    greys = np.where(hands, medians * rng.uniform(0.8, 1.2, len(faces)), rng.uniform(20, 235, len(faces)))
    return rounded_uint8(faces.astype(np.float32) * (1 - covers) + greys[:, None, None] * covers)


# --- small and soft --------------------------------------------------------------------------------

def render_small_soft(faces: np.ndarray, p: Parameters, rng: np.random.Generator) -> np.ndarray:
    size = faces.shape[1]
    sides, sigmas = _per_face(p, "side", len(faces)), _per_face(p, "blur_sigma", len(faces))
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        side = int(round(sides[i]))  # whole pixels: training draws real numbers
        small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), float(sigmas[i]), borderType=cv2.BORDER_REFLECT)
        out[i] = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    return out


RENDER: dict[str, Callable[[np.ndarray, Parameters, np.random.Generator], np.ndarray]] = {
    "yaw": render_yaw, "tilt": render_tilt, "side_light": render_side_light, "warm_dim": render_warm_dim,
    "occluder": render_occluder, "small_soft": render_small_soft, "off_centre": render_off_centre,
}
"""The one definition of each condition: uint8 faces (N, H, H), its parameters (the yardstick's severity,
or training's draws from `training_ranges`) and a random generator for what varies face to face (which
way a head turns, where a hand is) -> uint8 faces of the same shape."""


def _at_severity(name: str) -> Callable[[np.ndarray, int, np.random.Generator], np.ndarray]:
    render = RENDER[name]
    return lambda faces, severity, rng: render(faces, _parameters(name, severity), rng)


# In the table's order (the report's, its JSON's and its plot's); a condition the table gains without a
# function here fails at import.
WILD: dict[str, Corruption] = {condition.name: Corruption(condition.name, _at_severity(condition.name))
                               for condition in WILD_CONDITIONS}


# --- scoring ----------------------------------------------------------------------------------------

def _scores(probs: np.ndarray, labels: np.ndarray, unsure_below: float) -> dict:
    """Accuracy of the top class, and under the "unsure" rule the faces shown and those of them right."""
    right = probs.argmax(axis=1) == labels
    shown = probs.max(axis=1) >= unsure_below
    return {"faces": len(labels), "accuracy": float(right.mean()), "shown_faces": int(shown.sum()),
            "right_shown_faces": int((shown & right).sum())}


def _pooled(cells: list[dict]) -> dict:
    """Several cells' faces together: mean accuracy, the share shown, the share right of those shown."""
    faces, shown = sum(c["faces"] for c in cells), sum(c["shown_faces"] for c in cells)
    right = sum(c["right_shown_faces"] for c in cells)
    return {"accuracy": float(np.mean([c["accuracy"] for c in cells])), "shown": shown / max(faces, 1),
            "right_when_shown": right / shown if shown else None}


def wild_views(faces: np.ndarray, seed: int = 0, progress: Callable[[str], None] | None = None
               ) -> Iterator[tuple[str, int, np.ndarray]]:
    """(condition, severity, the faces as it renders them) for every cell of the yardstick, in the table's
    order; `progress` hears each condition's name before its first cell."""
    for name, condition in WILD.items():
        if progress is not None:
            progress(name)
        for severity in SEVERITIES:
            yield name, severity, condition(faces, severity, seed)


def wild_accuracy(predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray, labels: np.ndarray, *,
                  unsure_below: float = 0.0, seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """Accuracy on the clean faces and on each condition at each severity, their mean (the wild accuracy),
    and under the "unsure" rule (top probability under `unsure_below` reads "unsure") the share shown and
    right, per condition and over all. `predict` maps uint8 faces (N, 48, 48) to calibrated probabilities."""
    def scores(images: np.ndarray) -> dict:
        return _scores(np.asarray(predict(images)), labels, unsure_below)

    clean = scores(faces)
    cells: dict[str, dict[str, dict]] = {}
    for name, severity, images in wild_views(faces, seed, progress):
        cells.setdefault(name, {})[str(severity)] = scores(images)
    every = [cell for by_severity in cells.values() for cell in by_severity.values()]
    return {
        "faces": len(faces), "seed": seed, "unsure_below": unsure_below, "clean": clean["accuracy"],
        "conditions": {name: {s: cell["accuracy"] for s, cell in by_severity.items()}
                       for name, by_severity in cells.items()},
        "wild_accuracy": _pooled(every)["accuracy"],
        "unsure": {
            "clean": _pooled([clean]), "all": _pooled(every),
            "conditions": {name: _pooled(list(by_severity.values())) for name, by_severity in cells.items()},
            "cells": cells,
        },
    }


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_wild(report: dict) -> str:
    """The yardstick as a table: accuracy per condition and severity, and the "unsure" rule's figures."""
    unsure = report["unsure"]
    lines = [
        f"Faces as video shows them, from {report['split']} ({report['faces']} faces, {report['labels']} labels): "
        f"clean {report['clean']:.1%}, wild accuracy {report['wild_accuracy']:.1%}",
        f"under \"unsure\" (top probability below {report['unsure_below']:.2f}): clean shown "
        f"{unsure['clean']['shown']:.1%}, right {_share(unsure['clean']['right_when_shown'])}; wild shown "
        f"{unsure['all']['shown']:.1%}, right {_share(unsure['all']['right_when_shown'])}",
        f"{'condition':<12} {'1':>7} {'2':>7} {'3':>7} {'mean':>7} {'shown':>7} {'right':>7}",
    ]
    for name, by_severity in report["conditions"].items():
        pooled = unsure["conditions"][name]
        cells = " ".join(f"{by_severity[s]:>7.1%}" for s in ("1", "2", "3"))
        lines.append(f"{name:<12} {cells} {pooled['accuracy']:>7.1%} {pooled['shown']:>7.1%} "
                     f"{_share(pooled['right_when_shown']):>7}")
    return "\n".join(lines)


def yardstick_labels(data, class_names: tuple[str, ...], votes=None) -> tuple[np.ndarray, np.ndarray, str]:
    """The truth the yardstick scores `data` (FerData) against, as indices into `class_names`; which faces
    keep one (bool); and whose labels they are: FER2013's, or with FER+ `votes` (emocap.votes.Votes) each
    face's vote majority, kept where it is one of the model's emotions (as a FER+ model is calibrated)."""
    if votes is None:
        from emocap.evaluation.fer_scores import labels_in_model_order

        return labels_in_model_order(data, class_names), np.ones(len(data), bool), "FER2013"
    from emocap.votes import majority_labels

    majority, kept = majority_labels(votes.for_files(data.files), class_names)
    return majority, kept, "FER+ majority"
