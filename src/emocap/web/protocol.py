"""What travels over the caption WebSocket: image frames in, JSON captions out.

The page sends each frame as one binary message holding a JPEG (PNG and
WebP are accepted too, as `canvas.toBlob` can make them); the server answers
each frame with one JSON text message built by `result_message`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emocap.errors import DataError
from emocap.images import DEFAULT_MAX_IMAGE_SIDE, ImageError, decode_image
from emocap.labels import DEFAULT_WORDING
from emocap.outputs.records import frame_record
from emocap.types import FrameResult

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})



class UnsupportedFrame(DataError):
    """A message that is not an image frame the server can read."""


@dataclass(frozen=True)
class FrameDecoder:
    """Encoded image bytes -> BGR uint8 frame, refusing anything else.

    The header is read first so that a small message claiming a huge image
    (a decompression bomb) is refused before any pixel memory is taken
    (`emocap.images.decode_image`, the one limit every command applies).
    """

    max_side: int = DEFAULT_MAX_IMAGE_SIDE

    def __post_init__(self) -> None:
        if not 16 <= self.max_side <= 65535:
            raise ValueError(f"FrameDecoder.max_side must be in 16..65535, got {self.max_side!r}")

    def __call__(self, data: bytes) -> np.ndarray:
        try:
            return decode_image(data, max_side=self.max_side, formats=ACCEPTED_FORMATS)
        except ImageError as error:
            raise UnsupportedFrame(str(error)) from None


def result_message(result: FrameResult, timings_ms: dict[str, float], *, wording: str = DEFAULT_WORDING) -> dict:
    """The JSON answer to one frame: the record JSON Lines transcripts hold (`frame_record`: the same
    face numbers, captions and colours as the subtitles and the overlay), plus what the page needs
    to draw it: the frame's size, the class names and the timings. Captions are in the `wording`.

    Faces come in reading order (as the pipeline gives them); label, runner_up, valence and colour
    are null while a face's memory has not settled.
    """
    return {
        "type": "result",
        **frame_record(result, wording=wording),
        "size": {"width": int(result.frame_size[0]), "height": int(result.frame_size[1])},
        "labels": list(result.labels),
        "timings_ms": {name: round(float(ms), 2) for name, ms in {**result.timings_ms, **timings_ms}.items()},
    }
