import itertools
import math

import numpy as np
import pytest
from frame_fixtures import ANGRY, FEAR, HAPPY, NEUTRAL, SAD, SURPRISE, make_result, make_results, one_face

from emocap.errors import DataError
from emocap.outputs.segments import SegmentBuilder
from emocap.types import NO_LABEL, UNTRACKED


def build(results, min_duration_s=0.5, end_time_s=None):
    builder = SegmentBuilder(min_duration_s=min_duration_s)
    segments = list(itertools.chain.from_iterable(builder.update(r) for r in results))
    return segments + builder.finish(end_time_s)


def spans(segments):
    return [(s.track_id, round(s.start_s, 6), round(s.end_s, 6), s.label, s.runner_up_label) for s in segments]


def test_stable_face_is_one_segment_ending_one_frame_after_the_last():
    segments = build(one_face([HAPPY] * 20))  # 10 fps: frames at 0.0 .. 1.9
    assert spans(segments) == [(0, 0.0, 2.0, "happy", "")]
    assert segments[0].frames == 20
    assert segments[0].valence == "positive"


def test_change_splits_at_the_time_of_the_first_changed_frame():
    segments = build(one_face([HAPPY] * 10 + [SAD] * 10))
    assert spans(segments) == [(0, 0.0, 1.0, "happy", ""), (0, 1.0, 2.0, "sad", "")]
    assert segments[1].caption == "Face 1 (left): looks sad — negative"


def test_short_flicker_stays_in_the_stretch_before():
    segments = build(one_face([HAPPY] * 10 + [SAD] * 3 + [HAPPY] * 10))
    assert spans(segments) == [(0, 0.0, 2.3, "happy", "")]


def test_flicker_into_a_new_emotion_is_kept_by_the_old_one_until_the_new_one_lasts():
    segments = build(one_face([HAPPY] * 10 + [FEAR] * 2 + [SAD] * 10))
    assert spans(segments) == [(0, 0.0, 1.2, "happy", ""), (0, 1.2, 2.2, "sad", "")]


def test_flicker_at_the_start_joins_the_stretch_after():
    segments = build(one_face([SAD] * 2 + [HAPPY] * 10))
    assert spans(segments) == [(0, 0.0, 1.2, "happy", "")]


def test_flicker_at_the_end_joins_the_stretch_before():
    segments = build(one_face([HAPPY] * 10 + [SAD] * 2))
    assert spans(segments) == [(0, 0.0, 1.2, "happy", "")]


def test_short_drop_out_keeps_the_caption_and_long_absence_splits_it():
    bridged = build(one_face([HAPPY] * 10 + [NO_LABEL] * 3 + [HAPPY] * 10))
    assert spans(bridged) == [(0, 0.0, 2.3, "happy", "")]
    assert bridged[0].frames == 20  # the face was seen in 20 frames; the gap is bridged, not counted

    split = build(one_face([HAPPY] * 10 + [NO_LABEL] * 10 + [HAPPY] * 10))
    assert spans(split) == [(0, 0.0, 1.0, "happy", ""), (0, 2.0, 3.0, "happy", "")]


def test_face_shown_without_a_label_has_no_cue_until_it_gets_one():
    results = make_results(np.arange(20) / 10, [[(0, NO_LABEL, NO_LABEL)]] * 8 + [[(0, HAPPY, NO_LABEL)]] * 12)
    assert spans(build(results)) == [(0, 0.8, 2.0, "happy", "")]


def test_runner_up_is_part_of_the_caption():
    frames = [[(0, SAD, NO_LABEL)]] * 10 + [[(0, SAD, FEAR)]] * 10
    segments = build(make_results(np.arange(20) / 10, frames))
    assert spans(segments) == [(0, 0.0, 1.0, "sad", ""), (0, 1.0, 2.0, "sad", "fear")]
    assert segments[1].caption == "Face 1 (left): looks sad / fear — negative"


def test_runner_up_without_a_displayed_class_is_ignored():
    frames = [[(0, NO_LABEL, FEAR)]] * 10
    assert build(make_results(np.arange(10) / 10, frames)) == []


