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
from emocap.labels import VALENCE_COLOURS_BGR, VALENCE_OF
from emocap.types import FrameResult

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})

VALENCE_HEX = {valence: "#{2:02X}{1:02X}{0:02X}".format(*bgr) for valence, bgr in VALENCE_COLOURS_BGR.items()}
"""The product's valence colours as CSS hex, so the page draws exactly what the overlays draw."""


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


def result_message(result: FrameResult, timings_ms: dict[str, float]) -> dict:
    """The JSON answer to one frame: faces in reading order (as the pipeline gives them).

    Each face has its box (x1, y1, x2, y2 in the pixels of the frame that was
    sent), track id, shown label, runner-up, the label's valence word and the
    class probabilities of this frame (in the order of `labels`); label,
    runner_up, valence and colour are null while the face's memory has not settled.
    """
    faces = result.faces
    # Index -1 (NO_LABEL) picks the trailing None, so no mask is needed.
    names = np.array([*result.labels, None], dtype=object)
    valence_names = [VALENCE_OF.get(name) for name in result.labels]
    valences = np.array([*valence_names, None], dtype=object)
    colours = np.array([*(VALENCE_HEX.get(valence) for valence in valence_names), None], dtype=object)
    columns = {
        "id": faces.track_ids.tolist(),
        "box": np.round(faces.boxes.astype(np.float64), 1).tolist(),
        "score": np.round(faces.scores.astype(np.float64), 3).tolist(),
        "label": names[faces.display].tolist(),
        "runner_up": names[faces.runner_up].tolist(),
        "valence": valences[faces.display].tolist(),
        "colour": colours[faces.display].tolist(),
        "probs": np.round(faces.probs.astype(np.float64), 3).tolist(),
    }
    return {
        "type": "result",
        "index": result.index,
        "time_s": round(float(result.time_s), 3),
        "frame": {"width": int(result.frame_size[0]), "height": int(result.frame_size[1])},
        "labels": list(result.labels),
        "faces": [dict(zip(columns, row)) for row in zip(*columns.values())],
        "timings_ms": {name: round(float(ms), 2) for name, ms in {**result.timings_ms, **timings_ms}.items()},
    }
