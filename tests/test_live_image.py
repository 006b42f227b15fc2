"""`emocap image`: emotions of the faces in photos (runs the real detector and model)."""

import json

import cv2
import numpy as np
import pytest

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
        # A still photo is not smoothed: the shown label is the model's top class.
        assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)


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
