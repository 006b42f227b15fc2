"""The saved form of a `TrainConfig` (a run's config.json, a checkpoint's config, a model's
emocap.train_config) and what reaches it from `emocap train`; plain dataclasses, no PyTorch."""

import json

from emocap.cli import main
from emocap.training.config import resolve_preset


def printed_config(capsys, monkeypatch, *options: str) -> dict:
    monkeypatch.setattr("emocap.cli.COMMANDS", ("train",))  # the real CLI with just `train`
    assert main(["train", "--preset", "cpu", *options, "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


def test_lift_light_reaches_the_config_a_run_saves(capsys, monkeypatch):
    assert printed_config(capsys, monkeypatch, "--lift-light")["lift_light"] is True
    assert printed_config(capsys, monkeypatch)["lift_light"] is False
    assert resolve_preset("cpu", lift_light=True).lift_light
