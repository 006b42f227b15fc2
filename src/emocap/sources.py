"""Where frames come from: a camera, a video file, a stream URL, photos, or the screen.

`open_source(spec)` reads one string, as a user types it on the command line,
and returns a `FrameSource`: a context manager and an iterator of `Frame`s.

    with open_source("talk.mp4") as source:
        for frame in source:
            result = pipeline.process(frame.image_bgr, frame.time_s)

Spec forms:

    0, 1, ...              camera index (webcam)
    talk.mp4               video file (any format FFmpeg reads, through PyAV)
    rtsp://..., http://... network stream
    photo.jpg              one image
    frames/                a folder of images, in natural order (2.png before 10.png)
    screen                 the whole primary screen
    screen:X,Y,W,H         a region of the screen, e.g. the other person in a video call

Video files are decoded by FFmpeg's libraries (PyAV): each frame carries its
own presentation time from the container, as players show it (variable frame
rates are exact; a stream that starts after the container's other streams, at
0.85 s say, keeps that start; edit lists are applied by FFmpeg's demuxer), and
a part of a video is found by seeking (`open_path(..., start_s, end_s)`).
Cameras and streams are read by OpenCV and, like the screen, stamped by a
monotonic clock from the first frame; images are spaced `1 / image_fps` apart.

A source that cannot be opened raises `SourceError` with one line quoting the
spec. A camera or stream that stops sending frames ends the iteration (the
caller's `finally` flushes its outputs); `end_reason` says why it ended.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import stat
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from emocap.errors import SourceError, first_line
from emocap.images import (
    DEFAULT_MAX_IMAGE_SIDE, IMAGE_SUFFIXES, ImageError, check_picture_size, opencv_text, read_image,
)

# FFmpeg prints its own complaints ("moov atom not found") straight to stderr, past OpenCV's logger,
# ahead of our one-line SourceError. Quiet (AV_LOG_QUIET) unless the user asked for FFmpeg's lines;
# OpenCV reads this when it first opens a video.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
SAMPLE_CLIP_NAME = "faces.mp4"
DEFAULT_IMAGE_FPS = 1.0
"""Photos have no time of their own; one per second reads well in subtitles."""
TRUNCATION_TOLERANCE = 0.01
"""A video whose last frame comes more than 1% of its stated length before its stated end (and more than
two frames, and more than the longest wait between two of its frames) is cut short."""
DECODER_PIXEL_SLACK = 128
"""Pixels per side added to --max-image-side for FFmpeg's own pixel limit, which counts padded rows (the
sides themselves are checked exactly, after decoding)."""
LAST_TIMESTAMP = 2**63 - 1
"""FFmpeg's timestamps are 64-bit: the latest time a stream can seek to, in its own time base."""

_SCREEN_SPEC = re.compile(r"screen(?::(?P<region>.*))?", re.IGNORECASE)


@dataclass(frozen=True)
class Frame:
    """One frame: its position in the source, its time in seconds, and its pixels (H, W, 3) uint8 BGR."""

    index: int
    time_s: float
    image_bgr: np.ndarray


@dataclass(frozen=True)
class ScreenRegion:
    """A rectangle of the (virtual, all monitors) screen in pixels."""

    left: int
    top: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"screen region must have a positive width and height, got {self.width}x{self.height}")

    def as_mss(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}

    def inside(self, monitor: dict[str, int]) -> bool:
        return (
            self.left >= monitor["left"]
            and self.top >= monitor["top"]
            and self.left + self.width <= monitor["left"] + monitor["width"]
            and self.top + self.height <= monitor["top"] + monitor["height"]
        )


