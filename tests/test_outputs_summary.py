import re

import cv2
import numpy as np
import pytest
from frame_fixtures import FEAR, HAPPY, NEUTRAL, SAD, make_results

from emocap.errors import OutputError
from emocap.labels import UNSURE_HATCH
from emocap.outputs import EmotionSummary, SegmentBuilder
from emocap.types import NO_LABEL, UNSURE


def summary_of(frames, keep_timeline=False, wording="looks"):
    results = make_results(np.arange(len(frames)) / 10, frames)
    builder = SegmentBuilder(min_duration_s=0.5, wording=wording)
    summary = EmotionSummary(keep_timeline=keep_timeline)
    for result in results:
        for segment in builder.update(result):
            summary.add(segment)
    for segment in builder.finish():
        summary.add(segment)
    return summary


# Face 1: 3 s happy, 1 s sad (runner-up fear, not counted). Face 2: 2 s neutral.
FRAMES = [
    [(0, HAPPY if i < 30 else SAD, NO_LABEL if i < 30 else FEAR)] + ([(1, NEUTRAL, NO_LABEL)] if i >= 20 else [])
    for i in range(40)
]


def test_shares_of_each_emotion_and_valence_per_face():
    summary = summary_of(FRAMES)
    assert summary.track_ids.tolist() == [0, 1]
    np.testing.assert_allclose(summary.seconds.sum(axis=1), [4.0, 2.0])
    shares = summary.emotion_shares()
    np.testing.assert_allclose(shares[0, [HAPPY, SAD, FEAR]], [0.75, 0.25, 0.0])
    np.testing.assert_allclose(shares[1, NEUTRAL], 1.0)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(summary.valence_shares(), [[0.25, 0.0, 0.75], [0.0, 1.0, 0.0]])


def cells(line):
    return re.split(r"\s{2,}", line.strip())


def test_table_lists_each_face_with_its_shares_and_what_its_caption_said_longest():
    lines = summary_of(FRAMES).table().splitlines()
    assert cells(lines[0]) == ["face", "captioned", "mostly", "angry", "disgust", "fear", "happy", "neutral", "sad",
                               "surprise", "|", "negative", "neutral", "positive"]
    assert cells(lines[1]) == ["1", "4.0 s", "looks happy", "0%", "0%", "0%", "75%", "0%", "25%", "0%", "|", "25%",
                               "0%", "75%"]
    assert cells(lines[2]) == ["2", "2.0 s", "looks neutral", "0%", "0%", "0%", "0%", "100%", "0%", "0%", "|", "0%",
                               "100%", "0%"]
    plain = summary_of(FRAMES, wording="plain").table().splitlines()
    assert [cells(line)[2] for line in plain] == ["mostly", "happy", "neutral"]


# Face 1: 2 s unsure, then 2 s neutral; face 2: 2 s unsure.
UNSURE_FRAMES = [[(0, UNSURE if i < 20 else NEUTRAL, NO_LABEL)] + ([(1, UNSURE, NO_LABEL)] if i >= 20 else [])
                 for i in range(40)]


def test_timeline_hatches_unsure_and_fills_the_emotions_and_its_legend_says_the_captions_words():
    axes = summary_of(UNSURE_FRAMES, keep_timeline=True).timeline_figure().axes[0]
    bars = {tuple(np.round(c.get_paths()[0].vertices[0], 1)): c for c in axes.collections}
    unsure, neutral = bars[(0.0, -0.4)], bars[(2.0, -0.4)]
    assert unsure.get_hatch() == UNSURE_HATCH and neutral.get_hatch() is None
    assert tuple(unsure.get_facecolor()[0]) == (1.0, 1.0, 1.0, 1.0)  # no palette colour: white under the hatching
    legend = axes.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["looks neutral", "unsure"]
    assert [patch.get_hatch() for patch in legend.get_patches()] == [None, UNSURE_HATCH]


def test_empty_summary_says_so():
    summary = summary_of([[] for _ in range(10)], keep_timeline=True)
    assert summary.table() == "no face had a caption"
    assert summary.emotion_shares().shape == (0, 0)


def test_timeline_plot_is_a_png_with_a_row_per_face(tmp_path):
    path = tmp_path / "timeline.png"
    summary_of(FRAMES, keep_timeline=True).save_timeline(path, title="clip.mp4")
    image = cv2.imread(str(path))
    assert image is not None and image.shape[1] == 800
    # Happy (blue #0072B2) and neutral (grey #999999) bars are in the picture.
    pixels = image.reshape(-1, 3)
    assert (pixels == (178, 114, 0)).all(axis=1).sum() > 1000
    assert (pixels == (153, 153, 153)).all(axis=1).sum() > 500
    assert [p.name for p in tmp_path.iterdir()] == ["timeline.png"]


def test_timeline_of_a_video_without_faces_is_still_drawn(tmp_path):
    summary_of([[] for _ in range(10)], keep_timeline=True).save_timeline(tmp_path / "t.svg")
    assert (tmp_path / "t.svg").read_text().lstrip().startswith("<?xml")


def test_timeline_needs_keep_timeline(tmp_path):
    with pytest.raises(RuntimeError, match="keep_timeline"):
        summary_of(FRAMES).save_timeline(tmp_path / "t.png")


def test_timeline_with_an_unknown_image_format_is_refused(tmp_path):
    with pytest.raises(OutputError, match=r"'\.docx' is not an image format"):
        summary_of(FRAMES, keep_timeline=True).save_timeline(tmp_path / "t.docx")
    assert list(tmp_path.iterdir()) == []
