"""Training on votes, from a shipped ONNX model, with webcam corruptions: targets, the rebuilt network, the augmentation."""

import dataclasses

import numpy as np
import pytest
from fer_fixtures import votes_for, write_labels_csv

torch = pytest.importorskip("torch")

from emocap.datasets import FerData, load_fer2013  # noqa: E402
from emocap.labels import FER2013_LABELS, FERPLUS_LABELS  # noqa: E402
from emocap.training.augment import WebcamCorruptions  # noqa: E402
from emocap.training.config import TrainConfig  # noqa: E402
from emocap.training.targets import TargetRecipe, emotion_majority, relabel_by_votes, soft_targets, vote_distribution  # noqa: E402
from emocap.training.trainer import train  # noqa: E402
from emocap.votes import VOTE_COLUMNS, Votes  # noqa: E402

pytestmark = pytest.mark.slow  # training runs


def test_vote_shares_and_majorities_over_a_models_classes():
    votes = np.array([
        votes_for("happiness", 6, surprise=2, contempt=2),
        votes_for("unknown", 6, anger=4),
        votes_for("contempt", 7, neutral=3),
        [np.nan] * len(VOTE_COLUMNS),
    ], dtype=np.float64)
    shares, has = vote_distribution(votes, FER2013_LABELS)
    assert has.tolist() == [True, True, True, False]
    assert shares[0, FER2013_LABELS.index("happy")] == pytest.approx(0.75)  # contempt's 2 votes are not the model's
    assert shares[2, FER2013_LABELS.index("neutral")] == pytest.approx(1.0)
    majority, valid = emotion_majority(votes, FERPLUS_LABELS)
    # unknown wins the second face and the fourth has no votes: the FER+ protocol leaves both out
    assert valid.tolist() == [True, False, True, False]
    assert [FERPLUS_LABELS[i] for i in majority[valid]] == ["happy", "contempt"]
    assert emotion_majority(votes, FER2013_LABELS)[1].tolist() == [True, False, False, False]


def test_soft_targets_mix_label_votes_and_teacher_by_their_weights():
    data = FerData(np.zeros((2, 48, 48), np.uint8), np.array([3, 0]), ("train/happy/a.jpg", "train/angry/b.jpg"))
    votes = Votes({"happy/a.jpg": np.array(votes_for("surprise"), np.int64), "angry/b.jpg": None}, "test")
    teacher = np.full((2, 7), 1 / 7, np.float32)
    recipe = TargetRecipe(FER2013_LABELS, votes_weight=0.25, teacher_weight=0.25)
    targets = soft_targets(data, recipe, votes, teacher)
    assert targets.sum(axis=1) == pytest.approx([1, 1])
    happy, surprise, angry = (FER2013_LABELS.index(name) for name in ("happy", "surprise", "angry"))
    assert targets[0, happy] == pytest.approx(0.5 + 0.25 / 7)
    assert targets[0, surprise] == pytest.approx(0.25 + 0.25 / 7)
    assert targets[1, angry] == pytest.approx(0.75 + 0.25 / 7)  # no votes: its own label takes their share
    ferplus = soft_targets(data, TargetRecipe(FERPLUS_LABELS, ferplus_target="probability"), votes)
    assert ferplus[0].tolist() == pytest.approx(np.eye(8)[FERPLUS_LABELS.index("surprise")].tolist())


@pytest.mark.parametrize("family", WebcamCorruptions.FAMILIES)
def test_each_webcam_corruption_changes_faces_within_range_and_repeats_with_its_seed(family):
    faces = torch.from_numpy(np.random.default_rng(0).uniform(0.2, 0.8, (6, 1, 48, 48)).astype(np.float32))
    corrupt = WebcamCorruptions(1.0)
    index = WebcamCorruptions.FAMILIES.index(family)
    apply = getattr(corrupt, f"_{family}")
    out = apply(faces, torch.Generator().manual_seed(index)).clamp(0, 1)
    again = apply(faces, torch.Generator().manual_seed(index)).clamp(0, 1)
    assert out.shape == faces.shape and torch.equal(out, again)
    assert (out - faces).abs().mean() > 0.005, family
    assert WebcamCorruptions(0.0)(faces, torch.Generator().manual_seed(0)).equal(faces)


