import numpy as np
import pytest

from emocap.outputs.captions import caption_text, emotion_words, face_numbers, position_words, valence_words
from emocap.types import UNTRACKED


def test_faces_are_numbered_from_one_and_untracked_ones_by_order():
    assert face_numbers(np.array([0, 4, 1])).tolist() == [1, 5, 2]
    assert face_numbers(np.array([UNTRACKED, UNTRACKED])).tolist() == [1, 2]


def test_position_is_the_third_of_the_frame_the_box_centre_is_in():
    boxes = np.array([[0, 0, 100, 50], [250, 0, 350, 50], [500, 0, 640, 50], [200, 0, 228, 50], [200, 0, 226, 50]])
    assert position_words(boxes, 640).tolist() == ["left", "centre", "right", "centre", "left"]  # 640 / 3 = 213.3
    with pytest.raises(ValueError, match="frame_width must be positive, got 0"):
        position_words(boxes, 0)


def test_caption_text_variants():
    assert caption_text(1, "happy", position="left") == "Face 1 (left): looks happy — positive"
    assert caption_text(2, "sad", "fear") == "Face 2: looks sad / fear — negative"
    # Surprise counts positive and fear negative: the caption says so once, not both at once.
    assert caption_text(3, "surprise", "fear", separator=" - ") == "Face 3: looks surprise / fear - mixed"
    assert caption_text(4, "neutral") == "Face 4: looks neutral"
    assert caption_text(5, "") == "Face 5"
    assert caption_text(6, "bored") == "Face 6: looks bored"  # a class with no known valence
    assert caption_text(7, "unsure") == "Face 7: unsure"


def test_plain_wording_names_the_class_alone():
    assert caption_text(1, "happy", position="left", wording="plain") == "Face 1 (left): happy — positive"
    assert caption_text(2, "sad", "fear", wording="plain") == "Face 2: sad / fear — negative"
    assert caption_text(4, "neutral", wording="plain") == "Face 4: neutral"


def test_emotion_words_say_how_a_face_looks_and_leave_unsure_as_it_is():
    assert emotion_words("happy") == "looks happy"
    assert emotion_words("sad", "fear") == "looks sad / fear"
    assert emotion_words("sad", "fear", wording="plain") == "sad / fear"
    assert emotion_words("unsure") == emotion_words("unsure", wording="plain") == "unsure"
    assert emotion_words("") == ""
    with pytest.raises(ValueError, match="wording must be one of looks, plain, got 'feels'"):
        emotion_words("happy", wording="feels")


def test_valence_words_name_each_valence_once():
    assert valence_words("sad", "fear") == "negative"
    assert valence_words("happy", "neutral") == "positive / neutral"
    assert valence_words("happy", "") == "positive"
    assert valence_words("angry", "happy") == valence_words("surprise", "fear") == "mixed"


def test_faces_sharing_a_third_are_told_apart_by_their_row():
    """Two rows of three faces read 'right', 'right', 'centre', 'centre'...: the words named no one."""
    boxes = np.array([[500, 20, 600, 120], [500, 360, 600, 460], [250, 200, 350, 280], [20, 200, 120, 280]])
    assert position_words(boxes, 640, 480).tolist() == ["top right", "bottom right", "centre", "left"]
    assert position_words(boxes, 640).tolist() == ["right", "right", "centre", "left"]  # a segment's one box
    side_by_side = np.array([[250, 200, 300, 280], [330, 200, 380, 280]])
    assert position_words(side_by_side, 640, 480).tolist() == ["centre", "centre"]  # one row: the numbers must do
