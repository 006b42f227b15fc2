"""Boxes, captions and probability bars drawn on a frame.

The same drawing serves the live window, the annotated video and the web
page snapshot: `CaptionOverlay().annotate(frame_bgr, result)` returns a new
frame and leaves the input as it was.

Each face gets a box in the colour of its valence (Okabe-Ito: blue for
positive, vermillion for negative, grey for neutral; white while no label is
shown yet), a large caption above it ("Face 2: sad / fear - negative") and,
optionally, one small bar per class under it. Sizes follow the frame height,
so captions stay readable from 360p to 4K.
"""

from __future__ import annotations

import time
from typing import Callable

import cv2
import numpy as np

from emocap.labels import VALENCE_COLOURS_BGR, VALENCE_OF
from emocap.outputs.captions import frame_captions
from emocap.types import NO_LABEL, FrameResult

FONT = cv2.FONT_HERSHEY_DUPLEX
NO_LABEL_COLOUR_BGR = (255, 255, 255)
PANEL_COLOUR_BGR = (32, 32, 32)
REFERENCE_HEIGHT = 720
"""Frame height at which `text_scale=1` draws a caption about 30 pixels tall."""


def text_colours(backgrounds_bgr: np.ndarray) -> np.ndarray:
    """Black or white text, whichever reads better on each background colour (n, 3) BGR."""
    luma = np.asarray(backgrounds_bgr, np.float32) @ np.array([0.114, 0.587, 0.299], np.float32)
    return np.where((luma > 140)[:, None], 0, 255).repeat(3, axis=1).astype(np.int64)


