"""FER+ votes: both file forms, matched to the faces as load_fer2013 names them, and scored."""

import csv
import math

import numpy as np
import pytest
from fer_fixtures import fer_csv_rows, votes_for, write_fer_csv, write_labels_csv

from emocap.datasets import load_fer2013
from emocap.errors import DataError
from emocap.labels import FER2013_LABELS
from emocap.votes import VOTE_COLUMNS, load_votes, vote_scores


def test_labels_csv_votes_are_found_by_folder_and_name_and_by_name_alone(tmp_path):
    path = write_labels_csv(tmp_path / "labels.csv", [
        ("train/neutral/Training_1.jpg", "Training", None),  # a twin without FER+ votes
        ("train/surprise/Training_1.jpg", "Training", votes_for("surprise", 7, happiness=3)),
        ("test/angry/PrivateTest_2.jpg", "PrivateTest", votes_for("anger", 6, sadness=4)),
    ])
    votes = load_votes(path)
    table = votes.for_files(("surprise/Training_1.jpg", "neutral/Training_1.jpg", "anger/PrivateTest_2.jpg", "x/y.jpg"))
    assert table[0].tolist() == votes_for("surprise", 7, happiness=3)
    assert np.isnan(table[1]).all() and np.isnan(table[3]).all()
    assert table[2].tolist() == votes_for("anger", 6, sadness=4)  # 'anger' folder: matched by its unique name


def write_fer2013new(path, usages: list[str]):
    """FER+'s own form: a row per row of fer2013.csv; row i voted for the emotion i % 8."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Usage", "Image name", *VOTE_COLUMNS])
        for index, usage in enumerate(usages):
            writer.writerow([usage, f"fer{index:07d}.png", *votes_for(VOTE_COLUMNS[index % 8])])
    return path


def test_fer2013new_csv_follows_the_original_row_for_row(tmp_path):
    rows = fer_csv_rows(1)
    original = write_fer_csv(tmp_path / "fer2013.csv", rows)
    new = write_fer2013new(tmp_path / "fer2013new.csv", [usage for _, _, usage in rows])
    votes = load_votes(new, original_csv=original)
    private = load_fer2013(original, "PrivateTest")
    table = votes.for_files(private.files)
    assert not np.isnan(table).any() and (table.sum(axis=1) == 10).all()
    first_private = [usage for _, _, usage in rows].index("PrivateTest")
    assert table[0].argmax() == first_private % 8  # the row of the same face


def test_fer2013new_csv_that_does_not_follow_the_original_is_one_line(tmp_path):
    rows = fer_csv_rows(1)
    original = write_fer_csv(tmp_path / "fer2013.csv", rows)
    new = write_fer2013new(tmp_path / "fer2013new.csv", [usage for _, _, usage in rows[:-1]])
    with pytest.raises(DataError, match=rf"has {len(rows) - 1} rows but .* has {len(rows)}: fer2013new.csv must follow"):
        load_votes(new, original_csv=original)
    shifted = write_fer2013new(tmp_path / "shifted.csv", [rows[-1][2]] + [usage for _, _, usage in rows[:-1]])
    with pytest.raises(DataError, match=r"shifted.csv:2: Usage 'PrivateTest' where .* says 'Training' on the same row"):
        load_votes(shifted, original_csv=original)
    with pytest.raises(DataError, match=r"is not a FER\+ votes file"):
        load_votes(original)


def test_vote_scores_by_hand():
    # Three faces: majority happy (model says happy), majority sad (model says angry, which got 4 votes),
    # majority unknown (left out of the majority accuracy).
    votes = np.array([votes_for("happiness", 8, surprise=2), votes_for("sadness", 6, anger=4),
                      votes_for("unknown", 7, neutral=3)], np.float64)
    probs = np.zeros((3, 7))
    probs[0, FER2013_LABELS.index("happy")] = 1
    probs[1, FER2013_LABELS.index("angry")] = 1
    probs[2, FER2013_LABELS.index("neutral")] = 1
    scores = vote_scores(probs, FER2013_LABELS, votes)
    assert scores["faces_with_votes"] == 3 and scores["faces_with_an_emotion_majority"] == 2
    assert scores["majority_accuracy"] == 0.5
    assert scores["majority_recall"] == {"happy": 1.0, "sad": 0.0}  # classes with no majority face are left out
    assert scores["human_agreement"] == 1.0  # 8, 4 and 3 votes for the model's top class
    expected_kl = np.mean([
        0.8 * math.log(0.8 / 1) + 0.2 * math.log(0.2 / 1e-6),
        0.6 * math.log(0.6 / 1e-6) + 0.4 * math.log(0.4 / 1),
        1.0 * math.log(1.0 / 1),
    ])
    assert scores["kl_divergence"] == pytest.approx(expected_kl, rel=1e-3)
    with pytest.raises(ValueError, match="no FER\\+ vote column for class name"):
        vote_scores(probs, ("a",) * 7, votes)


def test_evaluate_with_votes_reports_them_per_split(tmp_path, capsys, monkeypatch):
    """Votes that agree with the folders: the FER+ majority accuracy is the plain accuracy."""
    import json

    from model_fixtures import write_brightness_model, write_fake_fer

    from emocap.cli import main
    from emocap.votes import CLASS_OF_COLUMN

    monkeypatch.setattr("emocap.cli.COMMANDS", ("evaluate",))
    data, model = write_fake_fer(tmp_path / "fer"), write_brightness_model(tmp_path / "brightness.onnx")
    column_of = {name: column for column, name in CLASS_OF_COLUMN.items()}
    files = sorted(p.relative_to(data) for p in (data / "test").rglob("*.png"))
    write_labels_csv(tmp_path / "labels.csv", [
        (str(file), "PublicTest", votes_for(column_of[file.parent.name])) for file in files
    ])
    json_path = tmp_path / "e.json"
    assert main(["evaluate", "--data", str(data), "--model", str(model), "--votes", str(tmp_path / "labels.csv"),
                 "--no-plots", "--json", str(json_path)]) == 0
    splits = json.loads(json_path.read_text())["splits"]
    for split, scores in splits.items():
        assert scores["ferplus"]["faces_with_votes"] == scores["faces"]
        assert scores["ferplus"]["majority_accuracy"] == pytest.approx(scores["accuracy"]), split
    out = capsys.readouterr().out
    assert "FER+ votes (10 annotators a face)" in out and "PrivateTest  majority" in out
