"""Images in and out: which files are images, decoding within a size limit, writing whole files.

One definition for every path that reads a picture (`emocap image`, `live` over
photos or folders, the web page's frames, the images of an `evaluate` folder,
and through `check_picture_size` video files, cameras and streams): the header is read first and an
image larger than `max_side` pixels per side is refused before any pixel
memory is taken (an 875 KB PNG can claim 30000x30000 pixels).
JPEG is decoded by Pillow, which reports a damaged file as an error instead of
letting libjpeg print its own "Corrupt JPEG data" line; other formats by OpenCV.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from emocap.errors import OutputError, SourceError, first_line

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".webp", ".tif", ".tiff"})
DEFAULT_MAX_IMAGE_SIDE = 4096
"""Pixels per side: beyond a 4K frame, far more than a face needs (--max-image-side raises it)."""

# Our own limit (max_side) is checked on the header before decoding; Pillow's global one would
# refuse images that the user has allowed with --max-image-side.
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """Bytes that are not an image we decode, or one over the size limit; the message says which."""


def check_bgr_frame(frame_bgr) -> np.ndarray:
    """The frame as a C-contiguous uint8 (H, W, 3) array, or a ValueError saying what is wrong."""
    if not isinstance(frame_bgr, np.ndarray):
        raise ValueError(f"frame must be a numpy array (H, W, 3) of uint8 BGR, got {type(frame_bgr).__name__}")
    if frame_bgr.dtype != np.uint8:
        raise ValueError(f"frame must have dtype uint8 (BGR 0..255), got dtype {frame_bgr.dtype}")
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or min(frame_bgr.shape[:2]) < 1:
        raise ValueError(f"frame must have shape (H, W, 3) with H, W >= 1 (BGR), got shape {frame_bgr.shape}")
    return np.ascontiguousarray(frame_bgr)


def check_picture_size(width: int, height: int, max_side: int, what: str = "image") -> None:
    """ImageError when a picture (an image, a video's frames) is larger than `max_side` pixels per
    side: called with the sizes its header claims, before any pixel memory is taken."""
    if max(width, height) > max_side:
        raise ImageError(
            f"{what} of {width}x{height} pixels is larger than {max_side} per side (--max-image-side raises the limit)"
        )


def image_header(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from an encoded image's header, without decoding its pixels."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            image_format, size, mode = header.format or "unknown", header.size, header.mode
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        if data[:4] in _TIFF_MAGIC:  # a TIFF Pillow cannot read: samples of 32-bit floats, say, in colour
            raise ImageError(f"TIFF image of {len(data)} bytes in a pixel format that is not supported "
                             f"({UNSUPPORTED_PIXELS_HINT})") from error
        raise ImageError(f"not an image ({len(data)} bytes starting {bytes(data[:8])!r})") from error
    if mode == "F":  # OpenCV does not decode them either
        raise ImageError(f"{image_format} image of 32-bit float pixels: its pixel format is not supported "
                         f"({UNSUPPORTED_PIXELS_HINT})")
    return image_format, size[0], size[1]


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
UNSUPPORTED_PIXELS_HINT = "save it with 8- or 16-bit whole-number samples"


def decode_image(
    data: bytes, *, max_side: int = DEFAULT_MAX_IMAGE_SIDE, formats: frozenset[str] | None = None
) -> np.ndarray:
    """Encoded bytes -> (H, W, 3) uint8 BGR. ImageError for anything that is not an image of
    `formats` (None: any Pillow can identify), is larger than `max_side` per side, or is damaged."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side!r}")
    image_format, width, height = image_header(data)
    if formats is not None and image_format not in formats:
        raise ImageError(f"image format {image_format!r} is not one of {', '.join(sorted(formats))}")
    check_picture_size(width, height, max_side)
    if image_format == "JPEG":
        return _decode_jpeg(data)
    if width * height > _OPENCV_MAX_PIXELS:  # OpenCV would refuse it in an assertion's words
        raise ImageError(f"{image_format} image of {width}x{height} pixels is more than the {_OPENCV_MAX_PIXELS} "
                         "pixels OpenCV decodes")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as error:
        if error.code == cv2.Error.StsNoMem:
            raise  # out of memory: the run's problem, not this image's (said in a line by the command)
        raise ImageError(f"{image_format} image of {width}x{height} pixels could not be decoded: {error.err}") from None
    if image is None:
        raise ImageError(f"{image_format} image of {len(data)} bytes could not be decoded")
    return image


_OPENCV_MAX_PIXELS = int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30))
"""The most pixels OpenCV decodes in one image (its default, or what its environment variable says)."""


def _decode_jpeg(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image)  # as OpenCV's imread does: EXIF orientation applied
            rgb = np.asarray(upright if upright.mode == "RGB" else upright.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as error:  # truncated or corrupt data
        raise ImageError(f"damaged JPEG ({len(data)} bytes): {first_line(error)}") from None
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def opencv_text(text: str) -> str:
    """`text` (a URL, a file name) as OpenCV's bindings can take it, or ValueError: they encode a str
    as UTF-8 and crash the process (a segfault, exit 139) on one that cannot be, as a file name whose
    bytes are not UTF-8 (Python keeps them as surrogates). Files are better not named to OpenCV at
    all: read and write their bytes in Python (read_image, write_image) and let OpenCV decode them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{text!r} is not UTF-8 text, which OpenCV needs") from None
    return text


def can_write_image(path: str | os.PathLike) -> bool:
    """Whether OpenCV has an encoder for the format `path`'s suffix names (.png, .jpg, ...), asked of
    the suffix alone so that the rest of the name never reaches OpenCV."""
    suffix = Path(path).suffix
    try:
        return bool(suffix) and cv2.haveImageWriter(f"image{opencv_text(suffix)}")
    except ValueError:
        return False


def read_image(path: str | os.PathLike, *, max_side: int = DEFAULT_MAX_IMAGE_SIDE) -> np.ndarray:
    """An image file as (H, W, 3) uint8 BGR, or a one-line SourceError quoting the file when it cannot
    be read, cannot be decoded, or is larger than `max_side` pixels per side: the one reader of image
    files (a photo, a folder's frames), the twin of write_image and its OutputError. Bytes already in
    memory (the web page's frames) go to decode_image, whose ImageError the caller words."""
    try:  # bytes, then decode (not cv2.imread): it also handles non-ASCII paths on Windows
        data = Path(path).read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read image {str(path)!r}: {error.strerror or error}") from None
    try:
        return decode_image(data, max_side=max_side)
    except ImageError as error:
        raise SourceError(f"cannot decode image {str(path)!r}: {error}") from None


def write_image(path: str | os.PathLike, image_bgr) -> Path:
    """Save a BGR image in the format its suffix names; it appears at `path` only when complete."""
    from emocap.atomic import atomic_path

    target = Path(path)
    # Encoded in memory and written by Python: a full disk is then an OSError that atomic_path
    # words with its reason, where cv2.imwrite let libpng print its own line and said only False,
    # and cv2.imwrite crashes the process on a name that is not UTF-8 (a segfault).
    try:
        encoded, data = cv2.imencode(target.suffix, image_bgr)
    except cv2.error as error:  # no writer for the suffix, an empty image
        reason = getattr(error, "err", None) or first_line(error)
        raise OutputError(f"cannot write image {str(target)!r}: {reason}") from None
    if not encoded:
        raise OutputError(f"cannot write image {str(target)!r}: it could not be encoded as {target.suffix}")
    with atomic_path(target) as temporary:
        temporary.write_bytes(data.tobytes())
    return target
