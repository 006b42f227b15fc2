"""Small files that claim huge pictures: a PNG and a video whose headers say tens of thousands of
pixels per side, built in a few megabytes of memory (rows of zeros compressed as they stream);
and videos as phones and screen recorders make them: stored sideways with a display matrix, or
at a variable frame rate under a nominal one."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def black_png_bytes(width: int, height: int) -> bytes:
    """A valid 8-bit greyscale PNG of `width` x `height` black pixels, compressed row by row so that
    the picture itself is never in memory (30000x30000 is about 0.9 MB)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then the row's pixels
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few bytes whose header claims `width` x `height` greyscale pixels and whose data
    holds one row: whatever decodes it allocates the whole picture before finding the data short."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(bytes(width + 1)))
        + _png_chunk(b"IEND", b"")
    )


def write_black_png(path: Path, width: int, height: int) -> Path:
    path.write_bytes(black_png_bytes(width, height))
    return path


def write_huge_frame_video(path: Path, side: int = 16000, frames: int = 1) -> Path:
    """A video (container from the suffix: .avi, .mkv) whose one `png` stream is `side` x `side`
    pixels, with `frames` black frames muxed as ready-made PNG packets (no encoder runs)."""
    picture = black_png_bytes(side, side)
    return _write_png_packets(path, side, [picture] * frames)


def write_growing_video(path: Path, *, first_side: int = 64, then_side: int = 16000) -> Path:
    """An AVI whose header and first frame are `first_side` pixels square and whose second frame is
    `then_side` (ready-made PNG packets: nothing is encoded or held at the large size)."""
    pictures = [black_png_bytes(first_side, first_side), black_png_bytes(then_side, then_side)]
    return _write_png_packets(path, first_side, pictures)


def _write_png_packets(path: Path, header_side: int, pictures: list[bytes]) -> Path:
    """A one-frame-a-second `png` stream whose header says `header_side` square, of `pictures` as they are."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=1)
        stream.width = stream.height = header_side
        stream.pix_fmt = "gray"
        for index, picture in enumerate(pictures):
            packet = av.Packet(picture)
            packet.stream = stream
            packet.pts = packet.dts = index
            packet.time_base = Fraction(1, 1)
            packet.is_keyframe = True
            container.mux(packet)
    return path


def stored_sideways(upright, display_rotation: int):
    """The picture a camera stores for `upright` when it records a display matrix that turns it
    `display_rotation` degrees counter-clockwise (a phone held upright: -90)."""
    import numpy as np

    return np.ascontiguousarray(np.rot90(upright, -display_rotation // 90))


def write_h264_video(path: Path, images_bgr, *, stamps_ms=None, nominal_fps: int = 30, display_rotation: int = 0) -> Path:
    """An H.264 video (container from the suffix: .mp4, .mkv) of `images_bgr` as stored, at `stamps_ms`
    (default: `nominal_fps` apart; the header says `nominal_fps` either way), with a display matrix that
    turns each frame `display_rotation` degrees counter-clockwise (0: none)."""
    import av

    stamps_ms = list(stamps_ms) if stamps_ms is not None else [round(1000 * i / nominal_fps) for i in range(len(images_bgr))]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=nominal_fps)
        stream.height, stream.width = images_bgr[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if display_rotation:
            stream.set_display_rotation(display_rotation)
        for image, stamp in zip(images_bgr, stamps_ms):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = stamp, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path

