"""Write outputs so that a crash or an error never leaves a half-written file."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator

from emocap.errors import OutputError
from emocap.signals import held


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    The temporary file keeps the final suffix, so libraries that pick a format
    by extension (OpenCV's VideoWriter, matplotlib) still do the right thing.
    Inside `all_or_nothing`, the rename waits for the block's end.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"cannot write {str(target)!r}: folder {str(directory)!r} does not exist")
    if target.is_dir():
        raise OutputError(f"cannot write {str(target)!r}: it is a folder")
    with held():  # a signal between making the temporary and the `try` that removes it would leave it
        try:
            handle, temporary = tempfile.mkstemp(
                prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=directory
            )
        except OSError as error:
            raise OutputError(f"cannot write {str(target)!r}: {error.strerror}") from error
        temporary_path = Path(temporary)
        os.close(handle)
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(temporary_path, 0o666 & ~_UMASK)
        yield temporary_path
        _flush_to_disk(temporary_path, target)  # else a crash soon after the rename can leave an empty file
        batch = _BATCH.get()
        if batch is not None:
            batch.append((temporary_path, target))
        else:
            _place([(temporary_path, target)])
    except BaseException as error:  # a signal in the fsync too (a .part of full size was left)
        temporary_path.unlink(missing_ok=True)  # gone already where it was placed
        if isinstance(error, OSError) and error.errno in _OUTPUT_ERRNOS:
            raise OutputError(f"cannot write {str(target)!r}: {error.strerror}") from error
        raise


_BATCH: contextvars.ContextVar[list[tuple[Path, Path]] | None] = contextvars.ContextVar("emocap_batch", default=None)
"""The finished temporaries of the `all_or_nothing` block being run, with the paths they go to."""


@contextlib.contextmanager
def all_or_nothing() -> Iterator[None]:
    """Every output finished inside the block appears when the block ends, all together, or none does:
    a run that fails or is interrupted at its last output (a full disk, SIGTERM) leaves none of the
    others either. Nested blocks belong to the outermost."""
    if _BATCH.get() is not None:
        yield
        return
    pending: list[tuple[Path, Path]] = []
    token = _BATCH.set(pending)
    try:
        yield
    except BaseException:
        for temporary, _ in pending:
            temporary.unlink(missing_ok=True)
        raise
    finally:
        _BATCH.reset(token)
    _place(pending)


def _place(pending: list[tuple[Path, Path]]) -> None:
    """Rename each temporary onto its path, with SIGINT and SIGTERM held until all are placed; when a
    rename fails, the ones placed before it are removed too and the rest discarded."""
    placed: list[Path] = []
    with held():
        for index, (temporary, target) in enumerate(pending):
            try:
                os.replace(temporary, target)
            except OSError as error:
                for path in placed:
                    path.unlink(missing_ok=True)
                for rest, _ in pending[index:]:
                    rest.unlink(missing_ok=True)
                raise OutputError(f"cannot write {str(target)!r}: {error.strerror or error}") from error
            placed.append(target)


_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
"""Errors of writing that the user can act on (a full disk or quota, a file too large, a failing disk)."""


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
"""Read once at import: os.umask can only be read by setting it, which is not safe while other threads create files."""


def _flush_to_disk(path: Path, target: Path) -> None:
    try:
        with open(path, "rb") as stream:
            os.fsync(stream.fileno())
    except OSError as error:
        raise OutputError(f"cannot write {str(target)!r}: {error.strerror or error}") from error


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
