"""Issue 44's wild conditions as training augmentation: faces turned, tilted, lit from one side, in warm dim
light, partly covered, small and soft, and cropped off-centre, as the yardstick shows them.

The yardstick (`emocap.evaluation.wild`) renders each condition at three fixed severities; training calls
the same rendering functions (`RENDER`) with each parameter drawn per face, uniformly, from the condition's
`training_ranges` in `emocap.corruption_families`, which are strictly wider than the severities on both
sides. The rendering is NumPy and OpenCV on uint8 faces, so a batch leaves the training device for it (on
the CPU that is no copy) and its random numbers come from one NumPy generator a batch, seeded by a draw
from the training generator: a run is repeatable from its seed, and a resumed run from last.pt.
"""

from __future__ import annotations

import numpy as np
import torch

from emocap.corruption_families import WILD_CONDITIONS, WildCondition
from emocap.evaluation.wild import RENDER

TRAINING_CONDITIONS: tuple[WildCondition, ...] = tuple(c for c in WILD_CONDITIONS if c.drawn_in_training)
"""The conditions training draws, in the table's order (an order that fixes the random stream)."""


def draw_parameters(condition: WildCondition, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One value a face (count,) of each of the condition's parameters, uniform over its training range."""
    return {name: rng.uniform(low, high, count) for name, (low, high) in condition.training_ranges.items()}


class WildFaces:
    """uint8 faces (B, H, W) on any device -> the same faces, each under one wild condition (drawn at
    random, all equally often) with probability `probability`, the others untouched."""

    def __init__(self, probability: float) -> None:
        if not 0 <= probability <= 1:
            raise ValueError(f"the share of faces under a wild condition must be from 0 to 1, got {probability!r}")
        self.probability = probability

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(2**62, (1,), device=images.device, generator=generator))
        faces = images.cpu().numpy()
        return torch.from_numpy(self.apply(faces, np.random.default_rng(seed))).to(images.device)

    def apply(self, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The NumPy side: uint8 faces (B, H, W) and the batch's generator -> a new array of them."""
        count = len(faces)
        chosen = rng.random(count) < self.probability
        drawn = rng.integers(len(TRAINING_CONDITIONS), size=count)
        out = faces.copy()
        for index, condition in enumerate(TRAINING_CONDITIONS):
            members = np.flatnonzero(chosen & (drawn == index))
            if members.size:
                parameters = draw_parameters(condition, members.size, rng)
                out[members] = RENDER[condition.name](np.ascontiguousarray(faces[members]), parameters, rng)
        return out
