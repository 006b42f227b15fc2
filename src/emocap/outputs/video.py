"""A copy of a video with the captions drawn in, and the source's sound, through FFmpeg's libraries (PyAV).

`.mp4`, `.m4v`, `.mov` and `.mkv` get H.264 (yuv420p, the moov atom first so
players start at once), which browsers, phones and players play; `.webm`
gets VP9 and Opus; `.avi` MPEG-4 Part 2 and PCM, for older tools. The sound of the source is copied as it is when the
container takes its codec (AAC into MP4, say), and re-encoded otherwise.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from emocap.atomic import atomic_path
from emocap.errors import OutputError, first_line

TIME_BASE = Fraction(1, 90000)
"""Of the written video's frame times: MPEG's 90 kHz clock, fine enough for any frame rate."""


@dataclass(frozen=True)
class VideoFormat:
    muxer: str
    """FFmpeg's name of the container."""
    video_codec: str
    audio_codec: str
    audio_copied: frozenset[str]
    """Source audio codecs the container takes as they are (copied, not re-encoded)."""
    options: tuple[tuple[str, str], ...] = ()
    constant_rate: bool = False
    """Frames are stamped in frames, not in time (AVI has no other clock)."""
    subtitle_codec: str | None = None
    """The soft subtitle track the container carries (`--embed-subtitles`), if any."""


_MP4 = VideoFormat("mp4", "libx264", "aac", frozenset({"aac", "mp3", "alac"}), (("movflags", "+faststart"),),
                   subtitle_codec="mov_text")
VIDEO_FORMATS: dict[str, VideoFormat] = {
    ".mp4": _MP4,
    ".m4v": _MP4,
    ".mov": replace(_MP4, muxer="mov"),
    ".mkv": VideoFormat("matroska", "libx264", "aac", frozenset({"aac", "mp3", "opus", "vorbis", "flac", "ac3"}),
                        subtitle_codec="webvtt"),
    ".webm": VideoFormat("webm", "libvpx-vp9", "libopus", frozenset({"opus", "vorbis"}), subtitle_codec="webvtt"),
    # For older tools; browsers do not play it.
    ".avi": VideoFormat("avi", "mpeg4", "pcm_s16le", frozenset({"mp3", "ac3", "pcm_s16le"}), constant_rate=True),
}


