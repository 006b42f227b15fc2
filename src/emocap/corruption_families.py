"""The webcam corruption families: one table that FER2013-C and training's augmentation both read.

FER2013-C (`emocap.evaluation.corruptions`) scores a model on each family at three fixed
severities; training (`emocap.training.augment.WebcamCorruptions`) draws a strength for each face
uniformly from a range. Both take their numbers from here, so a family cannot mean one thing when
a model is trained and another when it is scored. Plain values only: the training config and the
`emocap --help` path import this, and must not load torch or cv2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CorruptionFamily:
    """One corruption a webcam or a recorded video brings, and the strengths each side uses.

    `severities` are FER2013-C's strengths at severities 1, 2 and 3, in the unit `description` names
    (whole numbers where the unit is one: pixels, JPEG quality). `training_range` is the (low, high)
    that training draws a strength from, in training's unit: that unit times `training_to_severity`
    is the severities' unit. `None` when `WebcamCorruptions` does not draw the family itself.
    """

    name: str
    description: str
    severities: tuple[float, float, float]
    training_range: tuple[float, float] | None
    training_to_severity: float = 1.0

    @property
    def drawn_in_training(self) -> bool:
        return self.training_range is not None


# The numbers are those the shipped models were trained with and the published FER2013-C figures
# were made with: change one and both must be remade. Where the two sides differ beyond the range,
# the comment by the family says how.
WEBCAM_CORRUPTIONS: tuple[CorruptionFamily, ...] = (
    CorruptionFamily("dark", "a dim room: exposure times the strength", (0.5, 0.3, 0.15), (0.12, 0.7)),
    CorruptionFamily("gamma", "crushed shadows: gamma of the strength", (1.8, 2.5, 3.5), (1.4, 3.6)),
    CorruptionFamily("low_contrast", "contrast times the strength, around each face's mean",
                     (0.5, 0.3, 0.15), (0.12, 0.6)),
    CorruptionFamily("uneven_light", "side or stage light: a gradient across the face, down to x the strength",
                     (0.6, 0.4, 0.2), (0.2, 0.7)),
    # Training's kernel is 15 px wide: past sigma 2.3 it is cut short of the 3 sigma that cv2's keeps.
    CorruptionFamily("gaussian_blur", "out of focus: Gaussian blur, sigma in px at 48 px",
                     (0.8, 1.5, 2.5), (0.6, 2.6)),
    # Training draws the length as a real number (a 13 px kernel at most); FER2013-C's are whole.
    CorruptionFamily("motion_blur", "a streak of the strength in px at a random angle", (5, 9, 13), (4, 13)),
    # Training draws one side for all the faces that get this family in a batch, not one a face.
    CorruptionFamily("downscale", "a small face in a group shot: down to the strength in px and back",
                     (32, 24, 16), (14, 33)),
    CorruptionFamily("jpeg", "compression: JPEG at the strength's quality", (30, 15, 7), (5, 40)),
    # Training works on [0, 1] faces, so its sigma is a share of full scale: 0.02-0.12 is 5.1-30.6 levels.
    CorruptionFamily("noise", "sensor noise: Gaussian, sigma in grey levels of 255", (8, 16, 28), (0.02, 0.12),
                     training_to_severity=255),
    # Training turns faces in `BatchAugment`'s affine warp (TrainConfig.rotate_degrees), not here.
    CorruptionFamily("rotation", "in-plane rotation by the strength in degrees, either way", (10, 20, 30), None),
    # Training moves and scales the crop in `BatchAugment`'s affine warp (crop_scale, translate), not here.
    CorruptionFamily("detector_jitter", "the crop shifted and scaled by the strength times MTCNN's measured "
                     "frame-to-frame spread (BOX_JITTER)", (1, 2, 3), None),
    # Also placed differently: FER2013-C's patch is mid grey from 66% to 90% of the height, its centre
    # spread 3% of the width; training's grey is drawn from 0.3-0.7, its top from 60-70%, its spread 5%.
    CorruptionFamily("occlusion", "a grey patch over the mouth, the strength times the face wide",
                     (0.30, 0.45, 0.60), (0.25, 0.6)),
)

# Training draws from these, in this order (an order that fixes its random stream and the saved weights).
TRAINING_FAMILY_NAMES: tuple[str, ...] = tuple(family.name for family in WEBCAM_CORRUPTIONS
                                               if family.drawn_in_training)

_BY_NAME = {family.name: family for family in WEBCAM_CORRUPTIONS}


def corruption_family(name: str) -> CorruptionFamily:
    """The table's entry for `name`; a KeyError names the families when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no corruption family {name!r}; the families are {', '.join(_BY_NAME)}") from None
