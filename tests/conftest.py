"""Fixtures shared between test files: a tiny FER2013 folder and one tiny training run on it.

The training run is the slow part (a full ResNet18, even on 28 faces), so it is
made once per session and shared by test_training.py and test_export.py.
The data builders themselves are plain functions in fer_fixtures.py.
"""

from __future__ import annotations

import pytest
from fer_fixtures import write_training_folder


@pytest.fixture(scope="session")
def tiny_fer(tmp_path_factory):
    """A Kaggle-layout folder: 7 classes x (2 train, 1 PublicTest, 1 PrivateTest) faces."""
    return write_training_folder(tmp_path_factory.mktemp("tiny_fer"))


@pytest.fixture(scope="session")
def tiny_config():
    pytest.importorskip("torch")
    from emocap.training.config import resolve_preset

    # cpu-quick: the paper's network and recipe. Every batch mixed (mix_prob 1), so each loss depends
    # on the Mixup/CutMix draws too, which the determinism and resume tests must then see repeated.
    return resolve_preset("cpu-quick", epochs=2, batch_size=8, mix_prob=1.0)


@pytest.fixture(scope="session")
def tiny_run(tiny_fer, tiny_config, tmp_path_factory):
    """(run folder, RunSummary) of `tiny_config` stopped after its first of two epochs, as
    `--max-minutes` stops a run, so the training tests can resume it.

    Shared: copy the folder before resuming or writing into it.
    """
    from emocap.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_run")
    summary = train(tiny_config, tiny_fer, out, device="cpu", progress=False, max_minutes=0)
    return out, summary
