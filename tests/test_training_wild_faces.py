"""Training's wild faces (issue 44, goal 2): the yardstick's own rendering with parameters drawn per face
from ranges wider than its severities, repeatable from the seed, and nothing at all at a share of 0."""

import json

import numpy as np
import pytest
from fer_fixtures import smooth_faces

torch = pytest.importorskip("torch")

from emocap.cli import main  # noqa: E402
from emocap.corruption_families import WILD_CONDITIONS  # noqa: E402
from emocap.evaluation.corruptions import SEVERITIES  # noqa: E402
from emocap.evaluation.corruptions import _rng as yardstick_generator  # noqa: E402  (a cell's generator)
from emocap.evaluation.wild import RENDER, WILD  # noqa: E402
from emocap.preprocessing import Preprocess  # noqa: E402
from emocap.training.augment import BatchAugment  # noqa: E402
from emocap.training.config import PRESETS, TrainConfig, resolve_preset  # noqa: E402
from emocap.training.wild_faces import TRAINING_CONDITIONS, WildFaces, draw_parameters  # noqa: E402

FACES = smooth_faces(40, seed=45)


def test_training_draws_every_condition_of_the_yardstick_and_every_parameter_of_each():
    assert [c.name for c in TRAINING_CONDITIONS] == [c.name for c in WILD_CONDITIONS] == list(RENDER)
    for condition in TRAINING_CONDITIONS:
        assert set(condition.training_ranges) == set(condition.severities[0])


@pytest.mark.parametrize("condition", TRAINING_CONDITIONS, ids=lambda c: c.name)
def test_drawn_parameters_stay_within_the_training_ranges_and_cover_them(condition):
    drawn = draw_parameters(condition, 2000, np.random.default_rng(0))
    for name, (low, high) in condition.training_ranges.items():
        values = drawn[name]
        assert values.shape == (2000,) and values.min() >= low and values.max() <= high
        # Spread over the range, past the yardstick's values on both sides.
        yardstick = [severity[name] for severity in condition.severities]
        assert values.min() < min(yardstick) and values.max() > max(yardstick)


@pytest.mark.parametrize("name", WILD)
def test_the_yardstick_and_training_call_one_rendering_per_condition(name):
    """Training's per-face arrays of a severity's values render exactly the yardstick's faces."""
    condition = next(c for c in WILD_CONDITIONS if c.name == name)
    for severity in SEVERITIES:
        values = condition.severities[severity - 1]
        per_face = {key: np.full(len(FACES), value, np.float64) for key, value in values.items()}
        yardstick = WILD[name](FACES, severity, seed=5)
        np.testing.assert_array_equal(RENDER[name](FACES, per_face, yardstick_generator(name, severity, 5)), yardstick)


def test_wild_faces_are_repeatable_from_the_seed_and_change_with_it():
    images = torch.from_numpy(FACES)

    def shown(seed):
        return WildFaces(0.5)(images, torch.Generator().manual_seed(seed))

    first = shown(3)
    assert first.dtype == torch.uint8 and first.shape == images.shape
    assert torch.equal(first, shown(3))
    assert not torch.equal(first, shown(4))
    assert torch.equal(images, torch.from_numpy(FACES))  # the batch given is not written to


def test_about_the_share_asked_for_is_changed_and_the_rest_untouched():
    faces = np.repeat(FACES, 10, axis=0)  # 400 faces
    out = WildFaces(0.5).apply(faces, np.random.default_rng(7))
    changed = np.any(out != faces, axis=(1, 2))
    assert 0.4 < changed.mean() < 0.6
    everything = WildFaces(1.0).apply(faces, np.random.default_rng(7))
    assert np.any(everything != faces, axis=(1, 2)).mean() > 0.95  # a few faces barely moved by a small draw


def test_a_share_of_zero_leaves_every_face_and_the_random_stream_untouched():
    out = WildFaces(0.0)(torch.from_numpy(FACES), torch.Generator().manual_seed(0))
    assert torch.equal(out, torch.from_numpy(FACES))
    # In training a share of 0 builds no wild stage: the augmentation draws exactly what it drew before.
    config = resolve_preset("fer-best")
    assert config.wild_prob == 0 and BatchAugment(config, Preprocess()).wild is None
    plain, explicit = (BatchAugment(c, Preprocess()) for c in (config, resolve_preset("fer-best", wild_prob=0.0)))
    generators = [torch.Generator().manual_seed(1) for _ in range(2)]
    images = torch.from_numpy(FACES)
    assert torch.equal(plain(images, generators[0]), explicit(images, generators[1]))
    assert torch.equal(generators[0].get_state(), generators[1].get_state())


def test_batch_augment_shows_the_wild_faces_then_augments_them():
    config = resolve_preset("fer-best", wild_prob=1.0)
    augment = BatchAugment(config, Preprocess())
    images = torch.from_numpy(FACES)
    out = augment(images, torch.Generator().manual_seed(2))
    assert out.shape == (40, 1, 48, 48) and torch.isfinite(out).all()
    assert torch.equal(out, augment(images, torch.Generator().manual_seed(2)))
    assert not torch.equal(out, BatchAugment(resolve_preset("fer-best"), Preprocess())(
        images, torch.Generator().manual_seed(2)))


@pytest.mark.parametrize("name", PRESETS)
def test_presets_resolve_as_before_and_old_configs_load(name):
    preset = PRESETS[name].config
    assert preset.wild_prob == 0.0
    saved_before = json.loads(preset.to_json())
    del saved_before["wild_prob"]  # a config.json written before the setting existed
    assert TrainConfig.from_dict(saved_before) == preset


def test_wild_share_on_the_command_line(capsys, monkeypatch):
    monkeypatch.setattr("emocap.cli.COMMANDS", ("train",))  # the real CLI with just `train`
    assert main(["train", "--preset", "fer-best", "--wild-share", "0.5", "--print-config"]) == 0
    assert TrainConfig.from_dict(json.loads(capsys.readouterr().out)) == resolve_preset("fer-best", wild_prob=0.5)
    with pytest.raises(SystemExit) as caught:
        main(["train", "--preset", "fer-best", "--wild-share", "1.5", "--print-config"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and "'1.5'" in err and "--wild-share" in err
    with pytest.raises(ValueError, match=r"TrainConfig.wild_prob has an invalid value: -0.1.*--wild-share"):
        resolve_preset("fer-best", wild_prob=-0.1)
