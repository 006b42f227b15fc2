"""emocap.training.interpolation and `emocap interpolate`: the rules it chooses by decide which weights
could ship, and the whole step runs from a checkpoint to wise.pt."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from emocap.cli import main as emocap_main  # noqa: E402
from emocap.training import interpolation  # noqa: E402

FLOOR = {"accuracy": 0.66, "macro_f1": 0.63, "recall_fear": 0.40, "recall_disgust": 0.53}


def row(alpha, accuracy, mca, fear=0.45):
    scores = {"accuracy": accuracy, "macro_f1": 0.64, "recall_fear": fear, "recall_disgust": 0.55}
    return {"alpha": alpha, "public": accuracy, "public_scores": scores, "public_c_mca": mca}


def test_the_most_robust_alpha_that_keeps_every_clean_score_is_chosen():
    rows = [row(0.4, 0.670, 0.580), row(0.6, 0.667, 0.601), row(0.8, 0.664, 0.602), row(1.0, 0.650, 0.640)]
    chosen, rule = interpolation.choose(rows, FLOOR)
    assert chosen["alpha"] == 0.8 and "fear and disgust" in rule  # 1.0 is more robust but less accurate
    chosen, rule = interpolation.choose(rows, FLOOR, mca_tolerance=0.005)
    assert chosen["alpha"] == 0.6 and "tie" in rule  # 0.1 points of mCA do not outweigh 0.3 of accuracy


def test_without_an_alpha_that_keeps_fear_recall_accuracy_alone_decides_eligibility():
    rows = [row(0.5, 0.665, 0.59, fear=0.30), row(0.9, 0.655, 0.63, fear=0.30)]
    chosen, rule = interpolation.choose(rows, FLOOR)
    assert chosen["alpha"] == 0.5 and rule.startswith("no alpha kept every clean score")


def test_when_no_alpha_keeps_even_accuracy_the_rule_says_none_is_eligible():
    rows = [row(0.6, 0.655, 0.59), row(0.8, 0.650, 0.60)]
    chosen, rule = interpolation.choose(rows, FLOOR)
    assert chosen["alpha"] == 0.8 and "none is eligible" in rule and "at least the base's" not in rule


@pytest.mark.slow  # fits offsets over a ResNet18's outputs
def test_logit_offsets_give_fear_and_disgust_back_their_recall():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 2000)
    logits = rng.normal(size=(2000, 7))
    logits[np.arange(2000), labels] += 1.5
    logits[:, [1, 2]] -= 1.0  # disgust and fear under-predicted
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)

    def recall(scores, k):
        return float(((scores.argmax(1) == k) & (labels == k)).sum() / (labels == k).sum())

    floor = {"recall_fear": 0.6, "recall_disgust": 0.6}
    assert recall(probs, 2) < 0.6 and recall(probs, 1) < 0.6
    offsets = interpolation.fit_logit_offsets(probs, labels, floor)
    adjusted = np.log(probs) + offsets
    assert recall(adjusted, 2) >= 0.6 and recall(adjusted, 1) >= 0.6
    assert offsets[[0, 3, 4, 5, 6]].tolist() == [0] * 5 and offsets[1] > 0 and offsets[2] > 0
    # Nothing to give back: offsets only where they add accuracy (zeros are on the grid, so never less).
    free = interpolation.fit_logit_offsets(probs, labels, {"recall_fear": 0, "recall_disgust": 0})
    assert ((np.log(probs) + free).argmax(1) == labels).mean() >= (probs.argmax(1) == labels).mean()


def test_each_alpha_mixes_from_the_base_not_from_the_alpha_before():
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    base = interpolation.copy_of_weights(net)
    original = {name: value.clone() for name, value in base.items()}
    tuned = {name: value + 1 if value.is_floating_point() else value + 5 for name, value in base.items()}
    for alpha in (0.5, 0.8):  # as interpolate() does: each mix loaded into the same network, one after the other
        net.load_state_dict(interpolation.mix_weights(base, tuned, alpha))
        with torch.no_grad():
            net[0].bias += 10  # what adjust_logits does to the head
    assert all(torch.equal(base[name], original[name]) for name in base)
    assert torch.allclose(net[0].weight, original["0.weight"] + 0.8)
    assert torch.allclose(net[0].bias, original["0.bias"] + 0.8 + 10)  # one alpha's offsets, not both
    assert int(net[1].num_batches_tracked) == int(original["1.num_batches_tracked"]) + 5


@pytest.fixture(scope="module")
def tuned_builtin(tmp_path_factory, tiny_fer):
    """A checkpoint of the built-in model's own network with its weights moved a little: a stand-in
    for a fine-tuned copy, of the same architecture as the base."""
    import torch

    from emocap.classifier import BUILTIN_MODEL
    from emocap.datasets import load_fer2013
    from emocap.training.from_onnx import emotion_net_from_onnx
    from emocap.training.trainer import save_checkpoint

    net, config, _, _ = emotion_net_from_onnx(BUILTIN_MODEL, load_fer2013(tiny_fer, "train").images)
    generator = torch.Generator().manual_seed(0)
    weights = {name: value + 0.01 * torch.randn(value.shape, generator=generator)
               if value.is_floating_point() else value for name, value in net.state_dict().items()}
    path = tmp_path_factory.mktemp("tuned") / "best.pt"
    save_checkpoint(path, {"config": config.to_json(), "model": weights})
    return path


@pytest.mark.slow  # scores a ResNet18 on FER2013-C faces
def test_the_command_scores_each_alpha_and_writes_the_chosen_weights_for_export(tiny_fer, tuned_builtin, tmp_path,
                                                                               capsys):
    out = tmp_path / "wise"
    assert emocap_main(["interpolate", "--tuned", str(tuned_builtin), "--data", str(tiny_fer), "--out", str(out),
                        "--alphas", "0", "1", "--corruption-faces", "7", "--calibration-faces", "14"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("base (alpha 0): PublicTest") and "alpha 1.00" in printed and "chosen: alpha" in printed
    table = json.loads((out / "interpolation.json").read_text())
    assert [row["alpha"] for row in table["rows"]] == [0.0, 1.0] and table["chosen_alpha"] in (0.0, 1.0)
    from emocap.training.model import read_checkpoint

    wise = read_checkpoint(out / "wise.pt")
    assert wise["interpolation"]["alpha"] == table["chosen_alpha"] and wise["interpolation"]["tuned"] == str(tuned_builtin)


@pytest.mark.parametrize("options, message", [
    (["--alphas", "1.5"], "expected a number in 0..1, got '1.5'"),
    (["--base", "no-such-model.onnx"], "--base model not found: 'no-such-model.onnx'"),
])
def test_a_bad_alpha_or_a_missing_base_is_refused_in_one_line(tiny_fer, tmp_path, capsys, options, message):
    argv = ["interpolate", "--tuned", str(tmp_path / "best.pt"), "--data", str(tiny_fer), "--out", str(tmp_path / "o")]
    try:
        status = emocap_main(argv + options)
    except SystemExit as exit:  # argparse's usage errors
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_base_of_float_weights_is_taken_as_it_is_and_another_file_is_refused(tiny_fer, tmp_path):
    """--base best.pt: the checkpoint's own weights, not a network rebuilt from an int8 graph."""
    import torch

    from emocap.classifier import BUILTIN_MODEL
    from emocap.datasets import load_fer2013
    from emocap.training.from_onnx import emotion_net_from_onnx
    from emocap.training.interpolation import base_network
    from emocap.training.trainer import save_checkpoint

    faces = load_fer2013(tiny_fer, "train").images
    net, config, preprocess, _ = emotion_net_from_onnx(BUILTIN_MODEL, faces)
    weights = {name: value + 0.01 if value.is_floating_point() else value for name, value in net.state_dict().items()}
    save_checkpoint(tmp_path / "best.pt", {"config": config.to_json(), "model": weights,
                                           "preprocess": preprocess.to_json()})
    base, base_input = base_network(tmp_path / "best.pt", faces)
    assert base_input == preprocess
    assert all(torch.equal(value, weights[name]) for name, value in base.state_dict().items())
    torch.save({"model": weights}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"'.*other\.pt' is not an emocap training checkpoint"):
        base_network(tmp_path / "other.pt", faces)
