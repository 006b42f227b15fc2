"""`emocap image`: emotions of the faces in photos (runs the real detector and model)."""

import json
import re

import cv2
import numpy as np
import pytest

from emocap.classifier import EmotionClassifier

from emocap.cli import main

LABELS = {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two public-domain portraits and a photo with no face, as files."""
    from matplotlib import cbook
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    collins = folder / "collins.png"
    cv2.imwrite(str(collins), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    hopper = folder / "hopper.jpg"
    hopper.write_bytes(open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), "rb").read())
    wall = folder / "wall.png"
    cv2.imwrite(str(wall), np.full((240, 320, 3), (150, 165, 180), np.uint8))
    return {"collins": collins, "hopper": hopper, "wall": wall, "folder": folder}


def run_image(capsys, *argv):
    code = main(["image", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_report_names_each_face_with_its_emotion(capsys, photos):
    code, out, err = run_image(capsys, photos["collins"], photos["wall"])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{photos['collins']}: 1 face"
    assert lines[1].startswith("  Face 1 (")
    assert any(label in lines[1] for label in LABELS) and "%" in lines[1] and "box " in lines[1]
    assert lines[2] == f"{photos['wall']}: no face found"


def test_json_lines_one_per_photo_with_probabilities(capsys, photos):
    code, out, _ = run_image(capsys, photos["collins"], photos["hopper"], "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == [str(photos["collins"]), str(photos["hopper"])]
    assert records[0]["size"] == [512, 512] and records[1]["size"] == [512, 600]
    for record in records:
        assert len(record["faces"]) == 1
        face = record["faces"][0]
        assert set(face["probabilities"]) == LABELS
        assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
        # A still photo is not smoothed: the shown label is the model's top class, or "unsure" when
        # that class's probability is under the model's threshold.
        top = max(face["probabilities"], key=face["probabilities"].get)
        sure = face["probabilities"][top] >= EmotionClassifier().calibration.unsure_below
        assert face["label"] == (top if sure else "unsure")


def test_annotate_one_photo_writes_that_file(capsys, photos, tmp_path):
    out_path = tmp_path / "marked.png"
    code, _, err = run_image(capsys, photos["hopper"], "--annotate", out_path)
    assert code == 0 and f"wrote {out_path}" in err
    annotated, original = cv2.imread(str(out_path)), cv2.imread(str(photos["hopper"]))
    assert annotated.shape == original.shape and not np.array_equal(annotated, original)
    assert [p.name for p in tmp_path.iterdir()] == ["marked.png"]


def test_annotate_a_folder_into_a_folder(capsys, photos, tmp_path):
    code, _, _ = run_image(capsys, photos["folder"], "--annotate", tmp_path)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "collins.annotated.png", "hopper.annotated.png", "wall.annotated.png"
    ]


def test_several_photos_need_an_annotation_folder(capsys, photos, tmp_path):
    code, out, err = run_image(capsys, photos["collins"], photos["hopper"], "--annotate", tmp_path / "one.png")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "must be an existing folder when there are 2 photos" in err


def test_annotation_needs_an_image_suffix(capsys, photos, tmp_path):
    code, _, err = run_image(capsys, photos["collins"], "--annotate", tmp_path / "out.txt")
    assert code == 2 and "use .png or .jpg" in err


def test_missing_photo_is_a_one_line_error(capsys, tmp_path):
    missing = tmp_path / "nope.jpg"
    code, out, err = run_image(capsys, missing)
    assert code == 2 and out == ""
    assert err == f"emocap image: error: no such image or folder: {str(missing)!r}\n"


def test_unreadable_photo_is_reported_and_the_others_still_run(capsys, photos, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    code, out, err = run_image(capsys, broken, photos["wall"])
    assert code == 2
    assert "cannot decode image" in err and repr(str(broken)) in err and "Traceback" not in err
    assert out.strip() == f"{photos['wall']}: no face found"


# ---- where annotated copies go: checked before any work, never over a photo ----


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the detector and model are loaded: a refused output must be refused first."""
    def build_pipeline(args):
        raise AssertionError("the pipeline was built before the outputs were checked")

    monkeypatch.setattr("emocap.commands.image.build_pipeline", build_pipeline)


def test_annotate_onto_the_photo_itself_is_refused_and_the_photo_kept(capsys, photos, tmp_path, no_work):
    photo = tmp_path / "collins.png"
    photo.write_bytes(photos["collins"].read_bytes())
    for target in (photo, tmp_path / "." / "collins.png"):
        code, out, err = run_image(capsys, photo, "--annotate", target)
        assert code == 2 and out == ""
        assert err == f"emocap image: error: output {str(photo)!r} would overwrite the photo it annotates\n"
    assert photo.read_bytes() == photos["collins"].read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["collins.png"]


def test_two_photos_with_one_name_would_collide_in_the_annotation_folder(capsys, photos, tmp_path, no_work):
    for name in ("a", "b", "marked"):
        (tmp_path / name).mkdir()
    first, second = tmp_path / "a" / "p.png", tmp_path / "b" / "p.png"
    first.write_bytes(photos["collins"].read_bytes())
    second.write_bytes(photos["wall"].read_bytes())
    code, out, err = run_image(capsys, first, second, "--annotate", tmp_path / "marked")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "two outputs would both be written to" in err and repr(str(tmp_path / "marked" / "p.annotated.png")) in err
    assert repr(str(first)) in err and repr(str(second)) in err
    assert list((tmp_path / "marked").iterdir()) == []


def test_an_annotated_copy_given_as_input_is_not_overwritten(capsys, photos, tmp_path, no_work):
    photo, copy = tmp_path / "wall.png", tmp_path / "wall.annotated.png"
    photo.write_bytes(photos["wall"].read_bytes())
    copy.write_bytes(photos["collins"].read_bytes())
    code, out, err = run_image(capsys, copy, photo, "--annotate", tmp_path)
    assert code == 2 and out == ""
    assert err == f"emocap image: error: output {str(copy)!r} would overwrite another photo given as input\n"
    assert copy.read_bytes() == photos["collins"].read_bytes()


def test_annotation_into_a_missing_folder_is_refused_before_any_work(capsys, photos, tmp_path, no_work):
    target = tmp_path / "gone" / "marked.png"
    code, out, err = run_image(capsys, photos["wall"], "--annotate", target)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and repr(str(target)) in err and "does not exist" in err


def test_annotated_copies_in_a_folder_are_not_read_again_as_photos(photos, tmp_path):
    from emocap.commands.image import expand_paths

    (tmp_path / "wall.png").write_bytes(photos["wall"].read_bytes())
    (tmp_path / "wall.annotated.png").write_bytes(photos["wall"].read_bytes())
    (tmp_path / "old.annotated.jpg").write_bytes(photos["hopper"].read_bytes())
    assert expand_paths([str(tmp_path)]) == [tmp_path / "wall.png"]
    # Named one by one, an annotated copy is still a photo: the user asked for it.
    assert expand_paths([str(tmp_path / "old.annotated.jpg")]) == [tmp_path / "old.annotated.jpg"]


def test_a_folder_of_only_annotated_copies_is_a_one_line_error(capsys, photos, tmp_path, no_work):
    (tmp_path / "wall.annotated.png").write_bytes(photos["wall"].read_bytes())
    code, out, err = run_image(capsys, tmp_path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and repr(str(tmp_path)) in err and "only annotated copies" in err


def test_write_image_is_whole_or_absent_with_a_one_line_output_error(tmp_path):
    from emocap.errors import OutputError
    from emocap.images import write_image

    image = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    assert write_image(tmp_path / "ok.png", image) == tmp_path / "ok.png"
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "ok.png")), image)
    for name, bad in (("what.xyz", image), ("empty.png", np.zeros((0, 0, 3), np.uint8))):
        with pytest.raises(OutputError) as caught:
            write_image(tmp_path / name, bad)
        message = str(caught.value)
        assert message.startswith(f"cannot write image {str(tmp_path / name)!r}: ") and "\n" not in message
    assert [p.name for p in tmp_path.iterdir()] == ["ok.png"]  # no temporary left behind


