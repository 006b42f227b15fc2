"""One table of webcam corruption families: FER2013-C's severities and training's ranges come from it."""

import subprocess
import sys

import numpy as np
import pytest
from fer_fixtures import smooth_faces

from emocap.corruption_families import TRAINING_FAMILY_NAMES, WEBCAM_CORRUPTIONS, corruption_family
from emocap.evaluation.corruptions import CORRUPTIONS, SEVERITIES
from emocap.training.config import CORRUPTION_FAMILIES


def test_fer2013_c_and_training_name_their_families_from_the_one_table():
    assert list(CORRUPTIONS) == [family.name for family in WEBCAM_CORRUPTIONS]
    assert CORRUPTION_FAMILIES == TRAINING_FAMILY_NAMES
    assert all(corruption_family(name).drawn_in_training for name in CORRUPTION_FAMILIES)
    # The two FER2013-C families training leaves to its affine warp.
    assert set(CORRUPTIONS) - set(CORRUPTION_FAMILIES) == {"rotation", "detector_jitter"}
    with pytest.raises(KeyError, match="no corruption family 'blur'"):
        corruption_family("blur")


@pytest.mark.parametrize("name", TRAINING_FAMILY_NAMES)
def test_each_training_range_spans_the_fer2013_c_severities_of_its_family(name):
    family = corruption_family(name)
    low, high = (end * family.training_to_severity for end in family.training_range)
    assert len(family.severities) == len(SEVERITIES)
    assert low <= min(family.severities) and max(family.severities) <= high, (name, low, high)


def test_fer2013_c_uses_the_tables_severities():
    faces = smooth_faces(4, seed=2)
    for severity, exposure in zip(SEVERITIES, corruption_family("dark").severities):
        expected = np.clip(np.round(faces.astype(np.float32) * exposure), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(CORRUPTIONS["dark"](faces, severity), expected)


def test_training_draws_its_strengths_from_the_tables_range():
    torch = pytest.importorskip("torch")
    from emocap.training.augment import WebcamCorruptions

    faces = torch.full((256, 1, 8, 8), 0.5)
    only_dark = WebcamCorruptions(1.0, {name: 0 for name in CORRUPTION_FAMILIES} | {"dark": 1})
    exposures = only_dark(faces, torch.Generator().manual_seed(0))[:, 0, 0, 0] / 0.5
    low, high = corruption_family("dark").training_range
    assert low <= exposures.min() and exposures.max() <= high
    assert exposures.min() < low + 0.05 and exposures.max() > high - 0.05  # and over all of it


def test_the_table_and_the_training_config_load_without_torch_or_cv2():
    code = ("import sys, emocap.training.config; "
            "assert 'torch' not in sys.modules and 'cv2' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