def test_variable_frame_rate_keeps_each_frames_own_time():
    times = [0.0, 0.05, 0.3, 0.31, 0.9, 1.4, 1.45, 2.5, 2.6, 3.7]
    states = [HAPPY] * 4 + [SAD] * 4 + [ANGRY] * 2
    segments = build(make_results(times, [[(0, s, NO_LABEL)] for s in states]), end_time_s=4.0)
    assert spans(segments) == [(0, 0.0, 0.9, "happy", ""), (0, 0.9, 2.6, "sad", ""), (0, 2.6, 4.0, "angry", "")]


def test_end_defaults_to_the_last_frame_interval():
    times = [0.0, 0.4, 0.7]
    segments = build(make_results(times, [[(0, HAPPY, NO_LABEL)]] * 3))
    assert segments[0].end_s == pytest.approx(1.0)


def test_a_face_that_keeps_changing_gets_the_emotion_it_showed_longest():
    # 0.3 s runs, each a flicker, 1.5 s in all between two stable stretches.
    states = [HAPPY] * 10 + ([SAD] * 3 + [FEAR] * 2) * 3 + [NEUTRAL] * 10
    segments = build(one_face(states))
    assert spans(segments) == [(0, 0.0, 1.0, "happy", ""), (0, 1.0, 2.5, "sad", ""), (0, 2.5, 3.5, "neutral", "")]


def test_a_face_seen_only_briefly_still_gets_its_cue():
    segments = build(one_face([NO_LABEL] * 5 + [SURPRISE] * 3 + [NO_LABEL] * 10))
    assert spans(segments) == [(0, 0.5, 0.8, "surprise", "")]


def test_min_duration_zero_gives_every_change_its_own_segment():
    segments = build(one_face([HAPPY, SAD, SAD, HAPPY]), min_duration_s=0)
    assert spans(segments) == [(0, 0.0, 0.1, "happy", ""), (0, 0.1, 0.3, "sad", ""), (0, 0.3, 0.4, "happy", "")]


def test_several_faces_come_out_in_order_of_start_with_their_positions():
    frames = [[(0, HAPPY, NO_LABEL)] + ([(2, SAD, NO_LABEL)] if i >= 5 else []) for i in range(20)]
    segments = build(make_results(np.arange(20) / 10, frames))
    assert spans(segments) == [(0, 0.0, 2.0, "happy", ""), (2, 0.5, 2.0, "sad", "")]
    assert [s.position for s in segments] == ["left", "right"]
    assert [s.face_number for s in segments] == [1, 3]


def test_segments_are_released_while_the_video_plays():
    builder = SegmentBuilder(min_duration_s=0.5)
    released_at = {}
    for result in one_face([HAPPY] * 10 + [SAD] * 10 + [ANGRY] * 30):
        for segment in builder.update(result):
            released_at[segment.label] = result.time_s
    assert released_at["happy"] == pytest.approx(1.5)  # once sad has lasted 0.5 s
    assert released_at["sad"] == pytest.approx(2.5)
    assert [s.label for s in builder.finish()] == ["angry"]


def test_segments_wait_for_an_earlier_open_face_so_output_stays_in_start_order():
    frames = [[(0, HAPPY, NO_LABEL)] + ([(1, SAD if i < 10 else FEAR, NO_LABEL)] if i >= 2 else []) for i in range(30)]
    builder = SegmentBuilder(min_duration_s=0.5)
    during = [s for r in make_results(np.arange(30) / 10, frames) for s in builder.update(r)]
    assert during == []  # face 0 is open since 0.0 s, before face 1's first segment
    assert spans(builder.finish()) == [(0, 0.0, 3.0, "happy", ""), (1, 0.2, 1.0, "sad", ""), (1, 1.0, 3.0, "fear", "")]


def test_memory_stays_flat_as_faces_come_and_go():
    builder = SegmentBuilder(min_duration_s=0.5)
    open_counts = []
    for i in range(3000):
        track_id = i // 20  # a new face every 2 s, each seen for 1 s
        faces = [(track_id, HAPPY, NO_LABEL)] if i % 20 < 10 else []
        segments = builder.update(make_result(i, i / 10, faces))
        assert all(s.end_s <= i / 10 for s in segments)
        open_counts.append(builder.open_faces)
    assert max(open_counts) == 1
    assert len(builder.finish()) <= 1


def test_untracked_faces_are_left_out():
    frames = [[(UNTRACKED, HAPPY, NO_LABEL), (1, SAD, NO_LABEL)]] * 10
    assert spans(build(make_results(np.arange(10) / 10, frames))) == [(1, 0.0, 1.0, "sad", "")]