def valence_colours(labels: tuple[str, ...], class_indices: np.ndarray) -> np.ndarray:
    """BGR colour (n, 3) of each class index's valence; NO_LABEL and unknown classes are white."""
    table = np.array(
        [VALENCE_COLOURS_BGR.get(VALENCE_OF.get(name, ""), NO_LABEL_COLOUR_BGR) for name in labels]
        + [NO_LABEL_COLOUR_BGR],
        np.int64,
    ).reshape(-1, 3)
    indices = np.asarray(class_indices, np.int64)
    return table[np.where(indices == NO_LABEL, len(labels), indices)]


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
    """

    def __init__(self, *, text_scale: float = 1.0, show_bars: bool = True) -> None:
        if not (isinstance(text_scale, (int, float)) and 0.1 <= text_scale <= 10):
            raise ValueError(f"text_scale must be a number in 0.1..10, got {text_scale!r}")
        self.text_scale = float(text_scale)
        self.show_bars = bool(show_bars)

    def annotate(self, frame_bgr: np.ndarray, result: FrameResult, *, fps: float | None = None) -> np.ndarray:
        """A copy of `frame_bgr` (H, W, 3) uint8 with the faces of `result` drawn on it, and `fps` if given."""
        frame = np.asarray(frame_bgr)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected a BGR frame (H, W, 3) uint8, got {frame.dtype} {frame.shape}")
        out = frame.copy()
        scale = self.text_scale * max(frame.shape[0], 240) / REFERENCE_HEIGHT
        faces = result.faces
        if len(faces):
            labels = tuple(result.labels)
            colours = valence_colours(labels, faces.display)
            boxes = np.round(faces.boxes).astype(np.int64)
            _, _, captions = frame_captions(result, separator=" - ")  # OpenCV's fonts have no dash
            self._draw_boxes(out, boxes, colours, scale)
            if self.show_bars and faces.probs.shape[1] == len(labels) > 0:
                self._draw_bars(out, boxes, faces.probs, labels, scale)
            self._draw_captions(out, boxes, captions, colours, scale)
        if fps is not None:
            self._draw_label(out, f"{fps:.1f} fps", (8, 8), np.array(PANEL_COLOUR_BGR), 0.75 * scale)
        return out

    @staticmethod
    def _draw_boxes(out: np.ndarray, boxes: np.ndarray, colours: np.ndarray, scale: float) -> None:
        thickness = max(2, round(3 * scale))
        for (x1, y1, x2, y2), colour in zip(boxes.tolist(), colours.tolist()):
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)

    def _draw_captions(
        self, out: np.ndarray, boxes: np.ndarray, captions: list[str], colours: np.ndarray, scale: float
    ) -> None:
        font_scale = 0.9 * scale
        # Above the box when it fits, otherwise just inside its top edge.
        height = self._label_height(font_scale)
        tops = np.where(boxes[:, 1] - height >= 0, boxes[:, 1] - height, np.maximum(boxes[:, 1], 0))
        for caption, x1, top, colour in zip(captions, np.maximum(boxes[:, 0], 0).tolist(), tops.tolist(), colours):
            self._draw_label(out, caption, (x1, top), colour, font_scale)

    @staticmethod
    def _label_height(font_scale: float) -> int:
        thickness = max(1, round(2 * font_scale))
        (_, text_height), baseline = cv2.getTextSize("Fg", FONT, font_scale, thickness)
        return text_height + baseline + 2 * max(2, round(6 * font_scale))

    @staticmethod
    def _draw_label(out: np.ndarray, text: str, top_left: tuple[int, int], colour: np.ndarray, font_scale: float) -> None:
        """Text on a filled rectangle of `colour`, the text in black or white for contrast."""
        thickness = max(1, round(2 * font_scale))
        pad = max(2, round(6 * font_scale))
        (width, height), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
        x, y = top_left
        # Keep the whole label in the frame when the face is at the right edge.
        x = int(max(0, min(x, out.shape[1] - width - 2 * pad)))
        cv2.rectangle(out, (x, y), (x + width + 2 * pad, y + height + baseline + 2 * pad), colour.tolist(), cv2.FILLED)
        ink = text_colours(colour[None])[0].tolist()
        cv2.putText(out, text, (x + pad, y + pad + height), FONT, font_scale, ink, thickness, cv2.LINE_AA)

    @staticmethod
    def _draw_bars(out: np.ndarray, boxes: np.ndarray, probs: np.ndarray, labels: tuple[str, ...], scale: float) -> None:
        """A dark panel under each box with one bar per class, its length the probability."""
        k = len(labels)
        row = max(10, round(14 * scale))
        name_width = round(4.2 * row)
        bar_width = max(round(6 * row), 1)
        panel_w, panel_h = name_width + bar_width + 6, k * row + 4
        frame_h, frame_w = out.shape[:2]
        lefts = np.clip(boxes[:, 0], 0, max(frame_w - panel_w, 0))
        tops = np.clip(boxes[:, 3] + 4, 0, max(frame_h - panel_h, 0))
        # All bar rectangles of all faces at once: (n, k) corners.
        bar_x1 = (lefts + name_width)[:, None].repeat(k, axis=1)
        bar_x2 = bar_x1 + np.round(np.clip(probs, 0, 1) * bar_width).astype(np.int64)
        bar_y1 = tops[:, None] + 2 + np.arange(k)[None, :] * row
        bar_y2 = bar_y1 + row - 2
        class_colours = valence_colours(labels, np.arange(k)).tolist()
        font_scale = row / 28
        short_names = [name[:3] for name in labels]
        for face in range(len(boxes)):
            left, top = int(lefts[face]), int(tops[face])
            cv2.rectangle(out, (left, top), (left + panel_w, top + panel_h), PANEL_COLOUR_BGR, cv2.FILLED)
            for c in range(k):
                y1, y2 = int(bar_y1[face, c]), int(bar_y2[face, c])
                cv2.putText(out, short_names[c], (left + 3, y2 - 1), FONT, font_scale, (235, 235, 235), 1, cv2.LINE_AA)
                if bar_x2[face, c] > bar_x1[face, c]:
                    cv2.rectangle(out, (int(bar_x1[face, c]), y1), (int(bar_x2[face, c]), y2), class_colours[c], cv2.FILLED)
