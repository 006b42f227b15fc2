"""Fixtures shared between test files: a tiny FER2013 folder and one tiny training run on it.

The training run is the slow part (a full ResNet18, even on 28 faces), so it is
made once per session and shared by test_training.py and test_export.py.
The data builders themselves are plain functions in fer_fixtures.py.
Also a virtual X screen (Xvfb) for the tests of the window and the screen source, and the stand-in
pipeline that `emocap transcribe` runs in its command tests (transcribe_fixtures.SquarePipeline).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from fer_fixtures import write_training_folder
from transcribe_fixtures import SquarePipeline


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


@dataclass(frozen=True)
class VirtualScreen:
    env: dict  # os.environ with DISPLAY pointing at the virtual screen
    display: str
    size: tuple[int, int]  # width, height


@pytest.fixture
def virtual_screen():
    """A fresh Xvfb display of 1024x768 (skips where Xvfb is not installed)."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed (run scripts/install-test-tools.sh)")
    size = (1024, 768)
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        display = f":{stream.readline().strip()}"  # Xvfb writes its display number once it accepts clients
    try:
        yield VirtualScreen({**os.environ, "DISPLAY": display}, display, size)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def pipeline(monkeypatch):
    """`emocap transcribe` builds the square-reading stand-in instead of the real pipeline."""
    from emocap.commands import transcribe

    fake = SquarePipeline()
    monkeypatch.setattr(transcribe, "build_pipeline", lambda args, **_: fake)
    return fake


@pytest.fixture
def two_cores(monkeypatch):
    """Two usable cores, as CI has, where this machine has one: by default `emocap transcribe` shares work
    out on Ray only with two or more, and the tests of that default run wherever they run."""
    monkeypatch.setattr("emocap.onnx_session.usable_cores", lambda: 2)
