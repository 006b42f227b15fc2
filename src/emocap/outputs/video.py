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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from emocap.atomic import atomic_path
from emocap.errors import OutputError, first_line

TIME_BASE = Fraction(1, 90000)
"""Of the written video's frame times: MPEG's 90 kHz clock, fine enough for any frame rate."""


@dataclass(frozen=True)
class VideoFormat:
    video_codec: str
    audio_codec: str
    audio_copied: frozenset[str]
    """Source audio codecs the container takes as they are (copied, not re-encoded)."""
    options: tuple[tuple[str, str], ...] = ()
    constant_rate: bool = False
    """Frames are stamped in frames, not in time (AVI has no other clock)."""


_MP4 = VideoFormat("libx264", "aac", frozenset({"aac", "mp3", "alac"}), (("movflags", "+faststart"),))
VIDEO_FORMATS: dict[str, VideoFormat] = {
    ".mp4": _MP4,
    ".m4v": _MP4,
    ".mov": _MP4,
    ".mkv": VideoFormat("libx264", "aac", frozenset({"aac", "mp3", "opus", "vorbis", "flac", "ac3"})),
    ".webm": VideoFormat("libvpx-vp9", "libopus", frozenset({"opus", "vorbis"})),
    # For older tools; browsers do not play it.
    ".avi": VideoFormat("mpeg4", "pcm_s16le", frozenset({"mp3", "ac3", "pcm_s16le"}), constant_rate=True),
}


class AnnotatedVideoWriter:
    """Frames written to `path` at their own times, with the audio of `audio_from`; the file appears
    only when the `with` block ends cleanly.

        with AnnotatedVideoWriter("out.mp4", fps=30, frame_size=(640, 360), audio_from="in.mp4") as video:
            video.write(frame_bgr, time_s)

    `fps` is the nominal rate (the stream's declared rate, and the spacing of
    frames written without a time); frames written with their time keep a
    variable frame rate exactly.
    """

    def __init__(
        self, path: str | os.PathLike, *, fps: float, frame_size: tuple[int, int],
        audio_from: str | os.PathLike | None = None,
    ) -> None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        width, height = frame_size
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise ValueError(f"frame_size must be two positive whole numbers (width, height), got {frame_size!r}")
        self.path = Path(path)
        self.format = video_format(self.path)
        self.fps = float(fps)
        self.frame_size = (width, height)
        self.audio_from = None if audio_from is None else Path(audio_from)
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
            temporary = stack.enter_context(atomic_path(self.path))
            try:
                container = av.open(str(temporary), "w", format=_muxer(self.path), options=dict(self.format.options))
            except av.FFmpegError as error:
                raise OutputError(f"cannot write video {str(self.path)!r}: {first_line(error)}") from None
            # Registered after the atomic path, so it runs first: the file is complete before the rename.
            stack.callback(container.close)
            rate = Fraction(self.fps).limit_denominator(1001)
            video = container.add_stream(self.format.video_codec, rate=rate)
            video.width, video.height = self.frame_size
            # H.264 and VP9 in yuv420p need even sides; odd ones are cropped by a pixel when frames come in.
            video.width -= video.width % 2
            video.height -= video.height % 2
            video.pix_fmt = "yuv420p"
            self._time_base = 1 / rate if self.format.constant_rate else TIME_BASE
            video.codec_context.time_base = self._time_base
            if self.audio_from is not None:
                self._audio = _AudioCopy.open(self.audio_from, container, self.format)
                if self._audio is not None:
                    stack.callback(self._audio.close)
            self._container, self._video = container, video
            self._stack = stack.pop_all()
        return self

    def write(self, frame_bgr: np.ndarray, time_s: float | None = None) -> None:
        import av

        if self._container is None:
            raise RuntimeError(f"video {str(self.path)!r} is not open: use AnnotatedVideoWriter in a `with` block")
        width, height = self.frame_size
        if frame_bgr.shape != (height, width, 3) or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 ({height}, {width}, 3) like the first one, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        seconds = self.frames_written / self.fps if time_s is None else float(time_s)
        pts = max(round(seconds / self._time_base), self._last_pts + 1)  # strictly increasing, as encoders need
        self._last_pts = pts
        even = frame_bgr[: self._video.height, : self._video.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="bgr24")
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
            if self._audio is not None:
                self._audio.mux_until(math.inf)
                self._audio.flush()
        return False


class _AudioCopy:
    """The first audio stream of a source, muxed into an output as the video is written: its packets
    copied when the output container takes the codec, decoded and encoded again otherwise."""

    def __init__(self, source, stream, output, out_stream, encode: bool) -> None:
        self._source, self._stream, self._output, self._out = source, stream, output, out_stream
        self._encode = encode
        self._packets: Iterator = source.demux(stream)
        self._start = stream.start_time if stream.start_time is not None else 0
        self._pending = None
        self._resampler = None
        self._done = False

    @classmethod
    def open(cls, path: Path, output, video_format: VideoFormat) -> "_AudioCopy | None":
        import av

        try:
            source = av.open(str(path))
        except av.FFmpegError:
            return None  # the video itself was readable by OpenCV; no sound to keep is not an error
        if not source.streams.audio:
            source.close()
            return None
        stream = source.streams.audio[0]
        if stream.codec_context.name in video_format.audio_copied:
            return cls(source, stream, output, output.add_stream_from_template(stream), encode=False)
        rate = stream.codec_context.sample_rate or 48000
        out_stream = output.add_stream(video_format.audio_codec, rate=48000 if video_format.audio_codec == "libopus" else rate)
        out_stream.layout = "stereo" if (stream.codec_context.channels or 2) >= 2 else "mono"
        return cls(source, stream, output, out_stream, encode=True)

    def _seconds(self, packet) -> float:
        return float((packet.pts - self._start) * packet.time_base) if packet.pts is not None else -math.inf

    def mux_until(self, seconds: float) -> None:
        while not self._done:
            packet = self._pending if self._pending is not None else next(self._packets, None)
            self._pending = None
            if packet is None:
                self._done = True
                return
            if packet.dts is None and packet.size == 0:  # the demuxer's flush packet
                continue
            if self._seconds(packet) > seconds:
                self._pending = packet
                return
            self._write(packet)

    def _write(self, packet) -> None:
        if not self._encode:
            packet.pts -= self._start
            packet.dts = None if packet.dts is None else packet.dts - self._start
            packet.stream = self._out
            self._output.mux(packet)
            return
        import av

        if self._resampler is None:
            context = self._out.codec_context
            self._resampler = av.AudioResampler(format=context.format, layout=context.layout, rate=context.sample_rate)
        for frame in packet.decode():
            frame.pts = None
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


def _muxer(path: Path) -> str:
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}[
        path.suffix.lower()
    ]


def video_format(path: str | os.PathLike) -> VideoFormat:
    """What a path's extension writes; OutputError naming the supported extensions otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_FORMATS:
        shown = repr(suffix) if suffix else "no extension"
        raise OutputError(f"cannot write video {str(path)!r}: {shown} is not supported; use {', '.join(VIDEO_FORMATS)}")
    return VIDEO_FORMATS[suffix]

