"""PaperMemory and EmaSmoother semantics, the runner-up rule and the smoother factory."""

import numpy as np
import pytest

from emocap.tracking import EmaSmoother, PaperMemory, RunnerUpRule, make_smoother
from emocap.types import NO_LABEL, Faces

HAPPY, SAD, FEAR = 3, 5, 2


def frame(ids, classes, confidence=0.7, k=7) -> Faces:
    """Tracked faces, face i of track ids[i] predicted as classes[i] with the given confidence."""
    n = len(ids)
    probs = np.full((n, k), (1 - confidence) / (k - 1), np.float32)
    probs[np.arange(n), classes] = confidence
    boxes = np.stack([np.arange(n) * 100.0, np.zeros(n), np.arange(n) * 100.0 + 80, np.full(n, 80.0)], axis=1)
    return Faces(boxes=boxes, scores=np.ones(n), track_ids=ids, probs=probs)


def displays(smoother, classes_per_frame, track_id=0) -> list[int]:
    """Display of one face over frames; None in the list means the face is not detected."""
    shown = []
    for class_index in classes_per_frame:
        faces = Faces.empty(7) if class_index is None else frame([track_id], [class_index])
        out = smoother.update(faces)
        shown.append(int(out.display[0]) if len(out) else None)
    return shown


def test_memory_shows_nothing_until_all_entries_agree():
    assert displays(PaperMemory(length=4), [HAPPY] * 5) == [NO_LABEL] * 3 + [HAPPY] * 2


def test_memory_removes_one_frame_noise():
    sequence = [HAPPY] * 4 + [SAD] + [HAPPY] * 3 + [FEAR, SAD, FEAR]
    assert displays(PaperMemory(length=4), sequence)[3:] == [HAPPY] * 8


def test_memory_changes_on_the_nth_agreeing_prediction():
    assert displays(PaperMemory(length=3), [HAPPY] * 3 + [SAD] * 3)[3:] == [HAPPY, HAPPY, SAD]


def test_length_one_shows_the_raw_argmax():
    sequence = [HAPPY, SAD, FEAR, SAD]
    assert displays(PaperMemory(length=1), sequence) == sequence


def test_dropout_pushes_nulls_and_keeps_the_display():
    memory = PaperMemory(length=4)
    shown = displays(memory, [HAPPY] * 4 + [None, None] + [SAD] * 4)
    assert shown[4:6] == [None, None]
    assert shown[6:] == [HAPPY, HAPPY, HAPPY, SAD]


def test_a_null_breaks_agreement_so_n_fresh_predictions_are_needed():
    shown = displays(PaperMemory(length=4), [HAPPY] * 4 + [SAD] * 3 + [None] + [SAD] * 4)
    assert shown[8:] == [HAPPY, HAPPY, HAPPY, SAD]


def test_memory_is_forgotten_after_patience():
    assert displays(PaperMemory(length=2, patience_frames=2), [HAPPY] * 2 + [None] * 2 + [SAD])[-1] == HAPPY
    assert displays(PaperMemory(length=2, patience_frames=2), [HAPPY] * 2 + [None] * 3 + [SAD])[-1] == NO_LABEL


def test_state_follows_track_ids_not_row_order():
    memory = PaperMemory(length=2)
    memory.update(frame([10, 20], [HAPPY, SAD]))
    out = memory.update(frame([20, 10], [SAD, HAPPY]))
    assert out.track_ids.tolist() == [20, 10]
    assert out.display.tolist() == [SAD, HAPPY]


def test_inputs_are_not_changed_and_reset_forgets():
    memory = PaperMemory(length=1)
    faces = frame([0], [HAPPY])
    before = {name: getattr(faces, name).copy() for name in ("probs", "display", "runner_up", "track_ids")}
    out = memory.update(faces)
    for name, values in before.items():
        np.testing.assert_array_equal(getattr(faces, name), values)
    assert out.display.tolist() == [HAPPY] and faces.display.tolist() == [NO_LABEL]
    memory = PaperMemory(length=2)
    memory.update(frame([0], [HAPPY]))
    memory.reset()
    assert memory.update(frame([0], [HAPPY])).display.tolist() == [NO_LABEL]


