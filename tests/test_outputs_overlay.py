import numpy as np
import pytest
from frame_fixtures import FEAR, HAPPY, NEUTRAL, SAD, face_box, make_result

from emocap.labels import VALENCE_COLOURS_BGR
from emocap.outputs import CaptionOverlay, FpsMeter
from emocap.outputs.layout import Rect
from emocap.outputs.overlay import (
    NO_LABEL_COLOUR_BGR, UNSURE_GROUND_BGR, UNSURE_INK_BGR, text_colours, valence_colours,
)
from emocap.labels import FER2013_LABELS
from emocap.types import NO_LABEL, UNSURE, Faces, FrameResult


def blank(height=360, width=640):
    return np.full((height, width, 3), 90, np.uint8)


def box_edge_colour(image, track_id):
    """The colour at the middle of a face box's left edge."""
    x1, y1, _, y2 = (int(v) for v in face_box(track_id))
    return tuple(int(c) for c in image[(y1 + y2) // 2, x1])


def test_annotate_returns_a_new_frame_and_leaves_the_input_alone():
    frame = blank()
    before = frame.copy()
    out = CaptionOverlay().annotate(frame, make_result(0, 0.0, [(0, HAPPY, NO_LABEL)]))
    assert out is not frame and out.shape == frame.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(frame, before)
    assert not np.array_equal(out, frame)


def test_each_box_has_the_colour_of_its_valence():
    result = make_result(0, 0.0, [(0, HAPPY, NO_LABEL), (1, SAD, FEAR), (2, NEUTRAL, NO_LABEL)])
    out = CaptionOverlay(show_bars=False).annotate(blank(), result)
    assert box_edge_colour(out, 0) == VALENCE_COLOURS_BGR["positive"]
    assert box_edge_colour(out, 1) == VALENCE_COLOURS_BGR["negative"]
    assert box_edge_colour(out, 2) == VALENCE_COLOURS_BGR["neutral"]


def test_a_face_without_a_label_yet_is_boxed_in_white():
    out = CaptionOverlay().annotate(blank(), make_result(0, 0.0, [(0, NO_LABEL, NO_LABEL)]))
    assert box_edge_colour(out, 0) == NO_LABEL_COLOUR_BGR


def test_caption_is_drawn_above_the_box_in_its_colour():
    out = CaptionOverlay(show_bars=False).annotate(blank(), make_result(0, 0.0, [(0, SAD, FEAR)]))
    x1, y1, x2, _ = (int(v) for v in face_box(0))
    band = out[y1 - 20 : y1 - 2, x1 : x1 + 200].reshape(-1, 3)
    assert (band == VALENCE_COLOURS_BGR["negative"]).all(axis=1).mean() > 0.4  # the label's background
    assert (band == (255, 255, 255)).all(axis=1).any()  # white text on vermillion


def test_probability_bars_appear_under_the_box_only_when_asked():
    result = make_result(0, 0.0, [(0, HAPPY, NO_LABEL)])
    with_bars = CaptionOverlay(show_bars=True).annotate(blank(), result)
    without = CaptionOverlay(show_bars=False).annotate(blank(), result)
    _, _, _, y2 = (int(v) for v in face_box(0))
    below = (slice(y2 + 5, 360), slice(0, 640))
    assert np.array_equal(without[below], blank()[below])
    assert not np.array_equal(with_bars[below], blank()[below])
    # The happy bar is long and blue: the positive colour appears under the box.
    assert (with_bars[below].reshape(-1, 3) == VALENCE_COLOURS_BGR["positive"]).all(axis=1).sum() > 100


def test_no_faces_gives_an_unchanged_copy_and_fps_is_drawn_when_given():
    frame = blank()
    empty = make_result(0, 0.0, [])
    out = CaptionOverlay().annotate(frame, empty)
    assert out is not frame and np.array_equal(out, frame)
    with_fps = CaptionOverlay().annotate(frame, empty, fps=29.97)
    assert not np.array_equal(with_fps[:40, :120], frame[:40, :120])
    assert np.array_equal(with_fps[100:], frame[100:])


def test_faces_at_the_frame_edge_are_drawn_without_error():
    result = make_result(0, 0.0, [(3, SAD, FEAR)])  # box x 620..740, beyond a 640-wide frame
    out = CaptionOverlay().annotate(blank(), result)
    assert out.shape == (360, 640, 3)
    out_small = CaptionOverlay().annotate(blank(120, 160), make_result(0, 0.0, [(0, HAPPY, NO_LABEL)]))
    assert out_small.shape == (120, 160, 3)


def test_text_colour_contrasts_with_the_background():
    colours = np.array([VALENCE_COLOURS_BGR["positive"], VALENCE_COLOURS_BGR["negative"],
                        VALENCE_COLOURS_BGR["neutral"], NO_LABEL_COLOUR_BGR])
    assert text_colours(colours).tolist() == [[255] * 3, [255] * 3, [0] * 3, [0] * 3]


def test_valence_colours_are_looked_up_for_all_faces_at_once():
    got = valence_colours(FER2013_LABELS, np.array([HAPPY, SAD, NO_LABEL]))
    assert got.tolist() == [list(VALENCE_COLOURS_BGR["positive"]), list(VALENCE_COLOURS_BGR["negative"]),
                            list(NO_LABEL_COLOUR_BGR)]


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 4), np.uint8)])
def test_bad_frames_are_refused(bad):
    with pytest.raises(ValueError, match="expected a BGR frame"):
        CaptionOverlay().annotate(bad, make_result(0, 0.0, []))