def test_corruption_weights_draw_families_by_their_counts_and_all_ones_is_the_unweighted_stream():
    faces = torch.from_numpy(np.random.default_rng(1).uniform(0.2, 0.8, (64, 1, 48, 48)).astype(np.float32))
    unweighted = WebcamCorruptions(0.7)(faces, torch.Generator().manual_seed(3))
    ones = WebcamCorruptions(0.7, {name: 1 for name in WebcamCorruptions.FAMILIES})
    assert torch.equal(ones(faces, torch.Generator().manual_seed(3)), unweighted)
    # Only dark light drawn: every face comes out as itself times one factor below 1.
    only_dark = WebcamCorruptions(1.0, {name: 0 for name in WebcamCorruptions.FAMILIES} | {"dark": 2})
    ratio = only_dark(faces, torch.Generator().manual_seed(3)) / faces
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio)) and (ratio < 1).all()
    weighted = WebcamCorruptions(1.0, {"motion_blur": 3})
    assert weighted.draws.tolist().count(WebcamCorruptions.FAMILIES.index("motion_blur")) == 3
    assert len(weighted.draws) == len(WebcamCorruptions.FAMILIES) + 2


@pytest.mark.parametrize("weights, quoted", [((("blur", 2),), "'blur'"), ((("dark", -1),), "-1"),
                                             (tuple((name, 0) for name in WebcamCorruptions.FAMILIES), "not all 0")])
def test_corruption_weights_outside_the_families_or_below_zero_are_refused_with_the_value(weights, quoted):
    with pytest.raises(ValueError, match=quoted):
        TrainConfig(corruption_weights=weights)


def test_a_model_rebuilt_from_its_onnx_gives_the_onnx_outputs_and_trains_from_there(tiny_run, tiny_fer, tiny_config, tmp_path):
    import onnxruntime as ort

    from emocap.training.export import export_onnx
    from emocap.training.from_onnx import emotion_net_from_onnx

    faces = load_fer2013(tiny_fer, "train").images
    onnx_path = tmp_path / "tiny.onnx"
    export_onnx(tiny_run[0] / "best.pt", onnx_path, sample_faces=faces[:4])
    net, config, preprocess, labels = emotion_net_from_onnx(onnx_path, faces)
    assert labels == FER2013_LABELS and config == tiny_config
    x = preprocess(faces)
    expected = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"faces": x})[0]
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(x)).numpy(), expected, atol=1e-4)
        # In training mode, on the faces its batch norms were measured on, it computes the same.
        np.testing.assert_allclose(net.train()(torch.from_numpy(x)).numpy(), expected, atol=1e-3)
    # An eight-class run starts from it: the seven classes keep their rows of the head.
    votes = tmp_path / "labels.csv"
    files = sorted(p.relative_to(tiny_fer) for p in tiny_fer.rglob("*.png"))
    write_labels_csv(votes, [(str(f), "x", votes_for("contempt" if i % 4 == 0 else "neutral", 8, happiness=2))
                             for i, f in enumerate(files)])
    ferplus = dataclasses.replace(tiny_config, preset="ferplus", labels="ferplus", votes=str(votes), mix_prob=0.0,
                                  init_from=str(onnx_path), corruption_prob=0.5, epochs=1)
    summary = train(ferplus, tiny_fer, tmp_path / "run", device="cpu", progress=False)
    state = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert summary.epochs_done == 1 and state["model"]["head.weight"].shape[0] == len(FERPLUS_LABELS)


def test_relabelled_faces_keep_only_an_emotion_majority(tiny_fer, tmp_path):
    data = load_fer2013(tiny_fer, "test")
    votes_path = write_labels_csv(tmp_path / "labels.csv", [
        (file, "x", votes_for("unknown" if i == 0 else "fear")) for i, file in enumerate(data.files)
    ])
    from emocap.votes import load_votes

    relabelled = relabel_by_votes(data, load_votes(votes_path), FERPLUS_LABELS)
    assert len(relabelled) == len(data) - 1 and set(relabelled.labels.tolist()) == {FERPLUS_LABELS.index("fear")}
    assert relabelled.labels_names == FERPLUS_LABELS


def test_presets_that_need_votes_or_a_teacher_say_so_in_one_line(tiny_fer, tmp_path, capsys):
    from emocap.cli import main

    assert main(["train", "--preset", "robust", "--data", str(tiny_fer), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--votes" in err
    with pytest.raises(ValueError, match="Mixup"):
        dataclasses.replace(__import__("emocap.training.config", fromlist=["PRESETS"]).PRESETS["ferplus"].config, mix_prob=0.5)