def test_memory_runner_up_uses_the_mean_of_the_detected_entries():
    def sad_and_fear(sad, fear):
        probs = np.zeros((1, 7), np.float32)
        probs[0, [SAD, FEAR, HAPPY]] = sad, fear, 1 - sad - fear
        return frame([0], [SAD]).with_(probs=probs)

    memory = PaperMemory(length=2, runner_up_ratio=0.7, runner_up_min_probability=0.3)
    memory.update(sad_and_fear(0.46, 0.44))
    # this frame alone: fear/sad = 0.58; the memory's mean: 0.395 / 0.53 = 0.75
    assert memory.update(sad_and_fear(0.6, 0.35)).runner_up.tolist() == [FEAR]
    memory.update(Faces.empty(7))
    # memory: [null, this frame]; the null must not dilute fear's 0.35 below min_probability
    again = memory.update(sad_and_fear(0.46, 0.44))
    assert (again.display.tolist(), again.runner_up.tolist()) == ([SAD], [FEAR])


def test_ema_shows_the_first_frames_top_class_and_averages():
    smoother = EmaSmoother(alpha=0.5, hysteresis=0.0)
    assert displays(smoother, [HAPPY, SAD, SAD, SAD]) == [HAPPY, HAPPY, SAD, SAD]


def test_ema_hysteresis_needs_a_margin_to_switch():
    def probs(happy, sad):
        values = np.full((1, 7), (1 - happy - sad) / 5, np.float32)
        values[0, [HAPPY, SAD]] = happy, sad
        return frame([0], [HAPPY]).with_(probs=values)

    sequence = [probs(0.6, 0.3), probs(0.35, 0.45), probs(0.3, 0.6)]
    sticky, eager = EmaSmoother(alpha=1.0, hysteresis=0.2), EmaSmoother(alpha=1.0, hysteresis=0.0)
    assert [int(sticky.update(f).display[0]) for f in sequence] == [HAPPY, HAPPY, SAD]
    assert [int(eager.update(f).display[0]) for f in sequence] == [HAPPY, SAD, SAD]


def test_ema_dropped_frames_leave_the_average_alone():
    shown = displays(EmaSmoother(alpha=0.5, hysteresis=0.0), [HAPPY, None, None, None, None, SAD, SAD])
    assert shown == [HAPPY, None, None, None, None, HAPPY, SAD]


def test_ema_is_forgotten_after_patience():
    smoother = EmaSmoother(alpha=0.5, hysteresis=0.0, patience_frames=1)
    assert displays(smoother, [HAPPY, None, None, SAD]) == [HAPPY, None, None, SAD]


def test_runner_up_rule():
    rule = RunnerUpRule(ratio=0.7, min_probability=0.2)
    probs = np.array(
        [
            [0.45, 0.40, 0.15, 0, 0, 0, 0],  # close second
            [0.60, 0.30, 0.10, 0, 0, 0, 0],  # second too weak
            [0.19, 0.18, 0.17, 0.16, 0.15, 0.15, 0],  # close but unsure
            [0.30, 0.60, 0.10, 0, 0, 0, 0],  # sticky display: the top class is the runner-up
            [0.50, 0.45, 0.05, 0, 0, 0, 0],  # nothing displayed
        ],
        np.float32,
    )
    display = np.array([0, 0, 0, 0, NO_LABEL])
    assert rule(probs, display).tolist() == [1, NO_LABEL, NO_LABEL, 1, NO_LABEL]
    assert rule(np.zeros((0, 7), np.float32), np.zeros(0, np.int64)).shape == (0,)


