"""The one check every detector makes on its input frame."""

from __future__ import annotations

import numpy as np


def check_bgr_frame(frame_bgr) -> np.ndarray:
    """The frame as a C-contiguous uint8 (H, W, 3) array, or a ValueError saying what is wrong."""
    if not isinstance(frame_bgr, np.ndarray):
        raise ValueError(f"frame must be a numpy array (H, W, 3) of uint8 BGR, got {type(frame_bgr).__name__}")
    if frame_bgr.dtype != np.uint8:
        raise ValueError(f"frame must have dtype uint8 (BGR 0..255), got dtype {frame_bgr.dtype}")
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or min(frame_bgr.shape[:2]) < 1:
        raise ValueError(f"frame must have shape (H, W, 3) with H, W >= 1 (BGR), got shape {frame_bgr.shape}")
    return np.ascontiguousarray(frame_bgr)