class FrameSource:
    """Frames from one place, released when the `with` block or the iteration ends.

    fps          nominal frames per second, or None when the source does not say
    frame_count  number of frames, or None when unknown (cameras, streams, screen)
    size         (width, height) of the first frame
    duration_s   seconds of the whole video, when its container says
    is_live      True for cameras, streams and the screen (frames keep coming in real time)
    end_reason   after iteration: why it stopped ("end of video", "camera stopped sending frames", ...)

    Subclasses read their first frame while opening, so a source that opens
    but gives nothing fails at once, and `size` is known before iterating.
    """

    is_live = False
    stills = False
    """Each frame is a photo of its own (an image or a folder of images), not a moment of one scene."""
    duration_s: float | None = None
    """Length of the whole video in seconds, as its container says (None when it does not, and for
    cameras, streams, the screen and photos)."""

    def __init__(
        self, spec: str, first: tuple[np.ndarray, float], *, fps: float | None, frame_count: int | None
    ) -> None:
        self.spec = spec
        self.fps = fps
        self.frame_count = frame_count
        self.size = (first[0].shape[1], first[0].shape[0])
        self.end_reason: str | None = None
        self.truncated = False
        """After iteration: a video file ended well before the frame count its container promises."""
        self._first: tuple[np.ndarray, float] | None = first
        self._closed = False

    def _read(self) -> tuple[np.ndarray, float] | None:
        """The next image and its time in seconds, or None at the end (setting `end_reason`)."""
        raise NotImplementedError

    def _release(self) -> None:
        """Free the device or file handle; called once."""

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        try:
            while not self._closed:
                grabbed, self._first = self._first or self._read(), None
                if grabbed is None:
                    return
                image, time_s = grabbed
                yield Frame(index=index, time_s=time_s, image_bgr=image)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, size={self.size}, fps={self.fps}, frames={self.frame_count})"


