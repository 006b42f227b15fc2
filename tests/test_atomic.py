"""Outputs appear whole or not at all."""

import errno
import json
import math
import os

import pytest

from emocap.atomic import atomic_json, atomic_path, atomic_text
from emocap.errors import OutputError


def test_a_file_appears_only_when_complete_and_keeps_normal_permissions(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_text(target) as stream:
        stream.write("half")
        assert not target.exists()
    assert target.read_text() == "half"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_text(target) as stream:
            stream.write("new")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_the_temporary_keeps_the_suffix_for_format_sniffing_libraries(tmp_path):
    with atomic_path(tmp_path / "plot.png") as temporary:
        assert temporary.suffix == ".png" and temporary.parent == tmp_path
        temporary.write_bytes(b"x")


@pytest.mark.parametrize("where, message", [("missing/out.txt", "does not exist"), ("", "it is a folder")])
def test_unwritable_targets_are_output_errors(tmp_path, where, message):
    with pytest.raises(OutputError, match=message):
        with atomic_text(tmp_path / where):
            pass


def test_json_writes_nan_and_infinity_as_null(tmp_path):
    atomic_json(tmp_path / "f.json", {"a": math.nan, "b": [1.5, math.inf], "c": "x"})
    assert json.loads((tmp_path / "f.json").read_text()) == {"a": None, "b": [1.5, None], "c": "x"}


def test_a_full_disk_is_an_output_error_and_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(OutputError, match=r"cannot write .*out.txt.*: No space left on device"):
        with atomic_text(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_inside_pass_through_unchanged(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_text(tmp_path / "out.txt"):
            open(tmp_path / "an input that is not there")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_is_an_output_error_and_leaves_no_temporary(tmp_path, monkeypatch):
    def refuse(source, target):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputError, match="Invalid cross-device link"):
        with atomic_text(tmp_path / "out.txt") as stream:
            stream.write("whole")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("inside", ["batch", "alone"])
def test_a_signal_during_the_fsync_leaves_no_temporary(tmp_path, monkeypatch, inside):
    """SIGTERM that came while the finished temporary was flushed to disk left a .part of full size."""
    import signal

    from emocap.atomic import all_or_nothing
    from emocap.errors import Terminated

    real_fsync = os.fsync

    def fsync_under_a_signal(descriptor):
        signal.raise_signal(signal.SIGTERM)  # arrives while the disk is being flushed
        return real_fsync(descriptor)

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    monkeypatch.setattr(os, "fsync", fsync_under_a_signal)
    try:
        with pytest.raises(Terminated):
            with all_or_nothing() if inside == "batch" else open(os.devnull):
                with atomic_path(tmp_path / "out.bin") as temporary:
                    temporary.write_bytes(bytes(4096))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []
