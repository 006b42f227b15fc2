"""Faces as video shows them (issue 44's yardstick): each condition is repeatable, each severity does
what it says to a face, the scores pool as reported, and `emocap evaluate --wild` prints the table."""

import json
import math

import cv2
import numpy as np
import pytest
from fer_fixtures import smooth_faces

from emocap.corruption_families import WILD_CONDITIONS, WildCondition, check_training_ranges, wild_condition
from emocap.evaluation.corruptions import BOX_JITTER, SEVERITIES
from emocap.evaluation.wild import WILD, occluder_covers, wild_accuracy

FACES = smooth_faces(12, seed=44)
SIZE = 48


def same_face(face: np.ndarray, count: int = 8) -> np.ndarray:
    return np.repeat(face[None], count, axis=0)


def drawn_face(draw) -> np.ndarray:
    face = np.full((SIZE, SIZE), 30, np.uint8)
    draw(face)
    return face


@pytest.mark.parametrize("name", WILD)
def test_each_condition_is_repeatable_and_changes_with_the_seed(name):
    for severity in SEVERITIES:
        shown = WILD[name](FACES, severity, seed=3)
        assert shown.dtype == np.uint8 and shown.shape == FACES.shape
        np.testing.assert_array_equal(shown, WILD[name](FACES, severity, seed=3))  # the same every time
        assert not np.array_equal(shown, FACES)
    # small_soft draws nothing at random: a small face is the same small face whatever the seed.
    differs = not np.array_equal(WILD[name](FACES, 2, seed=3), WILD[name](FACES, 2, seed=4))
    assert differs == (name != "small_soft")


def test_the_conditions_are_the_tables_in_its_order():
    assert list(WILD) == [condition.name for condition in WILD_CONDITIONS]
    with pytest.raises(KeyError, match="no wild condition 'roll'; the conditions are yaw, tilt"):
        wild_condition("roll")


def test_a_training_range_must_be_wider_than_the_yardstick_on_both_sides():
    check_training_ranges(WILD_CONDITIONS)  # the table as it stands (checked at import too)
    drawn = [condition for condition in WILD_CONDITIONS if condition.drawn_in_training]
    for condition in drawn:  # once training draws a condition, none of its values may be a yardstick value
        for parameter, (low, high) in condition.training_ranges.items():
            values = {severity[parameter] for severity in condition.severities}
            assert low < min(values) and max(values) < high and not {low, high} & values
    yaw = wild_condition("yaw")

    def trained(ranges):
        return (WildCondition("yaw", yaw.description, yaw.severities, ranges),)

    distance = {"camera_distance": (2.0, 3.0)}
    check_training_ranges(trained({"yaw_degrees": (10, 60), **distance}))
    for same_edge in ({"yaw_degrees": (20, 60)}, {"yaw_degrees": (10, 50)}, {"yaw_degrees": (25, 40)}):
        with pytest.raises(ValueError, match="training's yaw_degrees range .* must be wider than the yardstick's 20-50"):
            check_training_ranges(trained({**same_edge, **distance}))
    with pytest.raises(ValueError, match="training draws 'pitch', which the yardstick does not set"):
        check_training_ranges(trained({"yaw_degrees": (10, 60), "pitch": (0, 10), **distance}))
    # A parameter left out would be drawn at the yardstick's one value.
    with pytest.raises(ValueError, match="yaw: training draws no range for camera_distance"):
        check_training_ranges(trained({"yaw_degrees": (10, 60)}))


def _bright_runs(profile: np.ndarray) -> list[float]:
    """Centres of the runs of a 1-D profile above its mid level."""
    above = profile > (profile.min() + profile.max()) / 2
    runs, start = [], None
    for index, on in enumerate([*above, False]):
        if on and start is None:
            start = index
        elif not on and start is not None:
            weights = profile[start:index]
            runs.append(float((np.arange(start, index) * weights).sum() / weights.sum()))
            start = None
    return runs


def test_yaw_narrows_the_face_and_its_far_half_more_with_each_severity():
    def stripes(face):
        for column in (8, 24, 40):  # the face's two sides and its middle
            face[:, column - 1 : column + 1] = 230

    halves = []
    for severity in SEVERITIES:
        for turned in WILD["yaw"](same_face(drawn_face(stripes), 4), severity, seed=0):
            left, middle, right = _bright_runs(turned[16:32].mean(axis=0))
            far, near = sorted((middle - left, right - middle))
            halves.append((severity, far, near))
    for severity in SEVERITIES:
        p = wild_condition("yaw").severities[severity - 1]
        sin, cos, distance = math.sin(math.radians(p["yaw_degrees"])), math.cos(math.radians(p["yaw_degrees"])), p["camera_distance"]
        # The sides (1/3 of the face from its middle) seen in perspective; the nearer edge keeps the crop's height.
        sides = [x * cos / (1 + x * sin / distance) for x in (-1 / 3, 1 / 3)]
        expected = SIZE * (sides[1] - sides[0]) * (1 - 0.5 * sin / distance)
        for _, far, near in [h for h in halves if h[0] == severity]:
            assert far + near == pytest.approx(expected, abs=1.5)
            assert far + near < 32 * cos  # narrower than the plane's foreshortening alone
    ratios = {s: np.mean([far / near for t, far, near in halves if t == s]) for s in SEVERITIES}
    assert 1 > ratios[1] > ratios[2] > ratios[3], ratios  # the far side compressed, more as the head turns
    assert ratios[3] < 0.8


def test_tilt_turns_a_level_line_by_the_tables_roll():
    def level_line(face):
        face[23:25, 8:40] = 230

    for severity in SEVERITIES:
        roll = wild_condition("tilt").severities[severity - 1]["roll_degrees"]
        for tilted in WILD["tilt"](same_face(drawn_face(level_line), 4), severity, seed=1):
            ys, xs = np.nonzero(tilted > 130)
            slope = np.polyfit(xs, ys, 1)[0]
            assert abs(math.degrees(math.atan(slope))) == pytest.approx(roll, abs=3)


def test_side_light_darkens_one_side_by_the_tables_ratio():
    flat = np.full((8, SIZE, SIZE), 200, np.uint8)
    for severity in SEVERITIES:
        ratio = wild_condition("side_light").severities[severity - 1]["light_ratio"]
        for lit in WILD["side_light"](flat, severity, seed=2).astype(float):
            left, right = lit[:, :4].mean(), lit[:, -4:].mean()
            assert max(left, right) / min(left, right) == pytest.approx(ratio, rel=0.2), severity
            assert max(left, right) > 190  # the lit side keeps its light


def test_warm_dim_light_is_darker_and_noisier_with_each_severity():
    flat = np.full((8, SIZE, SIZE), 160, np.uint8)
    means, noise = [], []
    for severity in SEVERITIES:
        p = wild_condition("warm_dim").severities[severity - 1]
        dim = WILD["warm_dim"](flat, severity, seed=5).astype(float)
        assert dim.mean() == pytest.approx(160 * p["exposure"] + p["veil"], abs=1)
        assert dim.std() == pytest.approx(p["noise_sigma"], rel=0.1)
        means.append(WILD["warm_dim"](FACES, severity, seed=5).mean())
        noise.append(dim.std())
    assert means[0] > means[1] > means[2] and noise[0] < noise[1] < noise[2]


def test_the_occluder_covers_the_tables_share_of_the_face_over_the_mouth_or_chin():
    for severity in SEVERITIES:
        area = wild_condition("occluder").severities[severity - 1]["area"]
        covers, hands = occluder_covers(16, SIZE, area, np.random.default_rng(severity))
        assert 0 < hands.sum() < 16  # hands and bars both
        np.testing.assert_allclose(covers.mean(axis=(1, 2)), area, atol=0.005)
        np.testing.assert_allclose((covers > 0.5).mean(axis=(1, 2)), area, atol=0.03)
        rows = np.arange(SIZE)[None, :, None]
        assert ((covers * rows).sum(axis=(1, 2)) / covers.sum(axis=(1, 2)) > 0.6 * SIZE).all()  # the lower face
        covered = WILD["occluder"](FACES, severity, seed=6)
        changed = (np.abs(covered.astype(int) - FACES) > 1).mean()
        assert area - 0.1 < changed <= area + 0.03


def _fine_detail(faces: np.ndarray) -> float:
    return float(np.mean([cv2.Laplacian(face.astype(np.float32), cv2.CV_32F).var() for face in faces]))


def test_small_and_soft_loses_fine_detail_with_each_severity():
    textured = np.clip(FACES.astype(int) + np.random.default_rng(0).integers(-30, 31, FACES.shape), 0, 255)
    textured = textured.astype(np.uint8)
    detail = [_fine_detail(textured)] + [_fine_detail(WILD["small_soft"](textured, s)) for s in SEVERITIES]
    assert detail[0] > detail[1] > detail[2] > detail[3], detail
    assert detail[3] < 0.1 * detail[0]


def test_off_centre_moves_the_face_further_with_each_severity():
    def blob(face):
        cv2.circle(face, (24, 24), 8, 230, -1)

    faces = same_face(drawn_face(blob), 64)

    def centroids(images):
        weights = images.astype(float) - 30
        ys, xs = np.mgrid[:SIZE, :SIZE]
        return np.stack([(weights * xs).sum(axis=(1, 2)), (weights * ys).sum(axis=(1, 2))], 1) / weights.sum(axis=(1, 2))[:, None]

    home = centroids(faces[:1])[0]
    moves = []
    for severity in SEVERITIES:
        spread = wild_condition("off_centre").severities[severity - 1]["box_jitter"]
        shifts = centroids(WILD["off_centre"](faces, severity, seed=7)) - home
        # The horizontal spread is the table's multiple of MTCNN's measured one (64 draws: within a third).
        assert shifts[:, 0].std() == pytest.approx(spread * BOX_JITTER["shift_x"] * SIZE, rel=0.35)
        moves.append(np.hypot(*shifts.T).mean())
    assert moves[0] < moves[1] < moves[2], moves


def test_wild_accuracy_pools_the_conditions_and_the_unsure_rule():
    labels = np.arange(len(FACES)) % 7
    clean = {face.tobytes(): label for face, label in zip(FACES, labels)}

    def predict(images):
        """Sure and right on the clean faces; on any other face 0.5 on class 0, which is right for two."""
        probs = np.full((len(images), 7), 0.5 / 6)
        for row, image in enumerate(images):
            label = clean.get(image.tobytes())
            probs[row] = np.eye(7)[label] if label is not None else [0.5] + [0.5 / 6] * 6
        return probs

    report = wild_accuracy(predict, FACES, labels, unsure_below=0.6, seed=0)
    assert report["clean"] == 1.0 and report["faces"] == len(FACES)
    assert list(report["conditions"]) == list(WILD)
    assert report["wild_accuracy"] == pytest.approx(2 / 12)
    unsure = report["unsure"]
    assert unsure["clean"] == {"accuracy": 1.0, "shown": 1.0, "right_when_shown": 1.0}
    assert unsure["all"]["shown"] == 0 and unsure["all"]["right_when_shown"] is None  # all read "unsure"
    shown_all = wild_accuracy(predict, FACES, labels, unsure_below=0.0)["unsure"]["conditions"]["yaw"]
    assert shown_all == {"accuracy": pytest.approx(2 / 12), "shown": 1.0, "right_when_shown": pytest.approx(2 / 12)}


@pytest.fixture
def evaluate_cli(monkeypatch):
    from emocap.cli import main

    monkeypatch.setattr("emocap.cli.COMMANDS", ("evaluate",))
    return main


def test_evaluate_wild_prints_the_table_and_writes_the_json(tmp_path, capsys, evaluate_cli):
    from model_fixtures import write_brightness_model, write_fake_fer

    data, model = write_fake_fer(tmp_path / "fer"), write_brightness_model(tmp_path / "brightness.onnx")
    json_path = tmp_path / "e.json"
    # The figures cost half a minute on a busy CPU: the wild plot alone is drawn in the next test.
    assert evaluate_cli(["evaluate", "--data", str(data), "--model", str(model), "--json", str(json_path),
                         "--no-plots", "--wild", "--wild-split", "PublicTest"]) == 0
    report = json.loads(json_path.read_text())["wild"]
    assert report["split"] == "PublicTest" and report["faces"] == 14 and report["labels"] == "FER2013"
    assert report["clean"] == 1.0 and list(report["conditions"]) == list(WILD)
    assert report["unsure_below"] == 0  # the test model has no calibration: every face is shown
    assert report["unsure"]["all"]["shown"] == 1.0
    out = capsys.readouterr().out
    assert "Faces as video shows them, from PublicTest (14 faces, FER2013 labels): clean 100.0%, wild accuracy" in out
    for name in WILD:
        assert f"\n{name:<12} " in out


def test_the_wild_plot_shows_each_condition_against_severity(tmp_path):
    import argparse

    from emocap.commands.evaluate import _save_wild_plot

    report = wild_accuracy(lambda images: np.eye(7)[images[:, 24, 24] % 7], FACES, FACES[:, 24, 24] % 7)
    args = argparse.Namespace(wild_split="PublicTest", model=None)
    path = _save_wild_plot(tmp_path, args, {**report, "labels": "FER2013"})
    assert path == tmp_path / "wild_PublicTest.png" and path.stat().st_size > 1000


def test_evaluate_wild_scores_the_fer_plus_majority_with_votes(tmp_path, capsys, evaluate_cli):
    """Votes whose majority is the next class for every face: the brightness model is then always wrong."""
    from fer_fixtures import votes_for, write_labels_csv
    from model_fixtures import write_brightness_model, write_fake_fer

    from emocap.labels import FER2013_LABELS
    from emocap.votes import CLASS_OF_COLUMN

    data, model = write_fake_fer(tmp_path / "fer"), write_brightness_model(tmp_path / "brightness.onnx")
    column_of = {name: column for column, name in CLASS_OF_COLUMN.items()}
    after = {name: FER2013_LABELS[(i + 1) % 7] for i, name in enumerate(FER2013_LABELS)}
    files = sorted(p.relative_to(data) for p in (data / "test").rglob("PrivateTest_a.png"))
    write_labels_csv(tmp_path / "labels.csv", [
        (str(file), "PrivateTest", votes_for(column_of[after[file.parent.name]])) for file in files
    ])
    json_path = tmp_path / "e.json"
    assert evaluate_cli(["evaluate", "--data", str(data), "--model", str(model), "--votes", str(tmp_path / "labels.csv"),
                         "--no-plots", "--json", str(json_path), "--wild"]) == 0
    report = json.loads(json_path.read_text())["wild"]
    assert report["labels"] == "FER+ majority" and report["faces"] == 7  # the PrivateTest_b faces have no votes
    assert report["clean"] == 0.0
    assert "(7 faces, FER+ majority labels): clean 0.0%" in capsys.readouterr().out
