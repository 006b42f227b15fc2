"""A checkpoint is data (issue 43, points 1, 3 and 8): tensors and plain values are read, anything
else is refused in one line before it runs; the training commands check what they are given before
any work, and a refused run leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fer_fixtures import write_fer_folder

from emocap.cli import main
from emocap.preprocessing import Preprocess

torch = pytest.importorskip("torch")

from emocap.training.export import load_checkpoint  # noqa: E402
from emocap.training.config import CONFIG_VERSION, VERSION_KEY, TrainConfig, resolve_preset  # noqa: E402
from emocap.training.model import EmotionNet, read_checkpoint  # noqa: E402

CAMPAIGN = Path(__file__).resolve().parent.parent / "checkpoints" / "fer-best-campaign.pt"


class CreatesAFile:
    """Unpickled, it opens `path` for writing, so the file appears: a crafted .pt could run any command."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def checkpoint_of(config: TrainConfig, path: Path) -> Path:
    """A best.pt as `train` writes it, of an untrained network of `config`."""
    torch.save({"config": config.to_json(), "model": EmotionNet(config).state_dict(), "epoch": 1,
                "preprocess": Preprocess().to_json()}, path)
    return path


@pytest.fixture
def data(tmp_path) -> Path:
    write_fer_folder(tmp_path / "fer")
    return tmp_path / "fer"


def one_line_error(capsys, command: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"emocap {command}: error: "), captured.err
    return lines[0]


def commands_reading(checkpoint: Path, tmp_path: Path, data: Path) -> dict[str, list[str]]:
    """Every command that reads a checkpoint, given `checkpoint` (`train --resume` as the last.pt of a
    run folder made here), each writing, were it to work, into `tmp_path`."""
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    (resumed / "last.pt").write_bytes(checkpoint.read_bytes())
    return {
        "export": ["export", str(checkpoint), "-o", str(tmp_path / "m.onnx"), "--data", str(data)],
        "train": ["train", "--preset", "cpu-quick", "--data", str(data), "--out", str(tmp_path / "run"),
                  "--batch-size", "8", "--init-from", str(checkpoint)],
        "interpolate": ["interpolate", "--tuned", str(checkpoint), "--data", str(data), "--out", str(tmp_path / "w")],
        "train --resume": ["train", "--preset", "cpu-quick", "--data", str(data), "--out", str(resumed),
                           "--batch-size", "8", "--resume"],
    }


def test_a_checkpoint_that_would_run_code_is_refused_by_every_command_and_never_runs(tmp_path, data, capsys):
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.pt"
    torch.save({"config": CreatesAFile(marker), "model": {}}, crafted)
    torch.load(crafted, weights_only=False)  # what `export` and the others did with it
    assert marker.exists(), "the crafted checkpoint does not run its code: this test would prove nothing"
    marker.unlink()
    for name, argv in commands_reading(crafted, tmp_path, data).items():
        assert main(argv) == 2, name
        assert "holds a Python object (io.open) besides tensors and plain values, which may run code" in (
            one_line_error(capsys, argv[0])), name
        assert not marker.exists(), f"{name} ran the checkpoint's code"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["crafted.pt", "fer", "resumed"]


@pytest.mark.parametrize("state, reason", [
    ({"model": {}, "config": 0}, "its model is not a set of named weights"),
    ({"model": {"head.bias": torch.zeros(7)}, "config": 0}, "expected JSON text, got int"),
    ({"model": {"head.bias": torch.zeros(7)}, "config": "{\"epochs\": \"ten\"}"}, "not a training configuration"),
    ({"model": {"head.bias": torch.zeros(7)}, "config": TrainConfig().to_json()}, "holds another network"),
    ([1, 2, 3], "it holds no model weights and config"),
], ids=["no weights", "config 0", "config of the wrong types", "weights of another network", "a list"])
def test_a_checkpoint_of_plain_values_that_is_not_a_training_checkpoint_is_one_line(tmp_path, data, capsys,
                                                                                     state, reason):
    """{"model": {}, "config": 0} was a TypeError traceback in `export`."""
    checkpoint = tmp_path / "odd.pt"
    torch.save(state, checkpoint)
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "m.onnx"), "--data", str(data), "--no-int8"]) == 2
    error = one_line_error(capsys, "export")
    assert repr(str(checkpoint)) in error and reason in error
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("committed", sorted(CAMPAIGN.parent.glob("*.pt")), ids=lambda path: path.name)
def test_the_committed_weights_load_as_data(committed):
    """The committed fp16 checkpoints (weights, config, preprocessing) read without unpickling code, whether
    their config was saved before the version existed (version 1) or by a version this code knows."""
    _, _, preprocess, state = load_checkpoint(committed)  # read_checkpoint, then the network its classes name
    assert json.loads(state["config"]).get(VERSION_KEY, 1) in range(1, CONFIG_VERSION + 1)
    assert preprocess == Preprocess()