def test_image_numbers_faces_right_to_left_with_words_that_tell_them_apart(capsys, tmp_path):
    """Numbers followed the detector's order, and two rows of faces were all 'left', 'centre' or 'right'."""
    from emocap_testkit.faces import face_scene

    frame, boxes = face_scene(900, 600, 6, 110, seed=1)
    photo = tmp_path / "two-rows.png"
    cv2.imwrite(str(photo), frame)
    code, out, _ = run_image(capsys, photo)
    assert code == 0
    faces = re.findall(r"^  Face (\d+) \(([a-z ]+)\):.* box (\d+),", out, flags=re.M)
    assert [int(number) for number, _, _ in faces] == [1, 2, 3, 4, 5, 6]
    assert [int(x) for _, _, x in faces] == sorted((int(x) for _, _, x in faces), reverse=True)
    assert len({words for _, words, _ in faces}) == 6, faces


def test_the_wording_reaches_the_text_the_records_and_the_annotated_copy(capsys, photos, tmp_path):
    """Eileen Collins smiles at 93%: "looks happy" by default, "happy" in plain words; "unsure" stays."""
    _, looks, _ = run_image(capsys, photos["collins"], "--annotate", tmp_path / "looks.png")
    _, plain, _ = run_image(capsys, photos["collins"], "--annotate", tmp_path / "plain.png", "--wording", "plain")
    assert looks.splitlines()[1].startswith("  Face 1 (centre): looks happy - positive   happy 9")
    assert plain.splitlines()[1].startswith("  Face 1 (centre): happy - positive   happy 9")
    drawn = [cv2.imread(str(tmp_path / name)) for name in ("looks.png", "plain.png")]
    assert drawn[0].shape == drawn[1].shape and not np.array_equal(*drawn)  # the caption's words differ
    _, out, _ = run_image(capsys, photos["collins"], "--json", "--wording", "plain")
    face = json.loads(out)["faces"][0]
    assert (face["label"], face["emotion_words"]) == ("happy", "happy")