@pytest.mark.parametrize("bad", [0, 0.05, 11, "big", None])
def test_bad_text_scale_is_refused(bad):
    with pytest.raises(ValueError, match="text_scale"):
        CaptionOverlay(text_scale=bad)


def test_fps_meter_smooths_the_frame_rate():
    ticks = iter([0.0, 0.1, 0.2, 0.25])
    meter = FpsMeter(smoothing=0.5, clock=lambda: next(ticks))
    assert meter.tick() is None
    assert meter.tick() == pytest.approx(10.0)
    assert meter.tick() == pytest.approx(10.0)
    assert meter.tick() == pytest.approx(0.5 * 10 + 0.5 * 20)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2])
def test_bad_fps_smoothing_is_refused(bad):
    with pytest.raises(ValueError, match="smoothing"):
        FpsMeter(smoothing=bad)


def crowded_result(width: int, height: int, count: int = 8) -> FrameResult:
    """`count` faces side by side across the frame, each with a spread of probabilities."""
    side = width / (count + 1)
    gap = (width - count * side) / (count + 1)
    boxes = [[gap + i * (side + gap), 0.35 * height, gap + i * (side + gap) + side, 0.35 * height + 1.2 * side]
             for i in range(count)]
    probs = np.random.default_rng(0).dirichlet(np.full(7, 0.5), count).astype(np.float32)
    faces = Faces(boxes=boxes, scores=[0.99] * count, track_ids=list(range(count)), probs=probs,
                  display=probs.argmax(1).tolist(), runner_up=[NO_LABEL] * count)
    return FrameResult(index=0, time_s=0.0, frame_size=(width, height), faces=faces, labels=FER2013_LABELS)


@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_eight_faces_in_a_row_get_labels_that_never_overlap_or_leave_the_frame(size):
    """Four faces side by side once had two of four probability panels covered by their neighbours'."""
    width, height = size
    result = crowded_result(width, height)
    out = blank(height, width)
    overlay = CaptionOverlay()
    layout = overlay.draw_faces(out, result, scale=max(height, 240) / 720, reserved=[])
    assert all(face.caption_rect is not None for face in layout)  # every face is named, if only in short
    drawn = [face.caption_rect for face in layout] + [face.panel_rect for face in layout if face.panel_rect]
    assert len(drawn) > len(layout)  # some panels found room
    faces = [Rect(*(int(round(v)) for v in box)) for box in result.faces.boxes.tolist()]
    for index, rect in enumerate(drawn):
        assert rect.inside(width, height), rect
        assert not any(rect.intersects(other) for other in drawn[index + 1 :]), rect
        assert not any(rect.intersects(face) for face in faces), rect  # labels do not cover faces either
    for face in layout:  # a panel that found no room says its top class in the caption instead
        assert face.panel_rect is not None or face.caption.endswith("%)") or face.caption.endswith("%"), face
    # What is drawn is what was laid out: each caption's rectangle is filled with its face's colour.
    colours = valence_colours(FER2013_LABELS, result.faces.display)
    for face, colour in zip(layout, colours.tolist()):
        rect = face.caption_rect
        assert tuple(out[rect.y1 + 1, rect.x1 + 1]) == tuple(colour)


def left_edge(image, track_id):
    """The colours down the middle of a face box's left edge line."""
    x1, y1, _, y2 = (int(v) for v in face_box(track_id))
    return image[y1 + 10 : y2 - 10, x1].reshape(-1, 3)


def test_unsure_is_drawn_dashed_and_outlined_not_in_neutral_grey_nor_as_a_face_not_read_yet():
    result = make_result(0, 0.0, [(0, UNSURE, NO_LABEL), (1, NEUTRAL, NO_LABEL), (2, NO_LABEL, NO_LABEL)])
    out = CaptionOverlay(show_bars=False).annotate(blank(), result)
    unsure, neutral, pending = (left_edge(out, track) for track in range(3))
    ink, ground = np.array(UNSURE_INK_BGR), np.array(UNSURE_GROUND_BGR)
    # Dashes of ink on the ground, each a good share of the edge; neither colour is in the palette.
    assert (unsure == ink).all(axis=1).mean() > 0.3 and (unsure == ground).all(axis=1).mean() > 0.3
    assert not {tuple(ink), tuple(ground)} & set(VALENCE_COLOURS_BGR.values())
    assert (neutral == VALENCE_COLOURS_BGR["neutral"]).all() and (pending == NO_LABEL_COLOUR_BGR).all()
    # Its caption is outlined in ink: the rectangle's corner is ink, where a pending face's is its fill.
    layout = CaptionOverlay(show_bars=False).draw_faces(blank(), result, 0.5, [])
    corners = [out[placed.caption_rect.y1 + 1, placed.caption_rect.x1 + 1] for placed in layout]
    assert tuple(corners[0]) == tuple(ink) and tuple(corners[2]) == NO_LABEL_COLOUR_BGR


def test_the_overlay_words_captions_as_told():
    result = make_result(0, 0.0, [(0, SAD, FEAR), (1, UNSURE, NO_LABEL)])
    looks = CaptionOverlay(show_bars=False).draw_faces(blank(), result, 0.5, [])
    plain = CaptionOverlay(show_bars=False, wording="plain").draw_faces(blank(), result, 0.5, [])
    assert [placed.caption for placed in looks] == ["Face 1 (left): looks sad / fear - negative", "Face 2 (centre): unsure"]
    assert [placed.caption for placed in plain] == ["Face 1 (left): sad / fear - negative", "Face 2 (centre): unsure"]
    with pytest.raises(ValueError, match="wording must be one of looks, plain, got 'LOOKS'"):
        CaptionOverlay(wording="LOOKS")