def test_a_checkpoint_from_a_newer_emocap_is_refused_in_one_line_quoting_its_version(tmp_path, data, capsys):
    config = resolve_preset("cpu-quick")
    newer = {**json.loads(config.to_json()), VERSION_KEY: CONFIG_VERSION + 1}
    checkpoint = tmp_path / "newer.pt"
    torch.save({"config": json.dumps(newer), "model": EmotionNet(config).state_dict(), "epoch": 1,
                "preprocess": Preprocess().to_json()}, checkpoint)
    for name, argv in commands_reading(checkpoint, tmp_path, data).items():
        assert main(argv) == 2, name
        error = one_line_error(capsys, argv[0])
        assert f"its training configuration is version {CONFIG_VERSION + 1}, newer than this emocap reads " \
               f"({CONFIG_VERSION}): update emocap to use it" in error, name
        assert "newer.pt" in error or "last.pt" in error, name
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fer", "newer.pt", "resumed"]
    assert sorted(path.name for path in (tmp_path / "resumed").iterdir()) == ["last.pt"]


def test_init_from_a_model_of_a_newer_emocap_is_refused_in_one_line_quoting_its_version(tmp_path, data, capsys):
    onnx = pytest.importorskip("onnx")
    from emocap.classifier import BUILTIN_MODEL

    model = onnx.load(str(BUILTIN_MODEL))
    for prop in model.metadata_props:
        if prop.key == "emocap.train_config":
            prop.value = json.dumps({**json.loads(prop.value), VERSION_KEY: CONFIG_VERSION + 1})
    newer = tmp_path / "newer.onnx"
    onnx.save(model, str(newer))
    assert main(["train", "--preset", "cpu-quick", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--batch-size", "8", "--init-from", str(newer)]) == 2
    assert one_line_error(capsys, "train") == (
        f"emocap train: error: init_from {str(newer)!r}: its training configuration is version {CONFIG_VERSION + 1}, "
        f"newer than this emocap reads ({CONFIG_VERSION}): update emocap to use it")
    assert not (tmp_path / "run").exists()


def test_init_from_a_file_that_is_not_a_model_is_one_line_and_leaves_no_run_folder(tmp_path, data, capsys):
    """`--init-from junk.onnx` was a protobuf DecodeError traceback, after the run folder was made."""
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model\n")
    out = tmp_path / "run"
    assert main(["train", "--preset", "cpu-quick", "--data", str(data), "--out", str(out), "--init-from",
                 str(junk), "--batch-size", "8"]) == 2
    assert one_line_error(capsys, "train") == (
        f"emocap train: error: init_from {str(junk)!r} is not a readable ONNX model (DecodeError)")
    assert not out.exists()


def test_interpolate_refuses_a_base_that_is_not_a_model(tmp_path, data, capsys):
    """A DecodeError traceback from protobuf."""
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model\n")
    tuned = checkpoint_of(resolve_preset("cpu"), tmp_path / "tuned.pt")
    out = tmp_path / "wise"
    assert main(["interpolate", "--tuned", str(tuned), "--data", str(data), "--out", str(out), "--base",
                 str(junk)]) == 2
    assert one_line_error(capsys, "interpolate").endswith(f"{str(junk)!r} is not a readable ONNX model (DecodeError)")
    assert not out.exists()


@pytest.mark.slow  # the built-in model's network rebuilt from its int8 graph: seconds
def test_interpolate_refuses_a_tuned_network_other_than_the_base(tmp_path, data, capsys):
    """A KeyError traceback from the first weight the two do not share."""
    out = tmp_path / "wise"
    other = checkpoint_of(resolve_preset("cpu", arch="resnet10"), tmp_path / "student.pt")
    assert main(["interpolate", "--tuned", str(other), "--data", str(data), "--out", str(out)]) == 2
    assert f"--tuned {str(other)!r} holds another network than --base " in one_line_error(capsys, "interpolate")
    assert not out.exists()


def test_train_refuses_a_folder_that_holds_a_run_unless_it_resumes(tmp_path, data, capsys):
    """`train --out runs/x` on a finished run replaced its best.pt and last.pt at the first epoch's end."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_bytes(b"weeks of training")
    assert main(["train", "--preset", "cpu-quick", "--data", str(data), "--out", str(out)]) == 2
    assert one_line_error(capsys, "train") == (
        f"emocap train: error: {str(out)!r} already holds a run (best.pt): continue it with --resume, "
        "or train into a new folder")
    assert [path.name for path in out.iterdir()] == ["best.pt"] and (out / "best.pt").read_bytes() == b"weeks of training"


def test_a_learning_rate_past_the_limit_is_refused_before_anything_is_written(tmp_path, data, capsys):
    """--lr 1e308 overflowed SGD's float32 step in a traceback, after writing the run folder and config.json."""
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--preset", "fer-best", "--data", str(data), "--out", str(tmp_path / "run"), "--lr", "1e308"])
    assert stopped.value.code == 2
    assert "argument --lr: expected a learning rate > 0 and <= 10, got '1e308'" in one_line_error(capsys, "train")
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match=r"TrainConfig.lr has an invalid value: 1e\+308; expected a number > 0"):
        TrainConfig(lr=1e308)