class AnnotatedVideoWriter:
    """Frames written to `path` at their own times, with the audio of `audio_from`; the file appears
    only when the `with` block ends cleanly.

        with AnnotatedVideoWriter("out.mp4", fps=30, frame_size=(640, 360), audio_from="in.mp4") as video:
            video.write(frame_bgr, time_s)

    `fps` is the nominal rate (the stream's declared rate, and the spacing of
    frames written without a time); frames written with their time keep a
    variable frame rate exactly. With `subtitles`, the captions given to
    `add_caption` become a soft subtitle track (mov_text in MP4, WebVTT in
    Matroska and WebM), which players can show or hide; the file is then
    remuxed once at the end, so the track is interleaved with the pictures.
    Times are the source's own presentation times (FFmpeg's PTS), every stream
    moved by the same amount, so picture and sound play together as in the
    source: a picture that starts 0.85 s after the sound still does, and the
    sound before the first picture and after the last is kept. `start_s` is
    the time of the source at which the copy begins (a part of a video): frame,
    caption and sound times are moved earlier by it; the sound ends at `end_s`
    (None: with the source's sound).
    """

    def __init__(
        self, path: str | os.PathLike, *, fps: float, frame_size: tuple[int, int],
        audio_from: str | os.PathLike | None = None, subtitles: bool = False, start_s: float = 0.0,
        end_s: float | None = None,
    ) -> None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        width, height = frame_size
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise ValueError(f"frame_size must be two positive whole numbers (width, height), got {frame_size!r}")
        self.path = Path(path)
        self.format = video_format(self.path, subtitles=subtitles)
        self.fps = float(fps)
        self.frame_size = (width, height)
        self.audio_from = None if audio_from is None else Path(audio_from)
        if not (isinstance(start_s, (int, float)) and math.isfinite(start_s) and start_s >= 0):
            raise ValueError(f"start_s must be a number of seconds >= 0, got {start_s!r}")
        self.start_s = float(start_s)
        if end_s is not None and not (isinstance(end_s, (int, float)) and end_s > start_s):
            raise ValueError(f"end_s must be a number of seconds after start_s ({start_s!r}), got {end_s!r}")
        self.end_s = None if end_s is None else float(end_s)
        self._last_s = -math.inf
        self.subtitles = bool(subtitles)
        self._captions: list[tuple[float, float, str]] = []
        self._final: Path | None = None
        self._pass1: Path | None = None
        self.frames_written = 0
        self._container = None
        self._video = None
        self._audio: _AudioCopy | None = None
        self._last_pts = -1
        self._time_base = TIME_BASE
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> "AnnotatedVideoWriter":
        import av

        with contextlib.ExitStack() as stack:
            temporary = self._final = stack.enter_context(atomic_path(self.path))
            if self.subtitles:  # pictures and sound first; the subtitles join them in a remux at the end
                temporary = temporary.with_name(f"{temporary.stem}.pass1{temporary.suffix}")
                stack.callback(temporary.unlink, missing_ok=True)
            try:
                container = av.open(str(temporary), "w", format=self.format.muxer, options=dict(self.format.options))
            except av.FFmpegError as error:
                raise OutputError(f"cannot write video {str(self.path)!r}: {first_line(error)}") from None
            # Registered after the atomic path, so it runs first: the file is complete before the rename.
            stack.callback(container.close)
            rate = Fraction(self.fps).limit_denominator(1001)
            video = container.add_stream(self.format.video_codec, rate=rate)
            # H.264 and VP9 in yuv420p need even sides: an odd one grows by a copy of its last row or
            # column as frames come in (cropping it instead left nothing of a video 1 pixel wide).
            video.width, video.height = (side + side % 2 for side in self.frame_size)
            video.pix_fmt = "yuv420p"
            self._time_base = 1 / rate if self.format.constant_rate else TIME_BASE
            video.codec_context.time_base = self._time_base
            if self.audio_from is not None:
                self._audio = _AudioCopy.open(self.audio_from, container, self.format, self.start_s)
                if self._audio is not None:
                    stack.callback(self._audio.close)
            self._container, self._video, self._pass1 = container, video, temporary
            self._stack = stack.pop_all()
        return self

    def add_caption(self, start_s: float, end_s: float, text: str) -> None:
        """A caption for the subtitle track, shown from `start_s` to `end_s` (seconds of the video)."""
        if not self.subtitles:
            raise RuntimeError(f"video {str(self.path)!r} was opened without subtitles=True")
        if not (math.isfinite(start_s) and math.isfinite(end_s) and end_s > start_s >= 0):
            raise ValueError(f"a caption needs 0 <= start < end, got {start_s!r}..{end_s!r}")
        start, end = max(start_s - self.start_s, 0.0), end_s - self.start_s
        if end > start:
            self._captions.append((start, end, str(text)))

    def write(self, frame_bgr: np.ndarray, time_s: float | None = None) -> None:
        import av

        if self._container is None:
            raise RuntimeError(f"video {str(self.path)!r} is not open: use AnnotatedVideoWriter in a `with` block")
        width, height = self.frame_size
        if frame_bgr.shape != (height, width, 3) or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 ({height}, {width}, 3) like the first one, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        seconds = self.frames_written / self.fps if time_s is None else float(time_s) - self.start_s
        self._last_s = seconds
        pts = max(round(seconds / self._time_base), self._last_pts + 1)  # strictly increasing, as encoders need
        self._last_pts = pts
        if width % 2 or height % 2:
            frame_bgr = cv2.copyMakeBorder(frame_bgr, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_bgr), format="bgr24")
        frame.pts, frame.time_base = pts, self._time_base
        if self._audio is not None:  # interleave: the sound up to this frame goes in before it
            self._audio.mux_until(seconds)
        self._container.mux(self._video.encode(frame))
        self.frames_written += 1

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, container = self._stack, self._container
        self._stack = self._container = None
        if exc_type is not None:  # the temporary file goes, and the error goes on
            return bool(stack.__exit__(exc_type, exc, traceback))
        with stack:  # an error while finishing also discards the file
            if self.frames_written == 0:
                raise OutputError(f"no frames to write to {str(self.path)!r}")
            container.mux(self._video.encode(None))
            if self._audio is not None:  # all the sound of the part copied, past the last picture too
                self._audio.mux_until(math.inf if self.end_s is None else self.end_s - self.start_s)
                self._audio.flush()
            if self.subtitles:
                container.close()
                _remux_with_captions(self._pass1, self._final, self.format, self._captions)
        return False