class MonotonicClock:
    """Seconds since the first call, from a clock that never goes backwards."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._start: float | None = None

    def __call__(self) -> float:
        now = self._now()
        if self._start is None:
            self._start = now
        return now - self._start


class VideoFileSource(FrameSource):
    """A video file decoded by FFmpeg's libraries (PyAV), each frame stamped with its own
    presentation time from the container (variable frame rates exact), from `start_s` (found by
    seeking, not by decoding everything before it) to `end_s`. Times are the video's own
    presentation times (`frame.time`: pts x time base, as FFmpeg and players read them), not
    counted from its first frame: a stream whose start_time is 0.85 s gives 0.85 first, where the
    frame plays beside the sound; `start_s` and `end_s` are in the same times, whatever part is
    read. The first frame is decoded on opening, to fail early.
    Frames larger than `max_side` pixels per side are refused from the stream's header, before
    any is decoded; a stream may change size mid-way, so FFmpeg's decoder is also held to
    about `max_side` squared pixels, which it checks from each frame's own header before taking
    the frame's memory, and each decoded frame's sides are checked before it is converted.
    Frames come upright: a phone stores portrait video sideways with a display matrix saying
    how to turn it, and each frame is turned as players show it (quarter turns; flips are not
    applied). A video ends early ("truncated") when its last frame comes well before the end its
    container states; the frame count a header gives is an estimate (variable frame rates) and
    only words the message.
    """

    def __init__(
        self, spec: str, path: str, *, start_s: float = 0.0, end_s: float | None = None,
        max_side: int = DEFAULT_MAX_IMAGE_SIDE, decode_threads: int | None = None,
    ) -> None:
        import av

        if not (math.isfinite(start_s) and start_s >= 0):
            raise ValueError(f"start_s must be a number of seconds >= 0, got {start_s!r}")
        if end_s is not None and not end_s > start_s:
            raise ValueError(f"end_s must be after start_s ({start_s!r} s), got {end_s!r}")
        try:
            self._container = av.open(path)
        except (av.FFmpegError, OSError, UnicodeDecodeError):
            raise SourceError(f"cannot open video {spec!r}: not a video FFmpeg can read") from None
        try:
            if not self._container.streams.video:
                raise SourceError(f"cannot open video {spec!r}: it has no video stream")
            stream = self._container.streams.video[0]
            self.spec, self._max_side = spec, max_side  # _check_size names it before FrameSource.__init__ runs
            self._codec = stream.codec_context
            self._check_size(self._codec.width, self._codec.height)
            self._codec.options = {"max_pixels": str(decoder_pixel_limit(max_side))}
            if decode_threads is None:
                stream.thread_type = "AUTO"  # frame and slice threads: decoding keeps up on two cores
            else:
                stream.codec_context.thread_count = decode_threads
            self._time_base = stream.time_base
            self.start_time_s = float((stream.start_time or 0) * stream.time_base)
            """The presentation time of the stream's first frame."""
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else None
            duration = float(stream.duration * stream.time_base) if stream.duration else (
                self._container.duration / 1e6 if self._container.duration else None
            )
            self.start_s, self.end_s, self.duration_s = float(start_s), end_s, duration
            self._ending = _Ending(
                stated_end_s=None if duration is None else self.start_time_s + duration, fps=fps,
                stated_frames=stream.frames if start_s == 0 and end_s is None else 0,
                part_from_s=max(self.start_s, self.start_time_s), part_end_s=end_s,
            )
            if start_s > 0:
                target = int(Fraction(start_s) / self._time_base)  # exact: a float divided may be inf
                if target > LAST_TIMESTAMP:  # no frame can come after a time FFmpeg cannot even stamp
                    raise SourceError(f"video {spec!r} opened but gave no frame after {start_s:g} s")
                self._container.seek(target, stream=stream, backward=True)
            self._frames = self._container.decode(stream)
            first = self._read()
            if first is None:
                raise SourceError(f"video {spec!r} opened but gave no frame" + (f" after {start_s:g} s" if start_s else ""))
            count = stream.frames if stream.frames and start_s == 0 and end_s is None else None
            super().__init__(spec, first, fps=fps, frame_count=count)
        except BaseException:
            self._container.close()
            raise

    def _read(self) -> tuple[np.ndarray, float] | None:
        import av

        while True:
            try:
                frame = next(self._frames, None)
            except (av.FFmpegError, OSError) as error:  # damaged data mid-file: the video ends here
                self._refuse_if_oversized(error)
                frame = None
            if frame is None:
                self._note_end()
                return None
            if frame.pts is None:
                continue
            time_s = float(frame.pts * self._time_base)
            if time_s < self.start_s - 1e-6:  # the seek lands on the key frame before start_s
                continue
            if self.end_s is not None and time_s >= self.end_s:
                self.end_reason = f"reached --end {self.end_s:g} s"
                return None
            self._check_size(frame.width, frame.height)
            self._ending.saw(time_s)
            return upright(frame), time_s

    def _check_size(self, width: int, height: int) -> None:
        try:
            check_picture_size(width, height, self._max_side, what="video frame")
        except ImageError as error:
            raise SourceError(f"cannot read video {self.spec!r}: {error}") from None

    def _refuse_if_oversized(self, error: Exception) -> None:
        """SourceError when the decoder failed on a frame over its pixel limit (FFmpeg then says only
        EINVAL, and leaves the codec's size at 0x0, or at the size it refused); else nothing."""
        if getattr(error, "errno", None) != errno.EINVAL:
            return
        width, height = self._codec.width, self._codec.height
        if width and height:
            self._check_size(width, height)
            return
        after = self._ending.last_s
        raise SourceError(
            f"cannot read video {self.spec!r}: a video frame" + ("" if after is None else f" after {after:g} s")
            + f" has more than {self._max_side}x{self._max_side} pixels (--max-image-side raises the limit)"
        )

    def _note_end(self) -> None:
        self.end_reason = "end of video"
        shortfall = self._ending.shortfall(self.spec)
        if shortfall is not None:
            self.truncated = True
            self.end_reason = f"{shortfall}: the file looks truncated"

    def _release(self) -> None:
        self._container.close()


_QUARTER_TURNS = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


def upright(frame) -> np.ndarray:
    """A decoded PyAV frame as (H, W, 3) uint8 BGR, turned as its display matrix says it is shown
    (`frame.rotation`: degrees counter-clockwise; a phone's portrait video reads -90), to the
    nearest quarter turn."""
    image = frame.to_ndarray(format="bgr24")
    turns = round(frame.rotation / 90) % 4
    return cv2.rotate(image, _QUARTER_TURNS[turns]) if turns else image


def decoder_pixel_limit(max_side: int) -> int:
    """FFmpeg's `max_pixels` for frames of at most `max_side` pixels per side (an int in FFmpeg)."""
    return min((max_side + DECODER_PIXEL_SLACK) ** 2, 2**31 - 1)


@dataclass
class _Ending:
    """Whether a video's frames reach the end its container states, from each frame's own time (a
    header's frame count is an estimate: a variable-rate video has fewer frames than its nominal
    rate times its length). `stated_frames` (0: none) only words the message."""

    stated_end_s: float | None
    fps: float | None
    stated_frames: int
    part_from_s: float
    part_end_s: float | None
    last_s: float | None = None
    frames: int = 0
    longest_gap_s: float = 0.0

    def saw(self, time_s: float) -> None:
        if self.last_s is not None:
            self.longest_gap_s = max(self.longest_gap_s, time_s - self.last_s)
        self.last_s, self.frames = time_s, self.frames + 1

    def shortfall(self, spec: str) -> str | None:
        """How the video falls short of its stated end, in words, or None when it does not."""
        if self.stated_end_s is None or not math.isfinite(self.stated_end_s):
            return None
        end = self.stated_end_s if self.part_end_s is None else min(self.part_end_s, self.stated_end_s)
        reached = self.part_from_s if self.last_s is None else self.last_s
        tolerance = max(TRUNCATION_TOLERANCE * max(end - self.part_from_s, 0.0), self.longest_gap_s,
                        2.0 / self.fps if self.fps else 0.0)
        if end - reached <= tolerance:
            return None
        if self.stated_frames:
            return f"{spec!r} ended after {self.frames} of {self.stated_frames} frames"
        return f"{spec!r} ended at {_seconds(reached)} s, not at {_seconds(end)} s as its container says"


