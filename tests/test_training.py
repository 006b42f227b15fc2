"""Training on a 28-face FER2013 folder: run outputs, resume, determinism, configs, augmentation, the network.

The runs share `tiny_run` (conftest.py): cpu-quick for 2 epochs on 14 train
faces in batches of 8, stopped after its first epoch the way `--max-minutes`
stops a run.
"""

import csv
import dataclasses
import json
import shutil

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emocap.cli import main  # noqa: E402
from emocap.labels import FER2013_LABELS  # noqa: E402
from emocap.preprocessing import FER2013_FACE_LIGHT, Preprocess  # noqa: E402
from emocap.training.augment import BatchAugment, to_model_input  # noqa: E402
from emocap.training.config import PRESETS, TrainConfig, resolve_preset  # noqa: E402
from emocap.training.model import EmotionNet, count_parameters  # noqa: E402
from emocap.training.trainer import train  # noqa: E402

pytestmark = pytest.mark.slow  # training runs

CURVE_COLUMNS = [
    "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "public_acc", "private_acc", "seconds"
]
SCORE_COLUMNS = [column for column in CURVE_COLUMNS if column not in ("epoch", "seconds")]
PUBLIC_FACES, PRIVATE_FACES = 7, 7  # in tiny_fer: 1 PublicTest and 1 PrivateTest face per class


def read_curves(run_dir) -> list[dict[str, float]]:
    with open(run_dir / "curves.csv", newline="") as stream:
        reader = csv.DictReader(stream)
        assert reader.fieldnames == CURVE_COLUMNS
        return [{column: float(value) for column, value in row.items()} for row in reader]


