"""FER2013 loaders on tiny copies built here: Kaggle folders, the original CSV and the mosaic pack.

Each copy's faces are known, so a loaded face is checked against the one
written under its name: pixels, label (as an index into FER2013_LABELS) and
which split it lands in.
"""

import shutil

import numpy as np
import pytest
from fer_fixtures import (
    CSV_ID_TO_NAME,
    JPEG_TOLERANCE,
    PACK_FACES_PER_ROW,
    fer_csv_rows,
    smooth_faces,
    write_fer_csv,
    write_fer_folder,
    write_fer_pack,
    write_image,
)

from emocap.cli import main
from emocap.datasets import FerData, load_fer2013, load_fer2013_csv, load_fer2013_folder, load_fer2013_pack
from emocap.errors import DataError, EmocapError
from emocap.labels import FER2013_LABELS

TEST_PARTS = ("PublicTest", "PrivateTest")


def assert_faces_match(data: FerData, expected: dict[str, tuple[np.ndarray, int]], tolerance: int = 0) -> None:
    """`data` holds exactly the faces of `expected` (name -> (face, label)), each under its own name."""
    assert sorted(data.files) == sorted(expected)
    assert data.images.dtype == np.uint8 and data.images.shape == (len(expected), 48, 48)
    assert data.labels.dtype == np.int64
    for name, image, label in zip(data.files, data.images, data.labels):
        face, expected_label = expected[name]
        assert label == expected_label, name
        difference = np.abs(image.astype(int) - face.astype(int)).max()
        assert difference <= tolerance, f"{name}: pixels differ by up to {difference}"


def in_split(faces: dict[str, tuple[np.ndarray, int]], split: str) -> dict[str, tuple[np.ndarray, int]]:
    """The test faces whose file names put them in PublicTest or PrivateTest."""
    return {name: value for name, value in faces.items() if name.split("/")[-1].startswith(f"{split}_")}


# --- Kaggle folders ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fer_png")
    return root, write_fer_folder(root, train_per_class=2, public_per_class=2, private_per_class=1)


@pytest.mark.parametrize("loader", [load_fer2013, load_fer2013_folder])
def test_folder_train_and_test_splits_hold_their_faces_exactly(png_folder, loader):
    root, written = png_folder
    assert_faces_match(loader(root, "train"), written["train"])
    assert_faces_match(loader(root, "test"), written["test"])  # PublicTest and PrivateTest together


@pytest.mark.parametrize("split", TEST_PARTS)
def test_folder_public_and_private_test_are_told_apart_by_file_name(png_folder, split):
    root, written = png_folder
    data = load_fer2013(root, split)
    assert_faces_match(data, in_split(written["test"], split))
    assert len(data) == 7 * (2 if split == "PublicTest" else 1)


def test_folder_default_split_is_test(png_folder):
    root, written = png_folder
    assert sorted(load_fer2013(root).files) == sorted(written["test"])


def test_folder_of_jpegs_loads_within_jpeg_error(tmp_path):
    written = write_fer_folder(tmp_path, suffix=".jpg")
    assert_faces_match(load_fer2013(tmp_path, "train"), written["train"], tolerance=JPEG_TOLERANCE)
    assert_faces_match(load_fer2013(tmp_path, "PrivateTest"), in_split(written["test"], "PrivateTest"), JPEG_TOLERANCE)


def test_folder_faces_of_another_size_are_resized_to_48(tmp_path):
    written = write_fer_folder(tmp_path)
    name = next(iter(written["train"]))
    write_image(tmp_path / "train" / name, np.full((96, 96), 77, np.uint8))
    data = load_fer2013(tmp_path, "train")
    assert data.images.shape[1:] == (48, 48)
    assert (data.images[data.files.index(name)] == 77).all()


# Every spelling maps to the same class index, whatever order the folders sort in.
CLASS_FOLDER_SPELLINGS = {
    "kaggle": ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    "nouns and adjectives": ("anger", "disgusted", "fearful", "happiness", "neutral", "sadness", "surprised"),
    "capitalised": ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"),
    "mixed": ("ANGER", "disgusted", "Fearful", "happiness", "neutral", "Sadness", "surprise"),
}


