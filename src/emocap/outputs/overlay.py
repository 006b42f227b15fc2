"""Boxes, captions and probability bars drawn on a frame.

The same drawing serves the live window and the annotated video (the web page
draws its own, in JavaScript, over the video element): `CaptionOverlay().annotate(frame_bgr, result)` returns a new
frame and leaves the input as it was.

Each face gets a box in the colour of its valence (Okabe-Ito: blue for
positive, vermillion for negative, grey for neutral; white while no label is
shown yet; for "unsure", which names no emotion, white dashed with black and
an outlined caption: `emocap.labels`' unsure look), a large caption above it
("Face 2: looks sad / fear - negative", in the overlay's wording) and,
optionally, one small bar per class under it. Sizes follow the frame height,
so captions stay readable from 360p to 4K.
"""

from __future__ import annotations

import time
from typing import Callable

import cv2
import numpy as np

from emocap.labels import (
    DEFAULT_WORDING, UNSURE_GROUND_HEX, UNSURE_INK_HEX, VALENCE_COLOURS_BGR, VALENCE_OF, check_wording, hex_to_bgr,
)
from emocap.outputs.captions import class_name, emotion_words, frame_captions
from emocap.outputs.layout import FaceLabels, Rect, layout_labels
from emocap.types import NO_LABEL, UNSURE, FrameResult

FONT = cv2.FONT_HERSHEY_DUPLEX
NO_LABEL_COLOUR_BGR = (255, 255, 255)
UNSURE_INK_BGR = hex_to_bgr(UNSURE_INK_HEX)
UNSURE_GROUND_BGR = hex_to_bgr(UNSURE_GROUND_HEX)
PANEL_COLOUR_BGR = (32, 32, 32)
REFERENCE_HEIGHT = 720
"""Frame height at which `text_scale=1` draws a caption about 30 pixels tall."""


def text_colours(backgrounds_bgr: np.ndarray) -> np.ndarray:
    """Black or white text, whichever reads better on each background colour (n, 3) BGR."""
    luma = np.asarray(backgrounds_bgr, np.float32) @ np.array([0.114, 0.587, 0.299], np.float32)
    return np.where((luma > 140)[:, None], 0, 255).repeat(3, axis=1).astype(np.int64)


def valence_colours(labels: tuple[str, ...], class_indices: np.ndarray) -> np.ndarray:
    """BGR colour (n, 3) of each class index's valence; NO_LABEL and unknown classes are white; UNSURE gets
    the unsure look's ground (the overlay outlines and dashes it with `UNSURE_INK_BGR`)."""
    table = np.array(
        [VALENCE_COLOURS_BGR.get(VALENCE_OF.get(name, ""), NO_LABEL_COLOUR_BGR) for name in labels]
        + [NO_LABEL_COLOUR_BGR, UNSURE_GROUND_BGR],
        np.int64,
    ).reshape(-1, 3)
    indices = np.asarray(class_indices, np.int64)
    return table[np.where(indices == UNSURE, len(labels) + 1, np.where(indices < 0, len(labels), indices))]


class FpsMeter:
    """Frames per second over the last calls, smoothed so the number can be read."""

    def __init__(self, smoothing: float = 0.9, clock: Callable[[], float] = time.perf_counter) -> None:
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
        self.smoothing = smoothing
        self._clock = clock
        self._last: float | None = None
        self._fps: float | None = None

    def tick(self) -> float | None:
        """Call once per frame; returns the rate so far (None on the first call)."""
        now = self._clock()
        if self._last is not None and now > self._last:
            rate = 1.0 / (now - self._last)
            self._fps = rate if self._fps is None else self.smoothing * self._fps + (1 - self.smoothing) * rate
        self._last = now
        return self._fps


