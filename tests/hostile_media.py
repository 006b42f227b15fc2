"""Small files that claim huge pictures: a PNG and a video whose headers say tens of thousands of
pixels per side, built in a few megabytes of memory (rows of zeros compressed as they stream)."""

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
    import av

    picture = black_png_bytes(side, side)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=1)
        stream.width = stream.height = side
        stream.pix_fmt = "gray"
        for index in range(frames):
            packet = av.Packet(picture)
            packet.stream = stream
            packet.pts = packet.dts = index
            packet.time_base = Fraction(1, 1)
            packet.is_keyframe = True
            container.mux(packet)
    return path
