import cv2
import numpy as np
import pytest
from video_fixtures import stream_spans, streams_of, subtitle_track, write_clip_with_tone

from emocap.errors import OutputError
from emocap.outputs import AnnotatedVideoWriter
from emocap.outputs.video import stacked_captions


def frames(count, size=(64, 48)):
    width, height = size
    return [np.full((height, width, 3), 20 * i, np.uint8) for i in range(count)]


def read_back(path):
    capture = cv2.VideoCapture(str(path))
    try:
        images = []
        while True:
            ok, image = capture.read()
            if not ok:
                return images, capture.get(cv2.CAP_PROP_FPS)
            images.append(image)
    finally:
        capture.release()


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm", ".avi"])
def test_frames_are_written_in_order_at_the_given_rate(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with AnnotatedVideoWriter(path, fps=12.5, frame_size=(64, 48)) as video:
        for image in frames(6):
            video.write(image)
    assert video.frames_written == 6
    images, fps = read_back(path)
    assert len(images) == 6 and images[0].shape == (48, 64, 3)
    assert fps == pytest.approx(12.5)
    means = [image.mean() for image in images]
    assert means == sorted(means) and abs(means[-1] - 100) < 8  # lossy codecs, but the order and levels hold
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_error_midway_leaves_no_video(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="stop"):
        with AnnotatedVideoWriter(path, fps=10, frame_size=(64, 48)) as video:
            video.write(frames(1)[0])
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_a_video_without_frames_is_an_error_and_no_file(tmp_path):
    with pytest.raises(OutputError, match="no frames"):
        with AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=(64, 48)):
            pass
    assert list(tmp_path.iterdir()) == []


def test_unsupported_extension_names_the_supported_ones(tmp_path):
    with pytest.raises(OutputError, match=r"'\.gif' is not supported; use \.mp4, \.m4v, \.mov, \.mkv, \.webm, \.avi"):
        AnnotatedVideoWriter(tmp_path / "out.gif", fps=10, frame_size=(64, 48))


def test_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        with AnnotatedVideoWriter(tmp_path / "no" / "out.mp4", fps=10, frame_size=(64, 48)):
            pass


@pytest.mark.parametrize("fps", [0, -1, float("nan"), float("inf"), "30"])
def test_bad_fps_is_refused(tmp_path, fps):
    with pytest.raises(ValueError, match="fps must be a positive number"):
        AnnotatedVideoWriter(tmp_path / "out.mp4", fps=fps, frame_size=(64, 48))


@pytest.mark.parametrize("size", [(0, 48), (64, -1), (64.0, 48)])
def test_bad_frame_size_is_refused(tmp_path, size):
    with pytest.raises(ValueError, match="frame_size"):
        AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=size)


def test_frames_of_another_size_are_refused(tmp_path):
    with AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=(64, 48)) as video:
        video.write(frames(1)[0])
        with pytest.raises(ValueError, match=r"like the first one, got uint8 \(48, 32, 3\)"):
            video.write(frames(1, size=(32, 48))[0])


def test_writing_outside_a_with_block_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="not open"):
        AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=(64, 48)).write(frames(1)[0])


@pytest.mark.parametrize(
    "suffix, video_codec, audio_codec", [(".mp4", "h264", "aac"), (".webm", "vp9", "opus")],
    ids=["mp4: AAC copied", "webm: re-encoded to Opus"],
)
def test_the_copy_keeps_the_source_sound(tmp_path, suffix, video_codec, audio_codec):
    source = write_clip_with_tone(tmp_path / "talk.mp4")
    out = tmp_path / f"talk.annotated{suffix}"
    with AnnotatedVideoWriter(out, fps=15, frame_size=(160, 120), audio_from=source) as video:
        for i, image in enumerate(frames(12, size=(160, 120)) * 2 + frames(6, size=(160, 120))):
            video.write(image, i / 15)
    streams, original = streams_of(out), streams_of(source)
    assert (streams["video"][0], streams["audio"][0]) == (video_codec, audio_codec)
    assert abs(streams["video"][1] - original["video"][1]) <= 1 / 15
    assert abs(streams["audio"][1] - original["audio"][1]) <= 1 / 15 + 0.02  # + an Opus frame
    if suffix == ".mp4":
        data = out.read_bytes()
        assert data.index(b"moov") < data.index(b"mdat")  # +faststart: players start before the file is whole


def test_a_source_without_sound_gives_a_silent_copy(tmp_path):
    out = tmp_path / "out.mp4"
    silent = tmp_path / "silent.mp4"
    with AnnotatedVideoWriter(silent, fps=10, frame_size=(64, 48)) as video:
        video.write(frames(1)[0])
    with AnnotatedVideoWriter(out, fps=10, frame_size=(64, 48), audio_from=silent) as video:
        video.write(frames(1)[0])
    assert set(streams_of(out)) == {"video"}