class CaptionOverlay:
    """Draws each face's box, caption and (optionally) probability bars.

    text_scale  caption size relative to the default (which follows the frame height)
    show_bars   draw one small bar per class under each face
    wording     how captions word what a face shows ("looks happy" or "happy"; `emocap.labels.WORDINGS`)
    """

    def __init__(self, *, text_scale: float = 1.0, show_bars: bool = True, wording: str = DEFAULT_WORDING) -> None:
        if not (isinstance(text_scale, (int, float)) and 0.1 <= text_scale <= 10):
            raise ValueError(f"text_scale must be a number in 0.1..10, got {text_scale!r}")
        self.text_scale = float(text_scale)
        self.show_bars = bool(show_bars)
        self.wording = check_wording(wording)

    def annotate(self, frame_bgr: np.ndarray, result: FrameResult, *, fps: float | None = None) -> np.ndarray:
        """A copy of `frame_bgr` (H, W, 3) uint8 with the faces of `result` drawn on it, and `fps` if given.
        Captions and panels are laid out so that none covers another or leaves the frame (`layout_labels`)."""
        frame = np.asarray(frame_bgr)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected a BGR frame (H, W, 3) uint8, got {frame.dtype} {frame.shape}")
        out = frame.copy()
        scale = self.text_scale * max(frame.shape[0], 240) / REFERENCE_HEIGHT
        reserved = []
        if fps is not None:
            reserved.append(self._draw_label(out, f"{fps:.1f} fps", (8, 8), np.array(PANEL_COLOUR_BGR), 0.75 * scale))
        faces = result.faces
        if len(faces):
            self.draw_faces(out, result, scale, reserved)
        return out

    def draw_faces(self, out: np.ndarray, result: FrameResult, scale: float, reserved: list[Rect]) -> list[FaceLabels]:
        """Boxes, then captions and panels where `layout_labels` puts them; returns that layout."""
        faces, labels = result.faces, tuple(result.labels)
        colours = valence_colours(labels, faces.display)
        unsure = (faces.display == UNSURE).tolist()
        boxes = np.round(faces.boxes).astype(np.int64)
        # OpenCV's fonts have no dash
        numbers, _, captions = frame_captions(result, separator=" - ", wording=self.wording)
        with_bars = self.show_bars and faces.probs.shape[1] == len(labels) > 0
        short = [
            f"{n}: {emotion_words(class_name(labels, d), wording=self.wording)}" if d != NO_LABEL else str(n)
            for n, d in zip(numbers, faces.display.tolist())
        ]
        folded: list[tuple[str, ...]] = [() for _ in captions]  # only a panel folds, and only panels with bars
        if with_bars:
            shares = [f"{labels[c]} {faces.probs[i, c]:.0%}" for i, c in enumerate(faces.probs.argmax(axis=1).tolist())]
            folded = [
                (f"{caption} ({share})", f"{number}: {share}")
                for caption, number, share in zip(captions, numbers, shares)
            ]
        font_scale, row = 0.9 * scale, max(10, round(14 * scale))
        layout = layout_labels(
            boxes.tolist(), captions, folded, short, (out.shape[1], out.shape[0]),
            caption_size=lambda text, size: self._label_size(text, font_scale * size),
            panel_size=(lambda size: _panel_size(len(labels), _row(row, size))) if with_bars else None,
            reserved=reserved,
        )
        self._draw_boxes(out, boxes, colours, unsure, scale)
        inset = max(2, round(3 * scale))
        for number, (x1, y1, _, _), colour in zip(numbers, boxes.tolist(), colours):
            # The number inside its own box: where captions are laid far off, it says whose they are.
            self._draw_label(out, str(number), (x1 + inset, y1 + inset), colour, 0.6 * scale)
        for face, placed in enumerate(layout):
            if placed.panel_rect is not None:
                _draw_panel(out, placed.panel_rect, faces.probs[face], labels, _row(row, placed.panel_scale))
            if placed.caption_rect is not None:
                self._draw_label(
                    out, placed.caption, (placed.caption_rect.x1, placed.caption_rect.y1), colours[face],
                    font_scale * placed.caption_scale, outlined=unsure[face],
                )
        return layout

    @staticmethod
    def _draw_boxes(out: np.ndarray, boxes: np.ndarray, colours: np.ndarray, unsure: list[bool], scale: float) -> None:
        thickness = max(2, round(3 * scale))
        for (x1, y1, x2, y2), colour, dashed in zip(boxes.tolist(), colours.tolist(), unsure):
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
            if dashed:
                _draw_dashes(out, (x1, y1, x2, y2), UNSURE_INK_BGR, thickness, dash=max(4, 3 * thickness))

    @staticmethod
    def _label_size(text: str, font_scale: float) -> tuple[int, int]:
        """(width, height) of a caption's filled rectangle, text and padding."""
        thickness = max(1, round(2 * font_scale))
        pad = max(2, round(6 * font_scale))
        (width, height), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
        return width + 2 * pad, height + baseline + 2 * pad

    def _draw_label(
        self, out: np.ndarray, text: str, top_left: tuple[int, int], colour: np.ndarray, font_scale: float,
        *, outlined: bool = False,
    ) -> Rect:
        """Text on a filled rectangle of `colour`, the text in black or white for contrast; kept in the frame.
        `outlined` (an "unsure" face's) rings the rectangle in `UNSURE_INK_BGR`."""
        thickness = max(1, round(2 * font_scale))
        pad = max(2, round(6 * font_scale))
        width, height = self._label_size(text, font_scale)
        x = int(max(0, min(top_left[0], out.shape[1] - width)))
        y = int(max(0, min(top_left[1], out.shape[0] - height)))
        cv2.rectangle(out, (x, y), (x + width - 1, y + height - 1), colour.tolist(), cv2.FILLED)
        if outlined:
            ring = max(2, pad // 2)
            cv2.rectangle(out, (x + ring // 2, y + ring // 2), (x + width - 1 - ring // 2, y + height - 1 - ring // 2),
                          UNSURE_INK_BGR, ring)
        ink = text_colours(colour[None])[0].tolist()
        (_, text_height), _ = cv2.getTextSize(text, FONT, font_scale, thickness)
        cv2.putText(out, text, (x + pad, y + pad + text_height), FONT, font_scale, ink, thickness, cv2.LINE_AA)
        return Rect(x, y, x + width, y + height)


def _draw_dashes(out: np.ndarray, box: tuple[int, int, int, int], colour, thickness: int, dash: int) -> None:
    """Dashes of `colour` along the four sides of `box`, about `dash` pixels on and off: over a box drawn in
    the ground colour, a line of two colours that no palette colour is."""
    x1, y1, x2, y2 = box
    drawn = max(1, dash - thickness)  # a thick line's round caps lengthen each dash by its thickness
    for (ax, ay), (bx, by) in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, length, 2 * dash):
            end = min(start + drawn, length)
            p = (ax + (bx - ax) * start // max(length, 1), ay + (by - ay) * start // max(length, 1))
            q = (ax + (bx - ax) * end // max(length, 1), ay + (by - ay) * end // max(length, 1))
            cv2.line(out, p, q, colour, thickness, cv2.LINE_AA)


def _row(row: int, scale: float) -> int:
    return max(6, round(row * scale))


def _panel_size(classes: int, row: int) -> tuple[int, int]:
    """(width, height) of a probability panel: a name column and a bar column, one row per class."""
    return round(4.2 * row) + max(round(6 * row), 1) + 6, classes * row + 4


def _draw_panel(out: np.ndarray, rect: Rect, probs: np.ndarray, labels: tuple[str, ...], row: int) -> None:
    """A dark panel with one bar per class, its length the probability, in the class's valence colour."""
    name_width, bar_width = round(4.2 * row), max(round(6 * row), 1)
    cv2.rectangle(out, (rect.x1, rect.y1), (rect.x2 - 1, rect.y2 - 1), PANEL_COLOUR_BGR, cv2.FILLED)
    class_colours = valence_colours(labels, np.arange(len(labels))).tolist()
    lengths = np.round(np.clip(probs, 0, 1) * bar_width).astype(np.int64).tolist()
    font_scale = row / 28
    for c, (name, length) in enumerate(zip(labels, lengths)):
        y1 = rect.y1 + 2 + c * row
        y2 = y1 + row - 2
        cv2.putText(out, name[:3], (rect.x1 + 3, y2 - 1), FONT, font_scale, (235, 235, 235), 1, cv2.LINE_AA)
        if length > 0:
            x1 = rect.x1 + name_width
            cv2.rectangle(out, (x1, y1), (x1 + length, y2), class_colours[c], cv2.FILLED)
