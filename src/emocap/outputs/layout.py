"""Where the overlay's labels go: like a map's, they never cover one another or leave the frame.

Each face asks for a caption and, optionally, a probability panel. Captions
are placed first, one face at a time in reading order, then panels: each
label takes the first of its candidate places (beside its face, then further
off, then smaller) that lies in the frame and clear of the faces and of
everything placed before it. A caption with no room shortens ("4: happy"); a
panel with no room folds into its caption (the top class's share is added to
the words); a caption with no room even when short is left out rather than
drawn over another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

CAPTION_SCALES = (1.0, 0.8, 0.65)
PANEL_SCALES = (1.0, 0.75, 0.5)
GAP = 4
"""Pixels between a face's box and its panel."""


@dataclass(frozen=True)
class Rect:
    x1: int
    y1: int
    x2: int
    y2: int

    def intersects(self, other: "Rect") -> bool:
        return self.x1 < other.x2 and other.x1 < self.x2 and self.y1 < other.y2 and other.y1 < self.y2

    def inside(self, width: int, height: int) -> bool:
        return self.x1 >= 0 and self.y1 >= 0 and self.x2 <= width and self.y2 <= height


@dataclass(frozen=True)
class FaceLabels:
    """What is drawn for one face: its caption (text, rect, scale) and its panel (rect, scale) or None."""

    caption: str
    caption_rect: Rect | None
    caption_scale: float
    panel_rect: Rect | None
    panel_scale: float


def _first_clear(
    size: tuple[int, int], corners: Iterable[tuple[float, float]], placed: Sequence[Rect], frame: tuple[int, int]
) -> Rect | None:
    """The first candidate top-left corner (moved into the frame) whose rect of `size` is clear."""
    width, height = size
    if width > frame[0] or height > frame[1]:
        return None
    for x, y in corners:
        x = int(round(min(max(x, 0), frame[0] - width)))
        y = int(round(min(max(y, 0), frame[1] - height)))
        rect = Rect(x, y, x + width, y + height)
        if not any(rect.intersects(other) for other in placed):
            return rect
    return None


def _caption_corners(box: Sequence[float], width: int, height: int) -> list[tuple[float, float]]:
    """Above the box first (left-aligned, then slid along it), then stacked higher, then below."""
    x1, y1, x2, y2 = box
    slides = [x1, x2 - width, (x1 + x2 - width) / 2, x1 - width / 2, x2 - width / 2, x1 - width, x2]
    corners = [(x, y1 - height) for x in slides]
    corners += [(x, y1 - height * level) for level in (2, 3) for x in slides[:3]]
    corners += [(x, y2) for x in slides[:3]] + [(x, y2 + height * level) for level in (1, 2) for x in slides[:3]]
    return corners


def _panel_corners(box: Sequence[float], width: int, height: int) -> list[tuple[float, float]]:
    """Below the box, then beside it on either side, then above."""
    x1, y1, x2, y2 = box
    return [
        (x1, y2 + GAP), (x2 - width, y2 + GAP), ((x1 + x2 - width) / 2, y2 + GAP),
        (x2 + GAP, y1), (x1 - width - GAP, y1), (x2 + GAP, y2 - height), (x1 - width - GAP, y2 - height),
        (x1, y1 - height - GAP),
    ]


def layout_labels(
    boxes: Sequence[Sequence[float]],
    captions: Sequence[str],
    folded_captions: Sequence[Sequence[str]],
    short_captions: Sequence[str],
    frame_size: tuple[int, int],
    *,
    caption_size: Callable[[str, float], tuple[int, int]],
    panel_size: Callable[[float], tuple[int, int]] | None,
    reserved: Sequence[Rect] = (),
) -> list[FaceLabels]:
    """Place every face's caption, then every panel (when `panel_size` is given), clear of each
    other, of the faces themselves and of `reserved` rects (the frame rate, say).

    caption_size(text, scale) and panel_size(scale) give (width, height) in pixels. Captions come
    first: a face's words matter more than its bars. A caption that finds no room tries its
    `short_captions` form; a panel that finds none folds into its caption (`folded_captions`).
    """
    placed: list[Rect] = [*reserved, *(Rect(*(int(round(v)) for v in box)) for box in boxes)]
    chosen = []
    for box, caption, short in zip(boxes, captions, short_captions):
        rect, scale = _place_caption(caption, box, placed, frame_size, caption_size)
        if rect is None:
            caption = short
            rect, scale = _place_caption(short, box, placed, frame_size, caption_size)
        chosen.append([caption, rect, scale])
    labels = []
    for box, folded, (caption, caption_rect, caption_scale) in zip(boxes, folded_captions, chosen):
        panel_rect, panel_scale = None, 0.0
        if panel_size is not None:
            for scale in PANEL_SCALES:
                width, height = panel_size(scale)
                panel_rect = _first_clear((width, height), _panel_corners(box, width, height), placed, frame_size)
                if panel_rect is not None:
                    placed.append(panel_rect)
                    panel_scale = scale
                    break
            if panel_rect is None and caption_rect is not None:  # no room for the bars: their gist goes into the words
                placed.remove(caption_rect)
                for text in folded:  # the full words with the share, then the short ones
                    refolded = _place_caption(text, box, placed, frame_size, caption_size)
                    if refolded[0] is not None:
                        caption, (caption_rect, caption_scale) = text, refolded
                        break
                else:
                    placed.append(caption_rect)
        labels.append(FaceLabels(caption, caption_rect, caption_scale, panel_rect, panel_scale))
    return labels


def _place_caption(
    text: str, box, placed: list[Rect], frame_size, caption_size
) -> tuple[Rect | None, float]:
    for scale in CAPTION_SCALES:
        width, height = caption_size(text, scale)
        rect = _first_clear((width, height), _caption_corners(box, width, height), placed, frame_size)
        if rect is not None:
            placed.append(rect)
            return rect, scale
    return None, 0.0
