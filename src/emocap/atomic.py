"""Write outputs so that a crash or an error never leaves a half-written file."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator

from emocap.errors import OutputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    The temporary file keeps the final suffix, so libraries that pick a format
    by extension (OpenCV's VideoWriter, matplotlib) still do the right thing.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"cannot write {str(target)!r}: folder {str(directory)!r} does not exist")
    if target.is_dir():
        raise OutputError(f"cannot write {str(target)!r}: it is a folder")
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=directory
        )
    except OSError as error:
        raise OutputError(f"cannot write {str(target)!r}: {error.strerror}") from error
    os.close(handle)
    temporary_path = Path(temporary)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    os.chmod(temporary_path, 0o666 & ~_UMASK)
    try:
        yield temporary_path
    except OSError as error:
        temporary_path.unlink(missing_ok=True)
        if error.errno in _OUTPUT_ERRNOS:
            raise OutputError(f"cannot write {str(target)!r}: {error.strerror}") from error
        raise
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise
    try:
        _flush_to_disk(temporary_path)  # else a crash soon after the rename can leave an empty file
        os.replace(temporary_path, target)
    except OSError as error:
        temporary_path.unlink(missing_ok=True)
        raise OutputError(f"cannot write {str(target)!r}: {error.strerror or error}") from error


_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
"""Errors of writing that the user can act on (a full disk or quota, a file too large, a failing disk)."""


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
"""Read once at import: os.umask can only be read by setting it, which is not safe while other threads create files."""


def _flush_to_disk(path: Path) -> None:
    with open(path, "rb") as stream:
        os.fsync(stream.fileno())


@contextlib.contextmanager
def atomic_text(path: str | os.PathLike, newline: str | None = None) -> Iterator:
    """Open a text file for writing that appears at `path` only when complete."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline=newline) as stream:
            yield stream


def atomic_json(path: str | os.PathLike, value) -> None:
    """Write `value` as indented JSON (NaN written as null, which JSON has no other way to say)."""
    with atomic_text(path) as stream:
        json.dump(_nan_as_null(value), stream, indent=2, allow_nan=False)
        stream.write("\n")


def _nan_as_null(value):
    if isinstance(value, dict):
        return {key: _nan_as_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_as_null(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
