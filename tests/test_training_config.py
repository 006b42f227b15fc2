"""The saved form of a `TrainConfig` (a run's config.json, a checkpoint's config, a model's
emocap.train_config) and what reaches it from `emocap train`; plain dataclasses, no PyTorch."""

import dataclasses
import json
import re

import onnxruntime
import pytest

import emocap.training.config as config_module
from emocap.classifier import BUILTIN_MODEL, NAMED_MODELS
from emocap.cli import main
from emocap.training.config import (
    CONFIG_VERSION,
    MIGRATIONS,
    VERSION_KEY,
    Migration,
    NewerConfigError,
    TrainConfig,
    resolve_preset,
)


def printed_config(capsys, monkeypatch, *options: str) -> dict:
    monkeypatch.setattr("emocap.cli.COMMANDS", ("train",))  # the real CLI with just `train`
    assert main(["train", "--preset", "cpu", *options, "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


def test_lift_light_reaches_the_config_a_run_saves(capsys, monkeypatch):
    assert printed_config(capsys, monkeypatch, "--lift-light")["lift_light"] is True
    assert printed_config(capsys, monkeypatch)["lift_light"] is False
    assert resolve_preset("cpu", lift_light=True).lift_light


# --- the saved form: versioned, one writer, one reader, older forms migrated ---------------------

# A run's config.json as emocap wrote it before the version existed (out/runs/fer-best of 7 December 2026):
# version 1, without lift_light.
SAVED_UNVERSIONED = {
    "arch": "resnet18", "batch_size": 128, "brightness": 0.2, "contrast": 0.2, "corruption_prob": 0.0,
    "corruption_weights": [], "crop_scale": [0.8, 1.0], "cutmix_alpha": 1.0, "dropout": 0.2, "ema_decay": 0.999,
    "epochs": 40, "eval_every": 1, "ferplus_target": "probability", "gamma": 0.1, "hflip": True,
    "init_from": "checkpoints/fer-best-campaign.pt", "label_smoothing": 0.1, "labels": "fer2013", "lr": 0.03,
    "mix_prob": 0.5, "mixup_alpha": 0.2, "momentum": 0.9, "optimizer": "sgd", "preset": "fer-best",
    "random_erasing": 0.25, "rotate_degrees": 15.0, "scheduler": "cosine", "seed": 0, "stem": "fer",
    "step_size": 30, "teacher": "", "teacher_weight": 0.0, "translate": 0.12, "upsample": 1, "votes": "",
    "votes_weight": 0.0, "warmup_epochs": 0, "weight_decay": 0.0005, "wild_prob": 0.5,
}


def test_a_config_saved_before_versions_loads_as_the_same_settings():
    loaded = TrainConfig.from_json(json.dumps(SAVED_UNVERSIONED, indent=2, sort_keys=True))
    same_run = resolve_preset("fer-best", init_from="checkpoints/fer-best-campaign.pt", epochs=40, lr=0.03,
                              warmup_epochs=0, wild_prob=0.5)
    assert loaded == same_run and not loaded.lift_light


@pytest.mark.parametrize("name", sorted(NAMED_MODELS))
def test_the_built_in_models_training_configs_load(name):
    """What --init-from builtin reads: a config saved before the version existed (unversioned: version 1)
    or by a version this code knows."""
    metadata = onnxruntime.InferenceSession(str(NAMED_MODELS[name])).get_modelmeta().custom_metadata_map
    saved = json.loads(metadata["emocap.train_config"])
    assert saved.get(VERSION_KEY, 1) in range(1, CONFIG_VERSION + 1)
    assert TrainConfig.from_dict(saved).labels == ("ferplus" if name == "ferplus" else "fer2013")


def test_the_saved_form_leads_with_its_version_and_reads_back():
    config = resolve_preset("ferplus", lift_light=True, votes="labels.csv")
    text = config.to_json()
    assert next(iter(json.loads(text).items())) == (VERSION_KEY, CONFIG_VERSION)
    assert TrainConfig.from_json(text) == config


def test_a_renamed_setting_migrates_and_a_removed_one_is_dropped(monkeypatch):
    """As if version 1 had called warmup_epochs "warmup" and kept a setting "amp" that version 2 dropped."""
    monkeypatch.setitem(MIGRATIONS, 1, Migration(renamed=(("warmup", "warmup_epochs"),), removed=("amp",)))
    saved = {**SAVED_UNVERSIONED, "warmup": 3, "amp": True}
    del saved["warmup_epochs"]
    loaded = TrainConfig.from_json(json.dumps(saved))
    assert loaded == dataclasses.replace(TrainConfig.from_dict(SAVED_UNVERSIONED), warmup_epochs=3)
    # A version 2 save already has the new name: the step from 1 is not taken again.
    assert TrainConfig.from_json(loaded.to_json()) == loaded


def test_migrations_take_a_save_through_every_version_after_its_own(monkeypatch):
    monkeypatch.setattr(config_module, "CONFIG_VERSION", 4)
    monkeypatch.setitem(MIGRATIONS, 2, Migration(renamed=(("a", "b"),)))
    monkeypatch.setitem(MIGRATIONS, 3, Migration(renamed=(("b", "c"),), removed=("old",)))
    assert config_module.upgraded({"a": 1, "old": 0, "lr": 0.1}) == {"c": 1, "lr": 0.1}  # 1 -> 2 -> 3 -> 4
    assert config_module.upgraded({VERSION_KEY: 3, "b": 2}) == {"c": 2}
    assert config_module.upgraded({VERSION_KEY: 4, "c": 3}) == {"c": 3}


def test_a_config_from_a_newer_emocap_is_refused_quoting_its_version():
    saved = {**json.loads(TrainConfig().to_json()), VERSION_KEY: CONFIG_VERSION + 1, "a_setting_to_come": 1}
    with pytest.raises(NewerConfigError) as error:
        TrainConfig.from_json(json.dumps(saved))
    assert str(error.value) == (f"its training configuration is version {CONFIG_VERSION + 1}, newer than this "
                                f"emocap reads ({CONFIG_VERSION}): update emocap to use it")


@pytest.mark.parametrize("version", ["2", 0, 1.5, None])
def test_a_version_that_is_not_a_whole_number_from_1_is_refused_quoting_it(version):
    with pytest.raises(ValueError, match=f"config_version is a whole number >= 1, got {re.escape(repr(version))}"):
        TrainConfig.from_json(json.dumps({VERSION_KEY: version}))


def test_a_version_2_save_loads_with_the_teacher_scoring_clean_faces_as_it_did():
    """Version 3 added teacher_views; a run saved before it learned from the teacher's clean-face scores."""
    saved = {**SAVED_UNVERSIONED, VERSION_KEY: 2, "lift_light": False, "teacher": "t.onnx", "teacher_weight": 0.4,
             "mix_prob": 0.0}
    loaded = TrainConfig.from_json(json.dumps(saved))
    assert loaded.teacher_views == "clean" and loaded.teacher_weight == 0.4


def test_teacher_views_reach_the_config_and_a_clean_view_teacher_must_be_an_exported_model(capsys, monkeypatch):
    assert printed_config(capsys, monkeypatch)["teacher_views"] == "clean"
    assert printed_config(capsys, monkeypatch, "--teacher-views", "same")["teacher_views"] == "same"
    assert printed_config(capsys, monkeypatch, "--teacher-views", "mirrored")["teacher_views"] == "mirrored"
    with pytest.raises(ValueError, match=r"teacher_views has an invalid value: 'both'; expected one of clean, same, "
                                         r"mirrored \(--teacher-views\)"):
        resolve_preset("student", teacher_views="both")
    for views in ("same", "mirrored"):  # float weights or an exported graph, each scoring every batch
        resolve_preset("student", teachers=("runs/best/best.pt", "runs/best/model.onnx"),
                       teacher_views=views).check_sources()
    resolve_preset("student", teachers=("runs/best/model.onnx",), teacher_views="clean").check_sources()
    clean = resolve_preset("student", teachers=("runs/best/model.onnx", "runs/best/best.pt"), teacher_views="clean")
    with pytest.raises(ValueError, match=r"teacher 'runs/best/best.pt' is a checkpoint; a teacher of clean faces "
                                         r"\(--teacher-views clean\) is an exported model"):
        clean.check_sources()


def test_a_version_4_save_of_one_teacher_loads_as_an_ensemble_of_one():
    """Version 5 made the teacher a list (an ensemble teacher averages several); the campaign's runs and the
    built-in models saved one name, or "" for none."""
    one = {**SAVED_UNVERSIONED, VERSION_KEY: 4, "lift_light": False, "teacher": "checkpoints/distill-campaign.pt",
           "teacher_weight": 0.7, "teacher_views": "mirrored", "mix_prob": 0.0}
    assert TrainConfig.from_json(json.dumps(one)).teachers == ("checkpoints/distill-campaign.pt",)
    none = {**SAVED_UNVERSIONED, VERSION_KEY: 4, "lift_light": False, "teacher_views": "clean"}
    assert TrainConfig.from_json(json.dumps(none)).teachers == ()
    assert TrainConfig.from_json(json.dumps(SAVED_UNVERSIONED)).teachers == ()


def test_several_teachers_reach_the_config_in_order_each_named_once(capsys, monkeypatch):
    saved = printed_config(capsys, monkeypatch, "--teacher", "runs/a/best.pt", "--teacher", "runs/b/best.pt")
    assert saved["teachers"] == ["runs/a/best.pt", "runs/b/best.pt"]
    assert TrainConfig.from_json(json.dumps(saved)).teachers == ("runs/a/best.pt", "runs/b/best.pt")
    assert printed_config(capsys, monkeypatch)["teachers"] == []
    with pytest.raises(ValueError, match=r"TrainConfig.teachers has an invalid value: \('a.pt', 'a.pt'\); "
                                         r"expected model files, each named once"):
        resolve_preset("student", teachers=("a.pt", "a.pt"))


def test_mix_prob_reaches_the_config_and_a_teacher_needs_it_off(capsys, monkeypatch):
    assert printed_config(capsys, monkeypatch, "--preset", "fer-best")["mix_prob"] == 0.5
    assert printed_config(capsys, monkeypatch, "--preset", "fer-best", "--mix-prob", "0")["mix_prob"] == 0.0
    with pytest.raises(ValueError, match=r"Mixup/CutMix \(mix_prob 0.5\) works on FER2013's hard labels only; "
                                         r"set it to 0 \(--mix-prob 0\)"):
        resolve_preset("fer-best", teachers=("t.pt",), teacher_weight=0.5)
    assert resolve_preset("fer-best", teachers=("t.pt",), teacher_weight=0.5, mix_prob=0.0).soft_targets


def test_teacher_and_init_from_take_the_built_in_models_by_name(capsys, monkeypatch):
    for name, file in [*NAMED_MODELS.items(), ("builtin", BUILTIN_MODEL)]:
        saved = printed_config(capsys, monkeypatch, "--init-from", name, "--teacher", name)
        assert saved["init_from"] == str(file) and saved["teachers"] == [str(file)]
    assert printed_config(capsys, monkeypatch, "--init-from", "runs/a/best.pt")["init_from"] == "runs/a/best.pt"