def test_runner_up_is_set_by_both_smoothers_and_can_be_switched_off():
    probs = np.zeros((1, 7), np.float32)
    probs[0, [SAD, FEAR, HAPPY]] = [0.5, 0.4, 0.1]
    faces = frame([0], [SAD]).with_(probs=probs)
    for name in ("paper", "ema"):
        smoother = make_smoother(name)
        for _ in range(4):
            out = smoother.update(faces)
        assert (out.display.tolist(), out.runner_up.tolist()) == ([SAD], [FEAR])
        quiet = make_smoother(name, runner_up_ratio=None)
        for _ in range(4):
            out = quiet.update(faces)
        assert out.runner_up.tolist() == [NO_LABEL]


@pytest.mark.parametrize("name", ["paper", "ema"])
def test_smoothers_reject_faces_they_cannot_remember(name):
    smoother = make_smoother(name)
    with pytest.raises(ValueError, match="tracked faces"):
        smoother.update(frame([0], [HAPPY]).with_(track_ids=[-1]))
    with pytest.raises(ValueError, match=r"same track id twice.*\[4\]"):
        smoother.update(frame([4, 4], [HAPPY, SAD]))
    with pytest.raises(ValueError, match="class probabilities"):
        smoother.update(frame([0], [HAPPY]).with_(probs=np.zeros((1, 0), np.float32)))
    smoother.update(frame([0], [HAPPY]))
    with pytest.raises(ValueError, match="7 classes before, now 3"):
        smoother.update(frame([0], [1], k=3))


@pytest.mark.parametrize("name", ["paper", "ema"])
def test_smoothers_pass_empty_frames(name):
    smoother = make_smoother(name)
    assert len(smoother.update(Faces.empty())) == 0
    smoother.update(frame([0], [HAPPY]))
    assert len(smoother.update(Faces.empty())) == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PaperMemory(length=0), "PaperMemory.length must be an integer >= 1, got 0"),
        (lambda: PaperMemory(length=2.5), "got 2.5"),
        (lambda: PaperMemory(length=True), "got True"),
        (lambda: PaperMemory(patience_frames=-1), "PaperMemory.patience_frames .* got -1"),
        (lambda: EmaSmoother(alpha=0), "alpha must be in \\(0, 1\\], got 0"),
        (lambda: EmaSmoother(alpha=1.5), "got 1.5"),
        (lambda: EmaSmoother(hysteresis=-0.1), "hysteresis must be in \\[0, 1\\), got -0.1"),
        (lambda: EmaSmoother(hysteresis=1), "got 1"),
        (lambda: EmaSmoother(alpha="0.3"), "got '0.3'"),
        (lambda: RunnerUpRule(min_probability=True), "RunnerUpRule.min_probability must be in \\[0, 1\\], got True"),
        (lambda: EmaSmoother(patience_frames=0.5), "EmaSmoother.patience_frames .* got 0.5"),
        (lambda: RunnerUpRule(ratio=0), "RunnerUpRule.ratio must be in \\(0, 1\\], got 0"),
        (lambda: PaperMemory(runner_up_ratio=1.2), "PaperMemory.runner_up_ratio must be in \\(0, 1\\], got 1.2"),
        (lambda: EmaSmoother(runner_up_min_probability=-0.5), "EmaSmoother.runner_up_min_probability must be in \\[0, 1\\], got -0.5"),
        (lambda: make_smoother("median"), "unknown smoother 'median'; choose one of ema, paper"),
        (lambda: make_smoother("paper", alpha=0.3), "smoother 'paper' has no option\\(s\\) \\['alpha'\\]"),
    ],
)
def test_constructor_errors_quote_the_bad_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_make_smoother_passes_options():
    memory = make_smoother("paper", length=3, patience_frames=7)
    assert isinstance(memory, PaperMemory) and (memory.length, memory.patience_frames) == (3, 7)
    ema = make_smoother("ema", alpha=0.2, hysteresis=0.05)
    assert isinstance(ema, EmaSmoother) and (ema.alpha, ema.hysteresis) == (0.2, 0.05)