class _AudioCopy:
    """The first audio stream of a source, muxed into an output as the video is written: its packets
    copied when the output container takes the codec, decoded and encoded again otherwise."""

    def __init__(self, source, stream, output, out_stream, encode: bool, from_s: float) -> None:
        self._source, self._output, self._out = source, output, out_stream
        self._encode = encode
        # The copy begins at `from_s` of the source: its packets move earlier by that much, and no
        # more (the pictures move by as much), so the sound keeps its place beside them.
        self._from_s = from_s
        self._shift = round(from_s / stream.time_base)
        if from_s > 0:
            source.seek(self._shift, stream=stream, backward=True)
        self._packets: Iterator = source.demux(stream)
        self._pending = None
        self._resampler = None
        self._done = False

    @classmethod
    def open(cls, path: Path, output, video_format: VideoFormat, from_s: float = 0.0) -> "_AudioCopy | None":
        import av

        try:
            source = av.open(str(path))
        except av.FFmpegError:
            return None  # the pictures came from elsewhere; no sound to keep is not an error
        if not source.streams.audio:
            source.close()
            return None
        stream = source.streams.audio[0]
        if stream.codec_context.name in video_format.audio_copied:
            return cls(source, stream, output, output.add_stream_from_template(stream), False, from_s)
        rate = stream.codec_context.sample_rate or 48000
        out_stream = output.add_stream(video_format.audio_codec, rate=48000 if video_format.audio_codec == "libopus" else rate)
        out_stream.layout = "stereo" if (stream.codec_context.channels or 2) >= 2 else "mono"
        return cls(source, stream, output, out_stream, True, from_s)

    def _seconds(self, packet) -> float:
        """The packet's time in the copy (seconds after `from_s` of the source)."""
        return float((packet.pts - self._shift) * packet.time_base) if packet.pts is not None else -math.inf

    def mux_until(self, seconds: float) -> None:
        """Mux the sound up to `seconds` of the copy."""
        while not self._done:
            packet = self._pending if self._pending is not None else next(self._packets, None)
            self._pending = None
            if packet is None:
                self._done = True
                return
            if packet.dts is None and packet.size == 0:  # the demuxer's flush packet
                continue
            packet_s = self._seconds(packet)
            if packet_s > seconds:
                self._pending = packet
                return
            if packet_s < 0 and self._from_s > 0:  # before the part copied (the seek lands a little early)
                continue
            self._write(packet)

    def _write(self, packet) -> None:
        if not self._encode:
            packet.pts -= self._shift
            if packet.dts is not None:  # negative dts (an AAC encoder's priming) is kept for the whole video
                packet.dts = max(packet.dts - self._shift, 0) if self._from_s > 0 else packet.dts
            packet.stream = self._out
            self._output.mux(packet)
            return
        import av

        if self._resampler is None:
            context = self._out.codec_context
            self._resampler = av.AudioResampler(format=context.format, layout=context.layout, rate=context.sample_rate)
        for frame in packet.decode():
            # Stamped at its own time in the copy: the encoder would otherwise count from zero.
            rate = frame.sample_rate
            frame.pts, frame.time_base = round((frame.time - self._from_s) * rate), Fraction(1, rate)
            for resampled in self._resampler.resample(frame):
                self._output.mux(self._out.encode(resampled))

    def flush(self) -> None:
        if self._encode:
            if self._resampler is not None:
                for resampled in self._resampler.resample(None):
                    self._output.mux(self._out.encode(resampled))
            self._output.mux(self._out.encode(None))

    def close(self) -> None:
        self._source.close()


