import cv2
import numpy as np
import pytest

from emocap.errors import OutputError
from emocap.evaluation import plots
from emocap.evaluation.metrics import reliability_bins
from emocap.evaluation.tsne import stratified_sample, tsne_map

CLASSES = ("angry", "happy", "sad")


def read_png(path):
    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not a readable image"
    return image


def test_confusion_matrix_png_is_written_and_not_blank(tmp_path):
    path = plots.save_confusion_matrix(
        tmp_path / "confusion.png", np.array([[5, 1, 0], [2, 7, 1], [0, 0, 0]]), CLASSES, title="test"
    )
    image = read_png(path)
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert image.std() > 10  # cells, text and colour bar, not one flat colour
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]  # no temporary file left behind


def test_confusion_matrix_must_fit_the_class_names(tmp_path):
    with pytest.raises(ValueError, match=r"\(2, 2\) does not fit 3"):
        plots.save_confusion_matrix(tmp_path / "c.png", np.eye(2, dtype=int), CLASSES, title="t")


def test_plots_report_a_missing_folder_as_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        plots.save_confusion_matrix(tmp_path / "nope" / "c.png", np.eye(3, dtype=int), CLASSES, title="t")


def test_embedding_map_png(tmp_path):
    rng = np.random.default_rng(0)
    path = plots.save_embedding_map(
        tmp_path / "map.png", rng.normal(size=(90, 2)), rng.integers(0, 3, 90), CLASSES, title="map"
    )
    assert read_png(path).std() > 10


@pytest.mark.parametrize(
    ("points", "labels", "names", "message"),
    [
        (np.zeros((5, 3)), np.zeros(5, int), CLASSES, "need points"),
        (np.zeros((5, 2)), np.zeros(4, int), CLASSES, "need points"),
        (np.zeros((5, 2)), np.zeros(5, int), tuple(f"c{i}" for i in range(10)), "at most 9 classes"),
    ],
)
def test_embedding_map_refuses_bad_input(tmp_path, points, labels, names, message):
    with pytest.raises(ValueError, match=message):
        plots.save_embedding_map(tmp_path / "m.png", points, labels, names, title="t")


def test_reliability_diagram_png(tmp_path):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3) * 0.5, 300)
    bins = reliability_bins(rng.integers(0, 3, 300), probs)
    assert (bins.count == 0).any()  # empty bins must not break the drawing
    path = plots.save_reliability_diagram(tmp_path / "rel.png", bins, title="calibration")
    assert read_png(path).std() > 10


def test_stratified_sample_keeps_class_shares_and_is_seeded():
    labels = np.repeat(np.arange(4), [400, 300, 200, 100])
    chosen = stratified_sample(labels, 100, seed=5)
    assert len(chosen) == 100 and len(np.unique(chosen)) == 100
    np.testing.assert_array_equal(np.bincount(labels[chosen]), [40, 30, 20, 10])
    np.testing.assert_array_equal(chosen, stratified_sample(labels, 100, seed=5))
    assert not np.array_equal(chosen, stratified_sample(labels, 100, seed=6))


def test_stratified_sample_small_and_odd_cases():
    labels = np.array([0, 0, 1, 1, 2])  # class 2 has one face: cannot stratify, still samples
    assert len(stratified_sample(labels, 3)) == 3
    np.testing.assert_array_equal(stratified_sample(labels, 10), np.arange(5))
    with pytest.raises(ValueError, match="got 0"):
        stratified_sample(labels, 0)


def test_tsne_map_keeps_separated_clusters_apart():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 30)
    centres = rng.normal(size=(3, 64)) * 10
    points = tsne_map(centres[labels] + rng.normal(size=(90, 64)), seed=0)
    assert points.shape == (90, 2) and points.dtype == np.float32
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert np.mean(labels[distances.argmin(1)] == labels) > 0.95


def test_tsne_map_needs_a_few_points():
    with pytest.raises(ValueError, match="at least 4"):
        tsne_map(np.zeros((3, 8)))
