"""Memory running out, or a picture beyond what OpenCV decodes, after --max-image-side let it
through: one line, not a cv2.error traceback (issue 43, point 8).

The PNGs are a few kilobytes whose headers claim the size (the refusal or the allocation comes before any
pixel is read); the run that allocates is held to an address space far below what it asks for."""

from __future__ import annotations

import os
import resource

from hostile_media import png_claiming
from processes import emocap_process

ADDRESS_SPACE_LIMIT = 3 * 2**30
"""Room to start (about 1 GB here), far from the 3 GB a 32000x32000 picture needs besides."""


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def test_memory_running_out_while_decoding_is_one_line(tmp_path):
    photo = tmp_path / "huge.png"
    photo.write_bytes(png_claiming(32000, 32000))
    threads_of_one = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = emocap_process("image", photo, "--max-image-side", "40000", preexec_fn=_limit_address_space,
                          env={**os.environ, **threads_of_one}, timeout=120)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == ["emocap image: error: out of memory (OpenCV: Failed to allocate 3072000000 bytes)"]


def test_a_picture_beyond_what_opencv_decodes_is_one_line(tmp_path):
    photo = tmp_path / "huge.png"
    photo.write_bytes(png_claiming(40000, 40000))
    done = emocap_process("image", photo, "--max-image-side", "40000", timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"emocap image: error: cannot decode image {str(photo)!r}: PNG image of 40000x40000 "
        "pixels is more than the 1073741824 pixels OpenCV decodes"
    ]