CAPTION_TIME_BASE = Fraction(1, 1000)


def _caption_payload(codec: str, text: str) -> bytes:
    data = text.encode("utf-8")
    # mov_text (3GPP timed text) samples are the UTF-8 text after its 16-bit length; WebVTT's are the text.
    return len(data).to_bytes(2, "big") + data if codec == "mov_text" else data


def stacked_captions(captions: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Overlapping captions (two faces at once) as one sequence of non-overlapping ones, each showing
    every caption active then, one per line in order of start: a subtitle track's samples follow
    one another (MP4's mov_text cannot overlap at all)."""
    bounds = sorted({time for start, end, _ in captions for time in (start, end)})
    ordered = sorted(captions)
    flat: list[tuple[float, float, str]] = []
    for start, end in zip(bounds, bounds[1:]):
        text = "\n".join(caption for s, e, caption in ordered if s <= start and e >= end)
        if not text:
            continue
        if flat and flat[-1][2] == text and flat[-1][1] == start:
            flat[-1] = (flat[-1][0], end, text)
        else:
            flat.append((start, end, text))
    return flat


def _remux_with_captions(
    source: Path, target: Path, video_format: VideoFormat, captions: list[tuple[float, float, str]]
) -> None:
    """Copy every stream of `source` into `target` and add the captions as a subtitle track,
    each muxed just before the first packet at or after its start (interleaved, no re-encoding)."""
    import av

    codec = video_format.subtitle_codec
    with av.open(str(source)) as original, av.open(
        str(target), "w", format=video_format.muxer, options=dict(video_format.options)
    ) as output:
        streams = {stream.index: output.add_stream_from_template(stream) for stream in original.streams}
        track = output.add_mux_stream(codec)
        track.time_base = CAPTION_TIME_BASE
        track.metadata["title"] = "Emotions"
        pending = stacked_captions(captions)
        shown = 0

        def mux_captions(until_s: float) -> None:
            nonlocal shown
            while shown < len(pending) and pending[shown][0] <= until_s:
                start, end, text = pending[shown]
                packet = av.Packet(_caption_payload(codec, text))
                packet.stream, packet.time_base = track, CAPTION_TIME_BASE
                # Both ends rounded on their own, as the subtitle files round them: start + a rounded length
                # could end a caption a tick away from the .vtt's end.
                packet.pts = packet.dts = round(start / CAPTION_TIME_BASE)
                packet.duration = max(1, round(end / CAPTION_TIME_BASE) - packet.pts)
                output.mux(packet)
                shown += 1

        for packet in original.demux():
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            if packet.pts is not None:
                mux_captions(float(packet.pts * packet.time_base))
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
        mux_captions(math.inf)


def video_format(path: str | os.PathLike, *, subtitles: bool = False) -> VideoFormat:
    """What a path's extension writes; OutputError naming the supported extensions otherwise, or,
    with `subtitles`, the ones whose containers carry a subtitle track."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_FORMATS:
        shown = repr(suffix) if suffix else "no extension"
        raise OutputError(f"cannot write video {str(path)!r}: {shown} is not supported; use {', '.join(VIDEO_FORMATS)}")
    if subtitles and VIDEO_FORMATS[suffix].subtitle_codec is None:
        carrying = ", ".join(s for s, f in VIDEO_FORMATS.items() if f.subtitle_codec is not None)
        raise OutputError(f"cannot embed subtitles in {str(path)!r}: use {carrying}")
    return VIDEO_FORMATS[suffix]