@pytest.mark.parametrize("spelling", CLASS_FOLDER_SPELLINGS)
def test_class_folder_spellings_in_the_wild_map_to_fer2013_classes(tmp_path, spelling):
    folders = CLASS_FOLDER_SPELLINGS[spelling]
    written = write_fer_folder(tmp_path, class_folders=folders)
    for part in ("train", "test"):
        data = load_fer2013(tmp_path, part)
        assert_faces_match(data, written[part])
        class_of_folder = {name.split("/")[0]: FER2013_LABELS[label] for name, label in zip(data.files, data.labels)}
        assert class_of_folder == dict(zip(folders, FER2013_LABELS))  # e.g. "sadness" -> "sad"
        assert list(data.class_counts()) == [2] * 7


def test_hidden_files_such_as_ds_store_are_skipped(tmp_path):
    written = write_fer_folder(tmp_path)
    (tmp_path / "train" / "happy" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    assert_faces_match(load_fer2013(tmp_path, "train"), written["train"])


# --- the original CSV ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_copy(tmp_path_factory):
    rows = fer_csv_rows(faces_per_split=2)
    path = write_fer_csv(tmp_path_factory.mktemp("fer_csv") / "fer2013.csv", rows)
    # The loader names each face "<split>_<line>"; the header is line 1.
    expected = {
        f"{'train' if usage == 'Training' else usage}_{line}": (face, FER2013_LABELS.index(CSV_ID_TO_NAME[label_id]))
        for line, (label_id, face, usage) in enumerate(rows, start=2)
    }
    return path, expected


def csv_split(expected, split):
    prefixes = {"train": ("train_",), "test": ("PublicTest_", "PrivateTest_")}.get(split, (f"{split}_",))
    return {name: value for name, value in expected.items() if name.startswith(prefixes)}


@pytest.mark.parametrize("split", ["train", "test", "PublicTest", "PrivateTest"])
@pytest.mark.parametrize("loader", [load_fer2013, load_fer2013_csv])
def test_csv_every_split_holds_its_rows_exactly(csv_copy, split, loader):
    path, expected = csv_copy
    assert_faces_match(loader(path, split), csv_split(expected, split))


def test_csv_label_ids_are_remapped_to_the_model_class_order(tmp_path):
    """CSV ids are 0=angry 1=disgust 2=fear 3=happy 4=sad 5=surprise 6=neutral; the model's order is alphabetical."""
    faces = smooth_faces(7)
    path = write_fer_csv(tmp_path / "fer2013.csv", [(label_id, faces[label_id], "Training") for label_id in range(7)])
    data = load_fer2013_csv(path, "train")
    assert [FER2013_LABELS[label] for label in data.labels] == [
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"
    ]
    assert list(data.labels) == [0, 1, 2, 3, 5, 6, 4]


def test_a_folder_holding_one_csv_loads_that_csv(csv_copy, tmp_path):
    path, expected = csv_copy
    (tmp_path / "fer2013.csv").write_bytes(path.read_bytes())
    assert_faces_match(load_fer2013(tmp_path, "PublicTest"), csv_split(expected, "PublicTest"))


def test_csv_without_usage_column_is_all_training(tmp_path):
    rows = [(label_id, face, "Training") for label_id, face, _ in fer_csv_rows(1)[:7]]
    path = write_fer_csv(tmp_path / "train.csv", rows, columns=("emotion", "pixels"))
    assert len(load_fer2013(path, "train")) == 7
    with pytest.raises(DataError, match="no test rows"):
        load_fer2013(path, "test")


# --- the mosaic pack -----------------------------------------------------------------------------

PACK_TRAIN_FACES = PACK_FACES_PER_ROW + 3  # two mosaic rows, the second almost empty


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    root = tmp_path_factory.mktemp("fer_pack")
    rng = np.random.default_rng(0)
    expected = {}
    train_faces = smooth_faces(PACK_TRAIN_FACES, seed=1)
    train_labels = rng.integers(0, 7, PACK_TRAIN_FACES)
    train_names = [f"{FER2013_LABELS[label]}/Training_{i}.jpg" for i, label in enumerate(train_labels)]
    write_fer_pack(root, "train", train_faces, train_labels, train_names)
    expected["train"] = {name: (face, label) for name, face, label in zip(train_names, train_faces, train_labels)}

    test_faces = smooth_faces(10, seed=2)
    test_labels = rng.integers(0, 7, 10)
    test_names = [f"{FER2013_LABELS[label]}/{TEST_PARTS[i % 2]}_{i}.jpg" for i, label in enumerate(test_labels)]
    write_fer_pack(root, "test", test_faces, test_labels, test_names)
    expected["test"] = {name: (face, label) for name, face, label in zip(test_names, test_faces, test_labels)}
    return root, expected


@pytest.mark.parametrize("loader", [load_fer2013, load_fer2013_pack])
def test_pack_train_faces_are_cut_from_the_mosaic_row_by_row(pack, loader):
    """Face 128 starts the second mosaic row: a transposed reading would misplace it (and most others)."""
    root, expected = pack
    assert_faces_match(loader(root, "train"), expected["train"], tolerance=JPEG_TOLERANCE)


@pytest.mark.parametrize("split", ["test", "PublicTest", "PrivateTest"])
def test_pack_test_splits(pack, split):
    root, expected = pack
    wanted = expected["test"] if split == "test" else in_split(expected["test"], split)
    data = load_fer2013_pack(root, split)
    assert_faces_match(data, wanted, tolerance=JPEG_TOLERANCE)
    assert len(data) == {"test": 10, "PublicTest": 5, "PrivateTest": 5}[split]


def test_pack_with_a_missing_file_names_it(pack, tmp_path):
    root, _ = pack
    for name in ("test_labels.npy", "test_files.txt"):  # no test.jpg
        (tmp_path / name).write_bytes((root / name).read_bytes())
    with pytest.raises(DataError, match="missing pack file") as error:
        load_fer2013(tmp_path, "test")
    assert str(tmp_path / "test.jpg") in str(error.value)


def test_pack_whose_mosaic_is_not_128_faces_wide_is_refused(tmp_path):
    write_fer_pack(tmp_path, "test", smooth_faces(3), [0, 1, 2], ["a", "b", "c"])
    write_image(tmp_path / "test.jpg", np.zeros((48, 48 * 100), np.uint8))
    with pytest.raises(DataError, match="not a FER2013 pack mosaic") as error:
        load_fer2013_pack(tmp_path, "test")
    assert str(tmp_path / "test.jpg") in str(error.value)


def test_a_mosaic_larger_than_its_labels_make_is_refused_from_its_header(tmp_path, monkeypatch):
    """A 1 MB PNG of 6144x174720 black pixels beside two labels took 2.2 GB to decode (and was
    evaluated, on its first two faces); here 6144x4800, refused before a pixel is decoded."""
    from hostile_media import write_black_png

    import emocap.datasets

    write_fer_pack(tmp_path, "test", smooth_faces(2), [0, 1], ["PublicTest_0", "PrivateTest_1"])
    mosaic = write_black_png(tmp_path / "test.jpg", 128 * 48, 100 * 48)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the mosaic was decoded")

    monkeypatch.setattr(emocap.datasets.cv2, "imdecode", no_decoding)
    monkeypatch.setattr(emocap.datasets.cv2, "imread", no_decoding)
    with pytest.raises(DataError) as error:
        load_fer2013(tmp_path, "test")
    assert str(error.value) == (
        f"{str(mosaic)!r} is not a FER2013 pack mosaic of its 2 faces: 6144x4800 pixels, where 128 faces a row "
        "make 6144x48"
    )


def test_pack_with_fewer_names_than_labels_is_refused(tmp_path):
    write_fer_pack(tmp_path, "test", smooth_faces(3), [0, 1, 2], ["PublicTest_0", "PublicTest_1"])
    with pytest.raises(DataError, match="3 labels, 2 names"):
        load_fer2013_pack(tmp_path, "test")


def test_pack_with_no_labels_is_refused(tmp_path):
    """An empty labels file made an empty test set: "need at least one array to concatenate" after the model loaded."""
    write_fer_pack(tmp_path, "test", smooth_faces(1), [], [])
    with pytest.raises(DataError, match="no labels: the pack holds no faces") as error:
        load_fer2013(tmp_path, "test")
    assert repr(str(tmp_path / "test_labels.npy")) in str(error.value)


def test_pack_whose_names_file_is_not_text_is_refused(tmp_path):
    """A binary names file was a UnicodeDecodeError traceback."""
    write_fer_pack(tmp_path, "test", smooth_faces(2), [0, 1], ["PublicTest_0", "PublicTest_1"])
    (tmp_path / "test_files.txt").write_bytes(b"PublicTest_0\n\xff\xfe\x00binary\n")
    with pytest.raises(DataError, match=r"not a text file of face names \(the byte at offset 13 is not UTF-8\)") as error:
        load_fer2013(tmp_path, "test")
    assert repr(str(tmp_path / "test_files.txt")) in str(error.value)


# --- bad inputs: one DataError that names the file -----------------------------------------------


def test_missing_dataset_path(tmp_path):
    missing = tmp_path / "no-such-fer"
    with pytest.raises(DataError, match="not found") as error:
        load_fer2013(missing)
    assert repr(str(missing)) in str(error.value)
    assert isinstance(error.value, EmocapError) and error.value.exit_code == 2


def test_folder_without_its_test_folder(tmp_path):
    write_fer_folder(tmp_path)
    shutil.rmtree(tmp_path / "test")
    assert len(load_fer2013(tmp_path, "train")) == 14  # train alone still loads
    with pytest.raises(DataError, match="missing folder") as error:
        load_fer2013(tmp_path, "test")
    assert repr(str(tmp_path / "test")) in str(error.value)


def test_unknown_class_folder(tmp_path):
    write_fer_folder(tmp_path)
    write_image(tmp_path / "test" / "contempt" / "PublicTest_9.png", smooth_faces(1)[0])
    with pytest.raises(DataError, match="unknown class folder") as error:
        load_fer2013(tmp_path, "test")
    assert repr(str(tmp_path / "test" / "contempt")) in str(error.value)


def test_non_image_file_in_a_class_folder(tmp_path):
    write_fer_folder(tmp_path)
    notes = tmp_path / "train" / "sad" / "notes.txt"
    notes.write_text("labelled by hand\n")
    with pytest.raises(DataError, match="not an image file") as error:
        load_fer2013(tmp_path, "train")
    assert repr(str(notes)) in str(error.value)


@pytest.mark.parametrize(
    "content", [b"", b"\x89PNG\r\n\x1a\n but then nothing a decoder can use"], ids=["empty", "corrupt"]
)
def test_unreadable_image(tmp_path, content):
    write_fer_folder(tmp_path)
    broken = tmp_path / "train" / "fear" / "Training_999.png"
    broken.write_bytes(content)
    with pytest.raises(DataError, match="unreadable image") as error:
        load_fer2013(tmp_path, "train")
    assert repr(str(broken)) in str(error.value)


BAD_CSV_ROWS = {
    "too few pixels": ("3", " ".join(["1"] * 100), r"pixel row must hold 2304 values, got 100"),
    "too many pixels": ("3", " ".join(["1"] * 2305), "got 2305"),
    "pixel that is not a number": ("3", " ".join(["1"] * 2303 + ["x"]), "not a number"),
    "pixel above 255": ("3", " ".join(["1"] * 2303 + ["256"]), r"pixel values must be in 0\.\.255, got 1\.\.256"),
    "pixel beyond int64": ("3", " ".join(["1"] * 2303 + ["9" * 23]), r"pixel values must be in 0\.\.255, got 9{23}$"),
    "label id 9": ("9", " ".join(["1"] * 2304), r"label id 9 is not in 0\.\.6"),
    "label that is not a number": ("happy", " ".join(["1"] * 2304), "label 'happy' is not a number"),
    "unknown Usage": ("3", " ".join(["1"] * 2304), "unknown Usage 'Validation'"),
}


@pytest.mark.parametrize("problem", BAD_CSV_ROWS)
def test_bad_csv_row_is_reported_with_file_and_line(tmp_path, problem):
    label_id, pixels, message = BAD_CSV_ROWS[problem]
    good = fer_csv_rows(1)[:3]
    usage = "Validation" if problem == "unknown Usage" else "Training"
    path = write_fer_csv(tmp_path / "fer2013.csv", [*good, (label_id, pixels, usage)])
    with pytest.raises(DataError, match=message) as error:
        load_fer2013(path, "train")
    assert str(error.value).startswith(f"{path}:5: ")  # header, 3 good rows, then the bad one


def test_bad_rows_of_another_split_do_not_stop_loading(tmp_path):
    good = fer_csv_rows(1)[:3]  # Training rows
    path = write_fer_csv(tmp_path / "fer2013.csv", [*good, ("9", "1 2 3", "PublicTest")])
    assert len(load_fer2013(path, "train")) == 3
    with pytest.raises(DataError, match=f"{path}:5: "):
        load_fer2013(path, "PublicTest")


def test_csv_missing_its_pixels_column(tmp_path):
    path = write_fer_csv(tmp_path / "fer2013.csv", fer_csv_rows(1)[:2], columns=("emotion", "Usage"))
    with pytest.raises(DataError, match=r"missing column\(s\) \['pixels'\]") as error:
        load_fer2013(path, "train")
    assert repr(str(path)) in str(error.value)


def test_a_file_that_is_neither_csv_nor_folder(tmp_path):
    archive = tmp_path / "fer2013.tar.gz"
    archive.write_bytes(b"\x1f\x8b")
    with pytest.raises(DataError, match="is not a FER2013 CSV or folder") as error:
        load_fer2013(archive)
    assert repr(str(archive)) in str(error.value)


@pytest.mark.parametrize("loader", [load_fer2013, load_fer2013_folder, load_fer2013_csv, load_fer2013_pack])
def test_unknown_split_is_refused_by_every_loader(tmp_path, loader):
    choices = "train, test, PublicTest, PrivateTest"
    with pytest.raises(DataError, match=f"unknown split 'validation'; choose one of {choices}"):
        loader(tmp_path, "validation")


# --- FerData -------------------------------------------------------------------------------------


def test_ferdata_checks_its_arrays_and_subsets_keep_them_together():
    images = smooth_faces(4)
    data = FerData(images, np.array([0, 3, 3, 6]), ("a", "b", "c", "d"))
    part = data.subset(data.labels == 3)
    assert part.files == ("b", "c") and list(part.labels) == [3, 3]
    assert np.array_equal(part.images, images[1:3])
    assert list(data.class_counts()) == [1, 0, 0, 2, 0, 0, 1]
    with pytest.raises(ValueError, match="4 images, 3 labels, 4 files"):
        FerData(images, np.array([0, 1, 2]), ("a", "b", "c", "d"))
    with pytest.raises(ValueError, match="uint8"):
        FerData(images.astype(np.float32), np.zeros(4, np.int64), ("a", "b", "c", "d"))



def test_a_subset_keeps_the_class_names_of_relabelled_data():
    from emocap.labels import LABEL_SETS

    eight = LABEL_SETS["ferplus"]
    data = FerData(smooth_faces(3), np.array([0, 7, 7]), ("a", "b", "c"), eight)
    part = data.subset(np.array([1, 2]))
    assert part.labels_names == eight
    assert list(part.class_counts()) == [0] * 7 + [2]

# --- the command line ----------------------------------------------------------------------------


def test_cli_reports_bad_data_in_one_line_without_a_traceback(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "fer"
    write_fer_folder(bad)
    write_image(bad / "test" / "contempt" / "PublicTest_9.png", smooth_faces(1)[0])
    monkeypatch.setattr("emocap.cli.COMMANDS", ("evaluate",))  # only the command under test
    monkeypatch.chdir(tmp_path)  # evaluate makes its default plots folder in the working folder
    code = main(["evaluate", "--data", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("emocap evaluate: error: unknown class folder")
    assert str(bad / "test" / "contempt") in err
    assert "Traceback" not in err