def test_stacked_captions_show_every_face_at_once_without_overlap():
    captions = [(0.0, 2.0, "Face 1: happy"), (1.0, 3.0, "Face 2: sad"), (3.0, 4.0, "Face 2: fear")]
    assert stacked_captions(captions) == [
        (0.0, 1.0, "Face 1: happy"), (1.0, 2.0, "Face 1: happy\nFace 2: sad"), (2.0, 3.0, "Face 2: sad"),
        (3.0, 4.0, "Face 2: fear"),
    ]
    assert stacked_captions([]) == []


@pytest.mark.parametrize("suffix, codec", [(".mp4", "mov_text"), (".mkv", "webvtt"), (".webm", "webvtt")])
def test_captions_become_a_subtitle_track_beside_pictures_and_sound(tmp_path, suffix, codec):
    source = write_clip_with_tone(tmp_path / "talk.mp4")
    out = tmp_path / f"talk.annotated{suffix}"
    with AnnotatedVideoWriter(out, fps=15, frame_size=(160, 120), audio_from=source, subtitles=True) as video:
        for i, image in enumerate(frames(12, size=(160, 120)) * 2 + frames(6, size=(160, 120))):
            video.write(image, i / 15)
        video.add_caption(0.2, 1.2, "Face 1: happy — positive")
        video.add_caption(0.8, 1.8, "Face 2: sad")
    assert subtitle_track(out) == (codec, [
        (0.2, 0.8, "Face 1: happy — positive"), (0.8, 1.2, "Face 1: happy — positive\nFace 2: sad"),
        (1.2, 1.8, "Face 2: sad"),
    ])
    streams = streams_of(out)
    assert {"video", "audio", "subtitle"} <= set(streams)
    assert abs(streams["video"][1] - 2.0) <= 1 / 15 + 0.005  # + Matroska's millisecond clock
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["talk.mp4", out.name])  # no pass-1 file left


def test_avi_has_no_subtitle_track_to_embed(tmp_path):
    with pytest.raises(OutputError, match=r"cannot embed subtitles in .*\.avi.*use \.mp4"):
        AnnotatedVideoWriter(tmp_path / "out.avi", fps=10, frame_size=(64, 48), subtitles=True)


def copy_through_writer(source, out, *, fps=15):
    """Every frame of `source` into an AnnotatedVideoWriter at its own time, as transcribe does."""
    from emocap.sources import open_path

    with open_path(source) as frames_in:
        with AnnotatedVideoWriter(out, fps=fps, frame_size=frames_in.size, audio_from=source) as video:
            for frame in frames_in:
                video.write(frame.image_bgr, frame.time_s)


STREAM_OFFSETS = {
    "video 0.8 s after its sound": dict(video_start_s=0.8, audio_s=2.8),
    "sound 0.5 s after its video": dict(audio_start_s=0.5),
}


@pytest.mark.parametrize("suffix", [".mp4", ".webm"], ids=["mp4: AAC copied", "webm: re-encoded to Opus"])
@pytest.mark.parametrize("offsets", STREAM_OFFSETS.values(), ids=STREAM_OFFSETS.keys())
def test_the_copy_keeps_each_stream_s_start_and_all_of_its_sound(tmp_path, offsets, suffix):
    source = write_clip_with_tone(tmp_path / "talk.mp4", **offsets)
    out = tmp_path / f"talk.annotated{suffix}"
    copy_through_writer(source, out)
    (spans, samples), (original, original_samples) = stream_spans(out), stream_spans(source)
    for kind in ("video", "audio"):  # picture and sound where the source has them, to a frame
        assert spans[kind] == pytest.approx(original[kind], abs=1 / 15), (kind, spans, original)
    assert samples == original_samples  # none of the sound lost, before the first picture or after the last


def test_a_caption_track_ends_each_caption_where_the_subtitles_file_does(tmp_path):
    """Each end rounded to the track's millisecond on its own, as the .vtt's times are, not start + a rounded
    length: 1/15 s to 17/15 s is 0.067 to 1.133 in both (a length of 1.0667 s rounded would end it at 1.134)."""
    source = write_clip_with_tone(tmp_path / "talk.mp4")
    out = tmp_path / "talk.annotated.mp4"
    with AnnotatedVideoWriter(out, fps=15, frame_size=(160, 120), audio_from=source, subtitles=True) as video:
        for i, image in enumerate(frames(12, size=(160, 120)) * 2):
            video.write(image, i / 15)
        video.add_caption(1 / 15, 17 / 15, "Face 1: happy")
    assert subtitle_track(out) == ("mov_text", [(0.067, 1.133, "Face 1: happy")])
