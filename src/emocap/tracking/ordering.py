"""The order in which faces are read out."""

from __future__ import annotations

import numpy as np

from emocap.types import Faces


def order_for_reading(faces: Faces, right_to_left: bool = True) -> Faces:
    """Faces sorted by box centre x: right to left by default, as the paper reads them.

    Faces with the same centre keep their incoming order.
    """
    centre_x = faces.centers[:, 0]
    return faces[np.argsort(-centre_x if right_to_left else centre_x, kind="stable")]