def test_segment_box_and_probabilities_are_means_over_the_frames():
    segment = build(one_face([SAD] * 10))[0]
    np.testing.assert_allclose(segment.box, [20, 100, 140, 240])
    assert segment.probs.argmax() == SAD
    assert segment.probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_finish_resets_the_builder_for_the_next_video():
    builder = SegmentBuilder()
    for result in one_face([HAPPY] * 10):
        builder.update(result)
    assert len(builder.finish()) == 1
    for result in one_face([SAD] * 10):  # times start again at 0
        builder.update(result)
    assert spans(builder.finish()) == [(0, 0.0, 1.0, "sad", "")]


@pytest.mark.slow  # many random streams
def test_random_streams_keep_the_invariants():
    rng = np.random.default_rng(7)
    for trial in range(20):
        n = 200
        times = np.cumsum(rng.uniform(0.01, 0.15, n))
        frames = []
        for _ in range(n):
            faces = [(t, int(rng.choice([HAPPY, SAD, FEAR, NO_LABEL], p=[0.5, 0.3, 0.1, 0.1])), NO_LABEL)
                     for t in range(3) if rng.random() < 0.85]
            frames.append(faces)
        for min_duration in (0.0, 0.3, 1.0):
            segments = build(make_results(times, frames), min_duration_s=min_duration)
            starts = [s.start_s for s in segments]
            assert starts == sorted(starts)
            boundaries = set(np.round(times, 9)) | {round(times[-1] + (times[-1] - times[-2]), 9)}
            for track_id in range(3):
                own = [s for s in segments if s.track_id == track_id]
                assert all(a.end_s <= b.start_s for a, b in zip(own, own[1:]))
                assert all(round(s.start_s, 9) in boundaries and round(s.end_s, 9) in boundaries for s in own)
                assert all(s.end_s > s.start_s and s.label for s in own)


def test_min_duration_zero_matches_the_raw_runs():
    rng = np.random.default_rng(3)
    states = rng.choice([HAPPY, SAD, NO_LABEL], size=300, p=[0.45, 0.45, 0.1])
    segments = build(one_face(list(states)), min_duration_s=0)
    expected = []
    for state, group in itertools.groupby(enumerate(states), key=lambda item: item[1]):
        indices = [i for i, _ in group]
        if state != NO_LABEL:
            expected.append((0, round(indices[0] / 10, 6), round((indices[-1] + 1) / 10, 6)))
    assert [(t, a, b) for t, a, b, *_ in spans(segments)] == expected


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "0.5", None])
def test_bad_min_duration_is_refused(bad):
    with pytest.raises(ValueError, match="min_duration_s"):
        SegmentBuilder(min_duration_s=bad)


def test_times_must_increase():
    builder = SegmentBuilder()
    builder.update(make_result(0, 1.0, []))
    with pytest.raises(DataError, match="must increase.*frame 1 is at 1.0"):
        builder.update(make_result(1, 1.0, []))
    with pytest.raises(DataError, match="no valid time"):
        builder.update(make_result(2, math.nan, []))


def test_two_faces_with_one_track_id_are_refused():
    with pytest.raises(ValueError, match="same track id"):
        SegmentBuilder().update(make_result(0, 0.0, [(3, HAPPY, NO_LABEL), (3, SAD, NO_LABEL)]))


def test_finish_needs_an_end_after_the_last_frame():
    builder = SegmentBuilder()
    builder.update(make_result(0, 0.0, [(0, HAPPY, NO_LABEL)]))
    with pytest.raises(ValueError, match="one frame only"):
        builder.finish()
    with pytest.raises(ValueError, match="end_time_s must be after"):
        builder.finish(end_time_s=0.0)
    assert spans(builder.finish(end_time_s=0.04)) == [(0, 0.0, 0.04, "happy", "")]


def test_finish_without_frames_gives_nothing():
    assert SegmentBuilder().finish() == []


def test_labels_must_not_change_within_a_video():
    builder = SegmentBuilder()
    builder.update(make_result(0, 0.0, []))
    other = make_result(1, 0.1, [])
    with pytest.raises(ValueError, match="has labels"):
        builder.update(type(other)(1, 0.1, other.frame_size, other.faces, ("a", "b")))