def copy_run(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


@pytest.fixture(scope="module")
def resumed_run(tiny_run, tiny_fer, tiny_config, tmp_path_factory):
    """tiny_run continued with resume=True to its configured 2 epochs."""
    out = copy_run(tiny_run[0], tmp_path_factory.mktemp("resumed"))
    summary = train(tiny_config, tiny_fer, out, device="cpu", progress=False, resume=True)
    return out, summary


@pytest.fixture(scope="module")
def uninterrupted_run(tiny_fer, tiny_config, tmp_path_factory):
    """The same configuration trained for its 2 epochs in one go."""
    out = tmp_path_factory.mktemp("uninterrupted")
    train(tiny_config, tiny_fer, out, device="cpu", progress=False)
    return out


# --- a run's outputs -----------------------------------------------------------------------------


def test_run_writes_config_that_loads_back_to_the_same_config(tiny_run, tiny_config):
    out, _ = tiny_run
    assert TrainConfig.load(out / "config.json") == tiny_config


def test_curves_csv_has_one_row_per_epoch_done(tiny_run, tiny_config):
    out, summary = tiny_run
    (row,) = read_curves(out)  # stopped after 1 of 2 epochs
    assert row["epoch"] == 1
    assert row["lr"] == tiny_config.lr  # StepLR(3): no decay in the first epoch
    for loss in ("train_loss", "test_loss"):
        # 7-class cross-entropy of a barely trained network: near log(7) = 1.95, not 0, inf or nan.
        assert 0.5 < row[loss] < 10, loss
    for accuracy in ("train_acc", "test_acc", "public_acc", "private_acc"):
        assert 0 <= row[accuracy] <= 1, accuracy
    # test = PublicTest + PrivateTest, told apart by file name: its accuracy is their weighted mean.
    weighted = (PUBLIC_FACES * row["public_acc"] + PRIVATE_FACES * row["private_acc"]) / (PUBLIC_FACES + PRIVATE_FACES)
    assert row["test_acc"] == pytest.approx(weighted, abs=1e-6)
    assert row["seconds"] > 0
    assert summary.epochs_done == 1
    assert summary.best_epoch == 1 and summary.best_public_acc == pytest.approx(row["public_acc"])


def test_curves_png_is_the_loss_and_accuracy_figure(tiny_run):
    image = cv2.imread(str(tiny_run[0] / "curves.png"))
    assert image is not None
    assert image.shape == (440, 1100, 3)  # figsize (10, 4) at 110 dpi
    assert image.std() > 10  # axes, lines and text, not a blank canvas


def test_eval_every_scores_the_test_set_on_its_epochs_and_the_last_only(tiny_fer, tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, epochs=3, eval_every=2)
    summary = train(config, tiny_fer, tmp_path / "run", device="cpu", progress=False)
    rows = read_curves(tmp_path / "run")
    scored = [int(row["epoch"]) for row in rows if not np.isnan(row["test_acc"])]
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert scored == [2, 3]  # the second epoch, then the last
    assert all(row["train_loss"] > 0 for row in rows)  # every epoch trained
    assert summary.best_epoch in (2, 3)


def test_eval_every_on_the_command_line_reaches_the_config(tiny_fer, tmp_path, capsys, only_train_command):
    out = tmp_path / "run"
    assert main(["train", "--preset", "cpu-quick", "--data", str(tiny_fer), "--out", str(out), "--epochs", "1",
                 "--batch-size", "8", "--eval-every", "5"]) == 0
    assert TrainConfig.load(out / "config.json").eval_every == 5
    assert not np.isnan(read_curves(out)[0]["test_acc"])  # the last epoch is always scored


def test_checkpoints_hold_what_resume_and_export_need(tiny_run, tiny_config):
    """Tensors and plain values only: torch.load's weights_only reads them with nothing allowed besides,
    as emocap reads checkpoints (the NumPy random state was a NumPy array, which it refuses)."""
    out, _ = tiny_run
    last = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    assert last["config"] == tiny_config.to_json()
    assert last["epoch"] == 1 and [row["epoch"] for row in last["history"]] == [1]
    assert last["optimizer"]["state"], "the optimiser's moments are needed to resume"
    assert Preprocess.from_json(last["preprocess"]) == Preprocess()

    best = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    assert best["epoch"] == 1
    assert best["metrics"]["public_acc"] == read_curves(out)[0]["public_acc"]
    net = EmotionNet(tiny_config)
    net.load_state_dict(best["model"])  # strict: every weight of the network is there
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary files left


# --- resume and determinism ----------------------------------------------------------------------


def test_resume_continues_the_history_instead_of_restarting(tiny_run, resumed_run):
    before, after = read_curves(tiny_run[0]), read_curves(resumed_run[0])
    assert [row["epoch"] for row in after] == [1, 2]
    # Epoch 1 is carried over from last.pt, seconds and all; a restart would have re-measured it.
    assert after[0] == before[0]
    out, summary = resumed_run
    assert summary.epochs_done == 2
    last = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 2 and len(last["history"]) == 2


def test_a_diverged_epoch_is_refused_and_the_run_keeps_its_last_good_epoch(
    tiny_run, tiny_fer, tiny_config, tmp_path, monkeypatch,
):
    from emocap.training import trainer

    out = copy_run(tiny_run[0], tmp_path)
    last_before = (out / "last.pt").read_bytes()
    real_epoch = trainer.train_one_epoch

    def epoch_that_diverges(config, network, *args):
        result = real_epoch(config, network, *args)
        with torch.no_grad():  # what a learning rate too high does to one layer, then to the loss
            next(network.model.parameters()).fill_(float("nan"))
        return {**result, "train_loss": float("nan")}

    monkeypatch.setattr(trainer, "train_one_epoch", epoch_that_diverges)
    with pytest.raises(ValueError, match="diverged in epoch 2") as error:
        train(tiny_config, tiny_fer, out, device="cpu", progress=False, resume=True)
    assert "keeps epoch 1" in str(error.value) and "--init-from" in str(error.value)
    assert (out / "last.pt").read_bytes() == last_before
    assert read_curves(out) == read_curves(tiny_run[0])


def test_an_epoch_with_finite_loss_but_broken_weights_is_refused_too(tiny_fer, tiny_config, tmp_path, monkeypatch):
    from emocap.training import trainer

    real_epoch = trainer.train_one_epoch

    def epoch_with_inf_weights(config, network, *args):
        result = real_epoch(config, network, *args)
        with torch.no_grad():
            next(network.scored.parameters()).fill_(float("inf"))
        return result

    monkeypatch.setattr(trainer, "train_one_epoch", epoch_with_inf_weights)
    with pytest.raises(ValueError, match="diverged in epoch 1.*keeps no epoch"):
        train(tiny_config, tiny_fer, tmp_path / "run", device="cpu", progress=False)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_resume_refuses_a_run_trained_on_other_input(tiny_run, tiny_fer, tiny_config, tmp_path):
    out = copy_run(tiny_run[0], tmp_path)
    with pytest.raises(ValueError, match="trained on other input.*--lift-light"):
        train(dataclasses.replace(tiny_config, lift_light=True), tiny_fer, out, device="cpu", progress=False,
              resume=True)


def test_lift_light_is_recorded_in_the_runs_config_and_checkpoints(tiny_fer, tmp_path, only_train_command):
    out = tmp_path / "run"
    assert main(["train", "--preset", "cpu-quick", "--data", str(tiny_fer), "--out", str(out), "--epochs", "1",
                 "--batch-size", "8", "--lift-light"]) == 0
    assert json.loads((out / "config.json").read_text())["lift_light"] is True
    for name in ("best.pt", "last.pt"):
        state = torch.load(out / name, map_location="cpu", weights_only=True)
        assert TrainConfig.from_json(state["config"]).lift_light
        assert Preprocess.from_json(state["preprocess"]) == Preprocess(lift_to=FER2013_FACE_LIGHT)


def test_a_lifted_run_saved_before_its_config_recorded_lift_light_resumes_with_it(
        tiny_fer, tiny_config, tmp_path):
    lifted = dataclasses.replace(tiny_config, lift_light=True)
    out = tmp_path / "run"
    train(lifted, tiny_fer, out, device="cpu", progress=False, max_minutes=0)
    last = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    saved = json.loads(last["config"])
    del saved["lift_light"]  # as --lift-light runs wrote it: the lift in the preprocessing only
    last["config"] = json.dumps(saved)
    torch.save(last, out / "last.pt")
    with pytest.raises(ValueError, match="trained on other input.*--lift-light"):
        train(tiny_config, tiny_fer, out, device="cpu", progress=False, resume=True)
    assert train(lifted, tiny_fer, out, device="cpu", progress=False, resume=True).epochs_done == 2


def test_same_seed_trains_to_the_same_losses(tiny_run, uninterrupted_run):
    """Two fresh runs of one configuration in one process, on the CPU: bit-identical curves."""
    first, second = read_curves(tiny_run[0])[0], read_curves(uninterrupted_run)[0]
    assert {c: first[c] for c in SCORE_COLUMNS} == {c: second[c] for c in SCORE_COLUMNS}


def test_resumed_run_trains_as_if_never_stopped(resumed_run, uninterrupted_run):
    """Epoch 2 after a resume equals epoch 2 of the uninterrupted run: every random stream is restored."""
    resumed, straight = read_curves(resumed_run[0])[1], read_curves(uninterrupted_run)[1]
    assert {c: resumed[c] for c in SCORE_COLUMNS} == {c: straight[c] for c in SCORE_COLUMNS}


def test_a_last_pt_written_before_the_random_state_was_plain_values_resumes_as_if_never_stopped(
        tiny_run, tiny_fer, tiny_config, uninterrupted_run, tmp_path):
    """last.pt kept NumPy's random state as np.random.get_state() returns it, a NumPy array inside: such
    files still resume, and exactly (the array is the one object besides tensors that reading allows)."""
    out = copy_run(tiny_run[0], tmp_path)
    state = torch.load(out / "last.pt", weights_only=True)
    name, keys, position, has_gauss, cached = state["numpy_random"]
    state["numpy_random"] = (name, keys.numpy().astype(np.uint32), position, has_gauss, cached)
    torch.save(state, out / "last.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(out / "last.pt", weights_only=True)  # the old form, as it was
    train(tiny_config, tiny_fer, out, device="cpu", progress=False, resume=True)
    resumed, straight = read_curves(out)[1], read_curves(uninterrupted_run)[1]
    assert {c: resumed[c] for c in SCORE_COLUMNS} == {c: straight[c] for c in SCORE_COLUMNS}


def test_a_run_saved_before_a_setting_existed_resumes_under_its_default(tiny_run, tiny_fer, tiny_config, tmp_path):
    out = copy_run(tiny_run[0], tmp_path)
    last = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    saved = json.loads(last["config"])
    del saved["wild_prob"]  # as last.pt was written before training could show faces as video does
    last["config"] = json.dumps(saved, indent=2, sort_keys=True)
    torch.save(last, out / "last.pt")
    summary = train(tiny_config, tiny_fer, out, device="cpu", progress=False, resume=True)
    assert summary.epochs_done == 2


def test_a_run_with_wild_faces_trains_and_repeats_from_its_seed(tiny_fer, tmp_path, capsys):
    argv = ["train", "--data", str(tiny_fer), "--preset", "cpu-quick", "--epochs", "1", "--batch-size", "8",
            "--wild-share", "0.5"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0 and main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert TrainConfig.load(tmp_path / "a" / "config.json").wild_prob == 0.5
    first, second = read_curves(tmp_path / "a")[0], read_curves(tmp_path / "b")[0]
    assert {c: first[c] for c in SCORE_COLUMNS} == {c: second[c] for c in SCORE_COLUMNS}


def test_resume_with_another_config_is_refused_and_changes_nothing(tiny_run, tiny_fer, tiny_config, tmp_path):
    out = copy_run(tiny_run[0], tmp_path)
    other = dataclasses.replace(tiny_config, lr=tiny_config.lr / 10)
    with pytest.raises(ValueError, match="another configuration") as error:
        train(other, tiny_fer, out, device="cpu", progress=False, resume=True)
    assert str(out / "last.pt") in str(error.value)
    assert TrainConfig.load(out / "config.json") == tiny_config
    assert read_curves(out) == read_curves(tiny_run[0])


# --- configurations ------------------------------------------------------------------------------


def test_resolve_preset_applies_overrides_and_ignores_unset_ones():
    assert resolve_preset("paper", epochs=None, lr=None) == PRESETS["paper"].config
    quick = resolve_preset("cpu-quick", epochs=1, batch_size=8)
    assert (quick.preset, quick.epochs, quick.batch_size) == ("cpu-quick", 1, 8)
    assert quick.lr == PRESETS["cpu-quick"].config.lr


def test_resolve_preset_names_an_unknown_preset():
    with pytest.raises(ValueError, match=r"unknown preset 'no-such-preset'.*paper"):
        resolve_preset("no-such-preset")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_json(name, tmp_path):
    (tmp_path / "config.json").write_text(PRESETS[name].config.to_json())
    loaded = TrainConfig.load(tmp_path / "config.json")
    assert loaded == PRESETS[name].config
    assert isinstance(loaded.crop_scale, tuple)  # JSON has lists; the frozen config keeps tuples


@pytest.mark.parametrize(
    "field, bad_value, quoted",
    [
        ("epochs", 0, "0"),
        ("batch_size", 7, "7"),  # odd: Mixup pairs the batch with its mirror
        ("batch_size", 1, "1"),
        ("optimizer", "rmsprop", "'rmsprop'"),
        ("lr", 0.0, "0.0; expected a number > 0 and <= 10 (--lr)"),
        ("scheduler", "plateau", "'plateau'"),
        ("stem", "tiny", "'tiny'"),
        ("upsample", 5, "5"),
        ("crop_scale", (0.9, 0.5), "(0.9, 0.5)"),
        ("mix_prob", 1.5, "1.5"),
        ("label_smoothing", 1.0, "1.0"),
        ("ema_decay", 1.0, "1.0"),
        ("arch", "vgg", "'vgg'"),
    ],
)
def test_config_validation_quotes_the_bad_value(field, bad_value, quoted):
    with pytest.raises(ValueError) as error:
        TrainConfig(**{field: bad_value})
    assert str(error.value) == f"TrainConfig.{field} has an invalid value: {quoted}"


def test_config_from_dict_names_unknown_settings():
    with pytest.raises(ValueError, match=r"unknown training settings: \['learning_rate'\]"):
        TrainConfig.from_dict({"learning_rate": 0.1})


# --- batch augmentation --------------------------------------------------------------------------

NO_AUGMENTATION = dict(
    crop_scale=(1.0, 1.0), hflip=False, rotate_degrees=0.0, translate=0.0,
    brightness=0.0, contrast=0.0, random_erasing=0.0,
)


def uint8_faces(n=16, seed=0):
    """Full-range faces (pure black and white pixels included), so clamping is exercised."""
    faces = np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)
    faces[:, :4] = 0
    faces[:, -4:] = 255
    return torch.from_numpy(faces)


def test_batch_augment_gives_normalised_channels_last_float_batches():
    strong = dataclasses.replace(PRESETS["fer-best"].config, brightness=0.9, contrast=0.9, random_erasing=1.0)
    preprocess = Preprocess(mean=0.25, std=0.5)
    out = BatchAugment(strong, preprocess)(uint8_faces(), torch.Generator().manual_seed(0))
    assert out.shape == (16, 1, 48, 48) and out.dtype == torch.float32
    assert out.is_contiguous(memory_format=torch.channels_last)
    # Pixels stay in [0, 1] before normalisation, whatever the jitter: (0 - 0.25) / 0.5 .. (1 - 0.25) / 0.5.
    assert out.min().item() >= -0.5 - 1e-6 and out.max().item() <= 1.5 + 1e-6
    assert out.std().item() > 0.2  # still images, not a constant


def test_batch_augment_repeats_itself_for_the_same_generator_seed():
    augment = BatchAugment(PRESETS["paper"].config, Preprocess())
    faces = uint8_faces()
    first = augment(faces, torch.Generator().manual_seed(3))
    again = augment(faces, torch.Generator().manual_seed(3))
    other = augment(faces, torch.Generator().manual_seed(4))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_batch_augment_with_everything_off_is_plain_preprocessing():
    """The affine warp at zoom 1, angle 0, shift 0 must land on the pixel centres exactly."""
    plain = dataclasses.replace(PRESETS["paper"].config, **NO_AUGMENTATION)
    preprocess = Preprocess(channels=3)
    faces = uint8_faces()
    out = BatchAugment(plain, preprocess)(faces, torch.Generator().manual_seed(0))
    assert out.shape == (16, 3, 48, 48)
    torch.testing.assert_close(out, to_model_input(faces, preprocess), atol=1e-5, rtol=0)
    expected = torch.from_numpy(preprocess(faces.numpy()))  # the NumPy twin used at run time
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_batch_augment_flip_mirrors_about_half_the_faces():
    flip_only = dataclasses.replace(PRESETS["paper"].config, **{**NO_AUGMENTATION, "hflip": True})
    faces = uint8_faces(32)
    out = BatchAugment(flip_only, Preprocess())(faces, torch.Generator().manual_seed(0))
    plain = to_model_input(faces, Preprocess())
    same = [torch.allclose(o, p, atol=1e-5) for o, p in zip(out, plain)]
    mirrored = [torch.allclose(o, p.flip(-1), atol=1e-5) for o, p in zip(out, plain)]
    assert all(s != m for s, m in zip(same, mirrored))  # each face is exactly one of the two
    assert 8 <= sum(mirrored) <= 24


# --- the network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("preset, conv1_input_side", [("paper", 96), ("cpu", 48)])
def test_emotion_net_gives_logits_and_512_d_embeddings(preset, conv1_input_side):
    net = EmotionNet(PRESETS[preset].config).eval()
    seen = []
    net.backbone.conv1.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    faces = torch.from_numpy(Preprocess()(uint8_faces(3).numpy()))
    with torch.no_grad():
        logits, embedding = net(faces), net.embed(faces)
    assert logits.shape == (3, len(FER2013_LABELS)) and embedding.shape == (3, 512)
    assert torch.isfinite(logits).all()
    # paper: faces enlarged 48 -> 96 inside the network (upsample 2); cpu: the 3x3 stem sees 48x48.
    assert seen[0] == (3, 1, conv1_input_side, conv1_input_side)


def test_paper_network_has_about_11_million_parameters():
    count = count_parameters(EmotionNet(PRESETS["paper"].config))
    assert 10_500_000 < count < 11_500_000, count


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def only_train_command(monkeypatch):
    """Build the real CLI with just `train`, so these tests do not depend on the other commands."""
    monkeypatch.setattr("emocap.cli.COMMANDS", ("train",))


def test_cli_train_writes_a_run(tiny_fer, tmp_path, capsys, only_train_command):
    out = tmp_path / "run"
    argv = ["train", "--data", str(tiny_fer), "--preset", "cpu-quick", "--epochs", "1", "--batch-size", "8"]
    assert main([*argv, "--out", str(out)]) == 0
    assert cv2.imread(str(out / "curves.png")) is not None
    assert TrainConfig.load(out / "config.json") == resolve_preset("cpu-quick", epochs=1, batch_size=8)
    assert [row["epoch"] for row in read_curves(out)] == [1]
    assert {p.name for p in out.iterdir()} == {"config.json", "curves.csv", "curves.png", "last.pt", "best.pt"}
    assert capsys.readouterr().out.splitlines()[-1].startswith("done: 1 epochs")


def test_cli_train_reports_an_unknown_preset_in_one_line(tiny_fer, tmp_path, capsys, only_train_command):
    code = main(["train", "--data", str(tiny_fer), "--preset", "huge", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [err.strip()] and err.startswith("emocap train: error: unknown preset 'huge'")
    assert not (tmp_path / "run").exists()


def assert_one_line_train_error(err: str, *fragments: str) -> None:
    assert err.splitlines() == [err.strip()] and err.startswith("emocap train: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize("make_out", [lambda tmp: tmp / "a-file", lambda tmp: tmp / "a-file" / "run"])
def test_cli_train_reports_an_unwritable_run_folder_in_one_line(make_out, tiny_fer, tmp_path, capsys, only_train_command):
    (tmp_path / "a-file").write_text("not a folder")
    out = make_out(tmp_path)
    code = main(["train", "--data", str(tiny_fer), "--preset", "cpu-quick", "--batch-size", "8", "--out", str(out)])
    assert code == 2
    assert_one_line_train_error(capsys.readouterr().err, "run folder", repr(str(out)))
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_cli_train_with_missing_data_leaves_no_run_folder(tmp_path, capsys, only_train_command):
    missing = tmp_path / "no-fer"
    code = main(["train", "--data", str(missing), "--preset", "cpu-quick", "--out", str(tmp_path / "run")])
    assert code == 2
    assert_one_line_train_error(capsys.readouterr().err, repr(str(missing)))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["foo", "gpu", "cuda:x", "cuda:-1", "cpu:0", ""])
def test_pick_device_refuses_unknown_names_quoting_them(name):
    from emocap.training.trainer import pick_device

    with pytest.raises(ValueError, match="unknown device") as error:
        pick_device(name)
    assert repr(name) in str(error.value)


def test_pick_device_accepts_auto_and_cpu():
    from emocap.training.trainer import pick_device

    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda")


def test_precision_auto_takes_bf16_on_cpus_with_bf16_in_hardware_only():
    from emocap.onnx_session import cpu_features
    from emocap.training.trainer import uses_bf16

    cpu = torch.device("cpu")
    assert uses_bf16("auto", cpu) == cpu_features().bf16
    assert uses_bf16("bf16", cpu) and not uses_bf16("fp32", cpu)
    with pytest.raises(ValueError, match="'fp16'"):
        uses_bf16("fp16", cpu)


def test_precision_reaches_the_training_steps_and_a_run_resumes_with_another(tiny_run, tiny_fer, tiny_config, tmp_path):
    epochs = {}
    for precision in ("fp32", "bf16"):
        out = copy_run(tiny_run[0], tmp_path / precision)
        summary = train(tiny_config, tiny_fer, out, device="cpu", precision=precision, progress=False, resume=True)
        assert summary.epochs_done == tiny_config.epochs
        epochs[precision] = read_curves(out)[-1]
    assert np.isfinite(epochs["bf16"]["train_loss"])
    assert epochs["bf16"]["train_loss"] != epochs["fp32"]["train_loss"]


def test_cli_train_reports_an_unknown_device_in_one_line(tiny_fer, tmp_path, capsys, only_train_command):
    code = main(["train", "--data", str(tiny_fer), "--device", "foo", "--out", str(tmp_path / "run")])
    assert code == 2
    assert_one_line_train_error(capsys.readouterr().err, "unknown device 'foo'")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "option, value",
    [
        ("--limit-train", "-5"), ("--limit-train", "0"), ("--epochs", "0"), ("--epochs", "1.5"),
        ("--batch-size", "1"), ("--lr", "0"), ("--lr", "nan"), ("--seed", "-1"),
        ("--max-minutes", "-1"), ("--max-minutes", "inf"),
    ],
)
def test_cli_train_number_options_are_checked_at_parse_time(option, value, tiny_fer, tmp_path, capsys, only_train_command):
    with pytest.raises(SystemExit) as caught:
        main(["train", "--data", str(tiny_fer), option, value, "--out", str(tmp_path / "run")])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and repr(value) in err
    assert not (tmp_path / "run").exists()


def test_max_minutes_zero_is_accepted_and_means_one_epoch(only_train_command):
    """0 is what tiny_run uses: stop at the end of the first epoch (the run above shows it does)."""
    from emocap.cli import build_parser

    args = build_parser().parse_args(["train", "--data", "fer", "--max-minutes", "0"])
    assert args.max_minutes == 0


@pytest.mark.parametrize("extra, faces", [(["--limit-train", "4"], 4), ([], 14)])
def test_cli_train_refuses_a_training_set_smaller_than_one_batch(extra, faces, tiny_fer, tmp_path, capsys, only_train_command):
    """14 faces in tiny_fer: with fewer than one batch an epoch has no step, its loss is NaN and best.pt untrained."""
    batch = "8" if extra else "16"
    argv = ["train", "--data", str(tiny_fer), "--preset", "cpu-quick", "--batch-size", batch, *extra]
    code = main([*argv, "--out", str(tmp_path / "run")])
    assert code == 2
    assert_one_line_train_error(capsys.readouterr().err, f"{faces} training faces are fewer than one batch of {batch}")
    assert not (tmp_path / "run").exists()


def test_train_refuses_a_limit_below_one(tiny_fer, tiny_config, tmp_path):
    with pytest.raises(ValueError, match="limit_train must be at least 1, got 0"):
        train(tiny_config, tiny_fer, tmp_path / "run", device="cpu", progress=False, limit_train=0)
    assert not (tmp_path / "run").exists()


def test_cli_train_help_describes_every_preset_and_gives_runnable_examples(capsys, only_train_command):
    with pytest.raises(SystemExit) as caught:
        main(["train", "--help"])
    assert caught.value.code == 0
    help_text = capsys.readouterr().out
    described = {line.split()[0] for line in help_text.split("presets (")[1].split("\n\n")[0].splitlines()[1:]
                 if line.startswith("  ") and not line.startswith("   ")}
    assert described == set(PRESETS)
    export_examples = [line for line in help_text.splitlines() if line.strip().startswith("emocap export ")]
    assert export_examples and all("--data " in line for line in export_examples)  # export requires --data


def test_print_config_shows_the_resolved_config_without_data_or_training(tmp_path, capsys, only_train_command):
    assert main(["train", "--preset", "fer-best", "--lr", "0.02", "--eval-every", "3", "--print-config"]) == 0
    printed = TrainConfig.from_dict(json.loads(capsys.readouterr().out))
    assert printed == resolve_preset("fer-best", lr=0.02, eval_every=3)
    assert not (tmp_path / "runs").exists()


def test_train_without_data_says_it_is_needed_in_one_line(capsys, only_train_command):
    assert main(["train", "--preset", "fer-best"]) == 2
    assert capsys.readouterr().err.strip() == (
        "emocap train: error: --data is required: the FER2013 folder, CSV or pack to train on")


# --- starting from another run's weights ---------------------------------------------------------


def test_init_from_starts_from_the_checkpoints_weights_and_records_it(tiny_run, tiny_fer, tiny_config, tmp_path):
    start = tiny_run[0] / "best.pt"
    # A learning rate too small to move any weight: the network after one epoch is the one it started from.
    config = dataclasses.replace(tiny_config, epochs=1, lr=1e-12, init_from=str(start))
    train(config, tiny_fer, tmp_path / "second", device="cpu", progress=False)
    before = torch.load(start, weights_only=False)["model"]
    after = torch.load(tmp_path / "second" / "best.pt", weights_only=False)["model"]
    conv_weights = [name for name in before if name.endswith("conv1.weight")]
    assert conv_weights
    for name in conv_weights:
        torch.testing.assert_close(after[name], before[name], atol=1e-6, rtol=0)
    assert json.loads((tmp_path / "second" / "config.json").read_text())["init_from"] == str(start)


def test_init_from_a_missing_or_other_network_is_a_one_line_error(tiny_run, tiny_fer, tiny_config, tmp_path, capsys):
    other_network = dataclasses.replace(tiny_config, stem="fer", epochs=1, init_from=str(tiny_run[0] / "best.pt"))
    with pytest.raises(ValueError, match="holds another network"):
        train(other_network, tiny_fer, tmp_path / "a", device="cpu", progress=False)
    code = main(["train", "--preset", "cpu-quick", "--data", str(tiny_fer), "--out", str(tmp_path / "b"),
                 "--batch-size", "8", "--init-from", str(tmp_path / "missing.pt")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no such file" in err and "missing.pt" in err


def test_a_resnet10_student_starts_from_the_first_block_of_each_resnet18_stage(tiny_run, tiny_fer, tiny_config, tmp_path):
    start = tiny_run[0] / "best.pt"
    student = dataclasses.replace(tiny_config, arch="resnet10", epochs=1, lr=1e-12, init_from=str(start))
    train(student, tiny_fer, tmp_path / "student", device="cpu", progress=False)
    teacher = torch.load(start, weights_only=False)["model"]
    learned = torch.load(tmp_path / "student" / "best.pt", weights_only=False)["model"]
    assert not any(name.startswith(f"backbone.layer{stage}.1.") for name in learned for stage in range(1, 5))
    for name in ("backbone.conv1.weight", "backbone.layer3.0.conv2.weight", "backbone.layer4.0.downsample.0.weight",
                 "head.weight"):
        torch.testing.assert_close(learned[name], teacher[name], atol=1e-6, rtol=0)
    # The other way round, ResNet18 from ResNet10, the second blocks have nothing to start from.
    back = dataclasses.replace(tiny_config, epochs=1, init_from=str(tmp_path / "student" / "best.pt"))
    with pytest.raises(ValueError, match=r"holds another network: it has no 'backbone\.layer1\.1\."):
        train(back, tiny_fer, tmp_path / "back", device="cpu", progress=False)


@pytest.mark.parametrize("views", ["same", "mirrored"])
def test_a_same_view_teacher_scores_each_augmented_batch_the_student_is_shown(views, tiny_run, tiny_fer, tiny_config,
                                                                             tmp_path, monkeypatch):
    """--teacher-views same: the teacher's share of each target is its belief about that very batch (corrupted,
    cropped, flipped as the student sees it), and the label takes the rest; mirrored: its belief about each of
    those faces averaged with its mirror image."""
    import timm.loss

    from emocap.datasets import load_fer2013
    from emocap.training import trainer
    from emocap.training.export import load_checkpoint

    teacher_path = tiny_run[0] / "best.pt"
    config = dataclasses.replace(tiny_config, arch="resnet10", epochs=1, mix_prob=0.0, label_smoothing=0.0,
                                 corruption_prob=1.0, teachers=(str(teacher_path),), teacher_weight=0.6,
                                 teacher_views=views, init_from=str(teacher_path))
    taught, shown, targets = [], [], []
    teach = trainer._teacher_probabilities
    monkeypatch.setattr(trainer, "_teacher_probabilities",
                        lambda network, x: taught.append((x.clone(), teach(network, x))) or taught[-1][1])
    loss = timm.loss.SoftTargetCrossEntropy.forward
    monkeypatch.setattr(timm.loss.SoftTargetCrossEntropy, "forward",
                        lambda self, logits, target: targets.append(target.clone()) or loss(self, logits, target))
    original_build = trainer._build_network

    def build_and_watch(*args):
        network = original_build(*args)
        network.model.register_forward_pre_hook(lambda module, inputs: shown.append(inputs[0].clone()))
        return network

    monkeypatch.setattr(trainer, "_build_network", build_and_watch)
    train(config, tiny_fer, tmp_path / "student", device="cpu", progress=False)
    batches = len(taught)
    assert batches == 1 and len(targets) == batches  # 14 faces in batches of 8
    torch.testing.assert_close(shown[0], taught[0][0])  # the training batch, before the test set is scored
    teacher, _, _, _ = load_checkpoint(teacher_path)
    train_faces = load_fer2013(tiny_fer, "train")
    faces = taught[0][0]
    with torch.no_grad():
        logits = teacher(faces)
        if views == "mirrored":  # the head is linear: averaged embeddings, averaged logits
            logits = (logits + teacher(faces.flip(3))) / 2
            assert not torch.allclose(logits, teacher(faces), atol=1e-4, rtol=0)  # so the check below tells them apart
        expected = logits.softmax(1)
        # Exactly, in fp32 outside the training steps' autocast: the mirror image is the width flipped.
        teacher_network = trainer.teacher_network(config, str(teacher_path), Preprocess())
        torch.testing.assert_close(teacher_network(faces)[0], logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(taught[0][1], expected, atol=2e-2, rtol=0)  # bf16 or fp32, as the steps run
    label_share = targets[0] - 0.6 * taught[0][1]
    assert torch.allclose(label_share.sum(1), torch.full((8,), 0.4), atol=1e-5)
    assert ((label_share > 1e-5).sum(1) == 1).all()  # the rest is one hard label a face
    with pytest.raises(ValueError, match=r"teacher '.*best\.pt' names classes \['angry'.*'surprise'\], the model "
                                         r"trains \['angry'.*'contempt'\]"):
        trainer.teacher_network(dataclasses.replace(config, labels="ferplus"), str(teacher_path), Preprocess())
    with pytest.raises(ValueError, match=r"reads other input .*check --lift-light"):
        trainer.teacher_network(config, str(teacher_path), Preprocess(lift_to=FER2013_FACE_LIGHT))


def test_an_ensemble_of_same_view_teachers_teaches_their_averaged_probabilities(tiny_run, tiny_fer, tiny_config,
                                                                                 tmp_path, monkeypatch):
    """Two --teacher checkpoints: each scores the batch the student is shown, and the teachers' share of the
    target is the mean of their probabilities (an ensemble's belief, as benchmarks/ensemble.py scores it)."""
    from emocap.datasets import load_fer2013
    from emocap.training import trainer

    first = tiny_run[0] / "best.pt"
    state = torch.load(first, weights_only=False)
    state["model"] = {name: -value if name.startswith("head.") else value for name, value in state["model"].items()}
    second = tmp_path / "negated-head.pt"
    torch.save(state, second)
    config = dataclasses.replace(tiny_config, epochs=1, mix_prob=0.0, teachers=(str(first), str(second)),
                                 teacher_weight=0.6, teacher_views="same")
    train_faces = load_fer2013(tiny_fer, "train")
    networks = [trainer.teacher_network(config, str(path), Preprocess()) for path in (first, second)]
    faces = to_model_input(torch.from_numpy(train_faces.images[:8]), Preprocess())
    with torch.no_grad():
        each = [network(faces)[0].softmax(1) for network in networks]
    assert not torch.allclose(each[0], each[1], atol=1e-3, rtol=0)  # two teachers that disagree
    ensemble = trainer._Network(*[None] * 6, bf16=False, teachers=tuple(networks))
    torch.testing.assert_close(trainer._teacher_probabilities(ensemble, faces), (each[0] + each[1]) / 2,
                               atol=1e-6, rtol=0)

    seen = []
    teach = trainer._teacher_probabilities
    monkeypatch.setattr(trainer, "_teacher_probabilities",
                        lambda network, x: seen.append(len(network.teachers)) or teach(network, x))
    train(config, tiny_fer, tmp_path / "student", device="cpu", progress=False)
    assert seen == [2]
    saved = json.loads((tmp_path / "student" / "config.json").read_text())
    assert saved["teachers"] == [str(first), str(second)]


def test_an_exported_teacher_scores_augmented_batches_as_its_float_network_does(tiny_run, tiny_fer, tiny_config,
                                                                                tmp_path):
    """--teacher model.onnx with --teacher-views same or mirrored: ONNX Runtime runs the graph on each augmented
    batch; an fp32 export gives the float network's logits (one view under --teacher-views same, even from a
    mirror-averaged graph), and --teacher-views mirrored refuses a graph that sees each face alone rather than
    silently teaching one view. A run taught so trains."""
    from emocap.datasets import load_fer2013
    from emocap.training import trainer
    from emocap.training.export import export_onnx, load_checkpoint

    checkpoint = tiny_run[0] / "best.pt"
    train_faces = load_fer2013(tiny_fer, "train")
    for mirror in (False, True):
        export_onnx(checkpoint, tmp_path / f"mirror-{mirror}.onnx", sample_faces=train_faces.images[:4], mirror=mirror)
    network, _, _, _ = load_checkpoint(checkpoint)
    faces = BatchAugment(dataclasses.replace(tiny_config, corruption_prob=1.0), Preprocess())(
        torch.from_numpy(train_faces.images[:8]), torch.Generator().manual_seed(0))
    with torch.no_grad():
        one_view, mirrored = network(faces), (network(faces) + network(faces.flip(3))) / 2
    for views, graph, expected in [("same", "mirror-False", one_view), ("same", "mirror-True", one_view),
                                   ("mirrored", "mirror-True", mirrored)]:
        config = dataclasses.replace(tiny_config, mix_prob=0.0, teachers=(str(tmp_path / f"{graph}.onnx"),),
                                     teacher_weight=0.5, teacher_views=views)
        teacher = trainer.teacher_network(config, config.teachers[0], Preprocess())
        torch.testing.assert_close(teacher(faces)[0], expected, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match=r"teacher '.*mirror-False\.onnx' sees each face alone \(exported without "
                                         r"--mirror\): --teacher-views mirrored needs"):
        trainer.teacher_network(dataclasses.replace(config, teachers=(str(tmp_path / "mirror-False.onnx"),)),
                                 str(tmp_path / "mirror-False.onnx"), Preprocess())
    with pytest.raises(ValueError, match=r"teacher '.*' names classes .* the model trains \['angry'.*'contempt'\]"):
        trainer.teacher_network(dataclasses.replace(config, labels="ferplus"), config.teachers[0], Preprocess())
    summary = train(dataclasses.replace(config, epochs=1), tiny_fer, tmp_path / "taught", device="cpu", progress=False)
    assert summary.epochs_done == 1


def test_clean_view_teachers_score_the_faces_once_averaged_and_cached_under_their_names(tiny_fer, tiny_config,
                                                                                       tmp_path):
    from emocap.classifier import NAMED_MODELS, EmotionClassifier
    from emocap.datasets import load_fer2013
    from emocap.training import trainer

    data = load_fer2013(tiny_fer, "train")
    pair = (str(NAMED_MODELS["standard"]), str(NAMED_MODELS["fast"]))
    each = [EmotionClassifier(path).predict(data.images) for path in pair]
    config = dataclasses.replace(tiny_config, mix_prob=0.0, label_smoothing=0.0, teachers=pair, teacher_weight=0.5)
    targets = trainer._soft_targets(config, data, FER2013_LABELS, None, tmp_path)
    hard = np.eye(7, dtype=np.float32)[data.labels]
    np.testing.assert_allclose(targets, 0.5 * hard + 0.5 * (each[0] + each[1]) / 2, atol=1e-6)
    with np.load(tmp_path / "teacher_probs.npz") as cached:
        assert tuple(cached["teachers"]) == pair
    # The same folder, another teacher: its own probabilities, not the cached pair's.
    alone = dataclasses.replace(config, teachers=pair[1:])
    np.testing.assert_allclose(trainer._soft_targets(alone, data, FER2013_LABELS, None, tmp_path),
                               0.5 * hard + 0.5 * each[1], atol=1e-6)


def test_each_epoch_line_says_about_how_long_the_epochs_left_will_take():
    from emocap.training.trainer import _epoch_line

    row = {"epoch": 27, "train_loss": 1.3, "train_acc": 0.63, "test_acc": 0.68, "public_acc": 0.67,
           "private_acc": 0.69, "seconds": 615.6}
    history = [{"seconds": s} for s in (310.0, 305.0, 615.6)]  # one epoch slowed by other work beside it
    assert _epoch_line(row, 60, history).endswith("(615.6s; epoch 60 in about 2 h 50 min)")  # 33 x 310 s
    assert _epoch_line({**row, "epoch": 59}, 60, history).endswith("(615.6s; epoch 60 in about 5 min)")
    assert _epoch_line({**row, "epoch": 60}, 60, history).endswith("private 0.6900  (615.6s)")
    assert _epoch_line({**row, "epoch": 1, "test_acc": float("nan")}, 2, [row]).endswith(
        "train 0.630  (615.6s; epoch 2 in about 10 min)")


def test_votes_weight_on_the_command_line_overrides_the_presets(tiny_fer, tmp_path, capsys):
    code = main(["train", "--preset", "student", "--data", str(tiny_fer), "--out", str(tmp_path / "run"),
                 "--votes", str(tmp_path / "votes.csv"), "--teacher", "builtin", "--votes-weight", "0.9"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "teacher_weight" in err  # 0.9 + the teacher's 0.5 > 1


def test_teacher_weight_and_corruption_share_on_the_command_line_override_the_presets(tiny_fer, tmp_path, capsys):
    code = main(["train", "--preset", "cpu-quick", "--data", str(tiny_fer), "--out", str(tmp_path / "run"),
                 "--epochs", "1", "--batch-size", "8", "--corruption-share", "0.6",
                 "--corruption-weight", "motion_blur=3", "--corruption-weight", "dark=0"])
    assert code == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["corruption_prob"] == 0.6 and saved["preset"] == "cpu-quick"
    assert saved["corruption_weights"] == [["motion_blur", 3], ["dark", 0]]
    assert TrainConfig.load(tmp_path / "run" / "config.json").corruption_weights == (("motion_blur", 3), ("dark", 0))
    capsys.readouterr()
    code = main(["train", "--preset", "student", "--data", str(tiny_fer), "--out", str(tmp_path / "other"),
                 "--votes", str(tmp_path / "votes.csv"), "--teacher", "builtin", "--teacher-views", "clean",
                 "--votes-weight", "0.2", "--teacher-weight", "0.9"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "0.9" in err and "at most 0.8 beside the votes' 0.2" in err


def test_batch_augment_lifts_dim_faces_as_run_time_does():
    plain = dataclasses.replace(PRESETS["paper"].config, **NO_AUGMENTATION)
    preprocess = Preprocess(lift_to=FER2013_FACE_LIGHT)
    faces = (uint8_faces().float() * 0.3).round().to(torch.uint8)
    out = BatchAugment(plain, preprocess)(faces, torch.Generator().manual_seed(0))
    expected = torch.from_numpy(preprocess(faces.numpy()))  # the NumPy twin used at run time
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(to_model_input(faces, preprocess), expected, atol=1e-4, rtol=0)
    assert not torch.allclose(out, to_model_input(faces, Preprocess()), atol=0.1)