def _seconds(value: float) -> str:
    """Seconds to the millisecond, without exponents or trailing zeros: 0.967, 6, 978285600."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


class CaptureSource(FrameSource):
    """A cv2.VideoCapture: a camera or a stream, stamped by a monotonic clock from its first frame.
    The first frame is read on opening, to fail early."""

    is_live = True

    def __init__(self, spec: str, capture, *, first: np.ndarray) -> None:
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if math.isfinite(fps) and fps > 0 else None
        self._capture = capture
        self._clock = MonotonicClock()
        super().__init__(spec, (_as_bgr(first), self._clock()), fps=fps, frame_count=None)

    def _read(self) -> tuple[np.ndarray, float] | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            self.end_reason = "the camera or stream stopped sending frames"
            return None
        return _as_bgr(image), self._clock()

    def _release(self) -> None:
        self._capture.release()


class ImageSequenceSource(FrameSource):
    """Image files read one at a time, `1 / fps` seconds apart.

    An image that cannot be read raises SourceError, unless `on_unreadable` is given: then that
    is called with the error and the sequence goes on with the next image (as `emocap image`
    does), each image keeping the time of its place in the folder.
    """

    stills = True

    def __init__(
        self, spec: str, paths: list[Path], *, fps: float, max_side: int = DEFAULT_MAX_IMAGE_SIDE,
        on_unreadable: Callable[[SourceError], None] | None = None,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"image_fps must be positive, got {fps!r}")
        self.spec = spec  # _read names it in errors before FrameSource.__init__ has run
        self.paths = tuple(paths)
        self._interval = 1.0 / fps
        self._max_side = max_side
        self._on_unreadable = on_unreadable
        self._next = 0
        first = self._read()
        if first is None:
            raise SourceError(f"no image in {spec!r} could be read")
        super().__init__(spec, first, fps=fps, frame_count=len(paths))

    def _read(self) -> tuple[np.ndarray, float] | None:
        while self._next < len(self.paths):
            index = self._next
            self._next += 1
            try:
                return read_image(self.paths[index], max_side=self._max_side), index * self._interval
            except SourceError as error:
                if self._on_unreadable is None:
                    raise
                self._on_unreadable(error)
        self.end_reason = "no more images"
        return None


class ScreenSource(FrameSource):
    """A region of the screen grabbed with `mss`, at most `max_fps` times a second."""

    is_live = True

    def __init__(self, spec: str, region: ScreenRegion | None, *, max_fps: float | None) -> None:
        if max_fps is not None and not max_fps > 0:
            raise ValueError(f"max_fps must be positive or None, got {max_fps!r}")
        import mss  # only screen capture needs it

        # mss 10 renamed the factory to MSS; 9.x (allowed by pyproject) has only mss.mss.
        make_grabber = getattr(mss, "MSS", None) or mss.mss
        try:
            self._grabber = make_grabber()
        except Exception as error:  # mss raises its own ScreenShotError, or OS errors, without a display
            raise SourceError(f"cannot capture the screen ({spec!r}): {first_line(error)}") from error
        try:
            self.spec, self.region = spec, _region_on_screen(spec, region, self._grabber.monitors)
            first = self._grab()
        except BaseException:
            self._grabber.close()
            raise
        self._interval = 1.0 / max_fps if max_fps else 0.0
        self._clock = MonotonicClock()
        super().__init__(spec, (first, self._clock()), fps=max_fps, frame_count=None)
        self._due = time.monotonic() + self._interval

    def _grab(self) -> np.ndarray:
        try:
            shot = self._grabber.grab(self.region.as_mss())
        except Exception as error:  # see above: mss's error types depend on the platform
            raise SourceError(f"cannot capture the screen ({self.spec!r}): {first_line(error)}") from error
        # BGRA -> BGR; the copy makes it contiguous for OpenCV drawing.
        return np.ascontiguousarray(np.asarray(shot)[:, :, :3])

    def _read(self) -> tuple[np.ndarray, float] | None:
        if self._interval:
            wait = self._due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._due = max(self._due + self._interval, time.monotonic())
        try:
            image = self._grab()
        except SourceError as error:
            self.end_reason = str(error)
            return None
        return image, self._clock()

    def _release(self) -> None:
        self._grabber.close()


def sample_clip() -> Path:
    """The bundled sample video (two public-domain portraits; see emocap/samples/README.md)."""
    return Path(__file__).resolve().parent / "samples" / SAMPLE_CLIP_NAME


def open_source(
    spec: str, *, max_fps: float | None = None, image_fps: float = DEFAULT_IMAGE_FPS,
    max_image_side: int = DEFAULT_MAX_IMAGE_SIDE, on_unreadable_image: Callable[[SourceError], None] | None = None,
) -> FrameSource:
    """Open the source a user named (see the module docstring for the forms).

    max_fps caps how often the screen is grabbed (cameras and files keep their own pace).
    image_fps spaces the time stamps of photos and image folders; max_image_side and
    on_unreadable_image are as in `ImageSequenceSource`.
    Raises SourceError, with the spec quoted, when the source cannot be opened.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError(f"no source given ({spec!r}); use a camera index, a video, an image, a folder or 'screen'")
    spec = spec.strip()
    if spec.isdecimal() and spec.isascii():  # isdigit() also accepts '²', which int() refuses
        return _open_capture(spec, int(spec), what=f"camera {spec}", max_side=max_image_side)
    if _SCREEN_SPEC.fullmatch(spec):
        return ScreenSource(spec, parse_screen_spec(spec), max_fps=max_fps)
    if spec.lower().startswith(STREAM_SCHEMES):
        return _open_capture(spec, spec, what="stream", max_side=max_image_side)
    return open_path(spec, image_fps=image_fps, what="file, folder or camera", max_image_side=max_image_side,
                     on_unreadable_image=on_unreadable_image)


def open_path(
    path: str | Path, *, image_fps: float = DEFAULT_IMAGE_FPS, what: str = "file or folder",
    max_image_side: int = DEFAULT_MAX_IMAGE_SIDE, on_unreadable_image: Callable[[SourceError], None] | None = None,
    start_s: float = 0.0, end_s: float | None = None, decode_threads: int | None = None,
) -> FrameSource:
    """A video, image or folder of images by its path, never read as a camera index, screen or URL
    (a video that a program found on disk may well be named '5' or 'screen'). `decode_threads`: FFmpeg's
    threads for a video (None: as many as suit the machine)."""
    spec = str(path)
    path = Path(path).expanduser()
    if path.is_dir():
        return ImageSequenceSource(spec, folder_images(path, spec), fps=image_fps, max_side=max_image_side,
                                   on_unreadable=on_unreadable_image)
    if not path.is_file():
        raise SourceError(no_such_input(path, spec, what))
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSequenceSource(spec, [path], fps=image_fps, max_side=max_image_side)
    return VideoFileSource(spec, str(path), start_s=start_s, end_s=end_s, max_side=max_image_side,
                           decode_threads=decode_threads)


_SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def no_such_input(path: Path, spec: str, what: str) -> str:
    """Why `path`, given as `spec`, is neither a regular file nor a folder to read: missing, or a
    special file (reading a FIFO would wait for a writer; a device has no end)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"no such {what}: {spec!r}"
    except OSError as error:
        return f"cannot read {what} {spec!r}: {error.strerror}"
    kind = next((kind for is_kind, kind in _SPECIAL_FILES if is_kind(mode)), None)
    return f"{spec!r} is {kind}, not a regular file" if kind else f"no such {what}: {spec!r}"


def _region_on_screen(spec: str, region: ScreenRegion | None, monitors: list[dict]) -> ScreenRegion:
    """The region to grab: the primary monitor when none is given; SourceError when it is off the screen."""
    everything = monitors[0]
    if region is None:
        primary = monitors[1] if len(monitors) > 1 else everything
        return ScreenRegion(primary["left"], primary["top"], primary["width"], primary["height"])
    if not region.inside(everything):
        raise SourceError(
            f"screen region {spec!r} is outside the screen, which spans X,Y,W,H = "
            f"{everything['left']},{everything['top']},{everything['width']},{everything['height']}"
        )
    return region


def parse_screen_spec(spec: str) -> ScreenRegion | None:
    """'screen' -> None (the primary monitor); 'screen:X,Y,W,H' -> that region. SourceError otherwise."""
    match = _SCREEN_SPEC.fullmatch(spec.strip())
    if match is None:
        raise SourceError(f"not a screen source: {spec!r} (expected 'screen' or 'screen:X,Y,W,H')")
    region = match.group("region")
    if region is None:
        return None
    parts = [part.strip() for part in region.split(",")]
    if len(parts) != 4 or not all(re.fullmatch(r"-?\d+", part) for part in parts):
        raise SourceError(f"bad screen region {spec!r}: expected 'screen:X,Y,W,H' with four whole numbers")
    try:
        return ScreenRegion(*(int(part) for part in parts))
    except ValueError as error:
        raise SourceError(f"bad screen region {spec!r}: {error}") from error


def folder_images(folder: Path, spec: str) -> list[Path]:
    """Image files directly in `folder`, in natural order (frame2.png before frame10.png); SourceError if none."""
    try:
        entries = list(folder.iterdir())
    except OSError as error:
        raise SourceError(f"cannot read folder {spec!r}: {error.strerror}") from None
    files = sorted((p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
    if not files:
        raise SourceError(f"folder {spec!r} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def natural_key(path: Path) -> tuple:
    """Sort key that compares runs of digits as numbers."""
    return tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part.lower())
        for part in re.split(r"(\d+)", path.name)
        if part
    )


def _open_capture(spec: str, target: int | str, *, what: str, max_side: int = DEFAULT_MAX_IMAGE_SIDE) -> CaptureSource:
    try:
        target = opencv_text(target) if isinstance(target, str) else target
    except ValueError:
        raise SourceError(f"cannot open {what} {spec!r}: it is not UTF-8 text, which OpenCV needs") from None
    with _quiet_opencv():
        capture = cv2.VideoCapture(target)
    try:
        if not capture.isOpened():
            raise SourceError(_cannot_open(spec, what))
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        try:  # the size the camera or stream announces, before its first frame is read
            check_picture_size(width, height, max_side, what="frame")
        except ImageError as error:
            raise SourceError(f"cannot read {what} {spec!r}: {error}") from None
        ok, first = capture.read()
        if not ok or first is None:
            raise SourceError(f"{what} {spec!r} opened but gave no frame")
        return CaptureSource(spec, capture, first=first)
    except BaseException:
        capture.release()
        raise


def _cannot_open(spec: str, what: str) -> str:
    if what.startswith("camera"):
        return f"cannot open {what} ({spec!r}): no such camera, or another program is using it"
    return f"cannot open stream {spec!r}: unreachable, or not a stream OpenCV can read"


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """Some cameras deliver grayscale or BGRA; the pipeline always gets (H, W, 3)."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs WARN/ERROR lines to stderr while probing backends; our SourceError says it in one line."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)
