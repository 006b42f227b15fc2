"""The `emocap live` window for real: on a virtual screen (Xvfb), driven with real key presses (xdotool).

The window is screenshotted with `mss` (the library the screen source uses)
and the screenshot kept as a test artifact. Skips only where Xvfb or xdotool
is not installed (scripts/install-test-tools.sh installs both).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from chromium import save_artifact
from emocap.labels import VALENCE_COLOURS_BGR
from emocap.sources import sample_clip

pytestmark = [
    pytest.mark.skipif(not shutil.which("xdotool"), reason="xdotool is not installed (run scripts/install-test-tools.sh)"),
    pytest.mark.slow,  # a window on Xvfb
]

WINDOW_NAME = "emocap"


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value is not None and value is not False and (not hasattr(value, "__len__") or len(value)):
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def window_id(env: dict) -> str | None:
    found = subprocess.run(["xdotool", "search", "--name", WINDOW_NAME], env=env, capture_output=True, text=True)
    ids = found.stdout.split()
    return ids[0] if ids else None


def press(env: dict, window: str, key: str) -> None:
    subprocess.run(["xdotool", "key", "--window", window, key], env=env, check=True, capture_output=True)


def screenshot(env: dict, size: tuple[int, int]) -> np.ndarray:
    """The whole virtual screen as BGR, grabbed in a child process that talks to that display."""
    grab = (
        "import sys, mss, numpy as np; s = mss.MSS() if hasattr(mss, 'MSS') else mss.mss(); "
        "shot = s.grab(s.monitors[1]); sys.stdout.buffer.write(np.asarray(shot)[:, :, :3].tobytes())"
    )
    raw = subprocess.run([sys.executable, "-c", grab], env=env, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size[1], size[0], 3)


def valence_pixels(image_bgr: np.ndarray) -> int:
    """Pixels painted exactly in one of the overlay's valence colours (boxes, caption bands, bars)."""
    colours = np.array(list(VALENCE_COLOURS_BGR.values()), np.int16)
    same = (image_bgr[:, :, None, :].astype(np.int16) == colours[None, None]).all(axis=3)
    return int(same.any(axis=2).sum())


def test_window_shows_captions_and_obeys_snapshot_pause_and_quit_keys(virtual_screen, tmp_path):
    env = virtual_screen.env
    live = subprocess.Popen(
        [sys.executable, "-m", "emocap", "live", "--source", str(sample_clip()), "--snapshot-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        window = wait_for(lambda: window_id(env), 60, "the emocap window")
        # The sample clip opens on a face; its caption shows once the smoother has settled on it.
        def captioned_screen():
            shot = screenshot(env, virtual_screen.size)
            return shot if valence_pixels(shot) > 500 else None

        shot = wait_for(captioned_screen, 90, "a face box and caption in a valence colour")
        ok, png = cv2.imencode(".png", shot)
        assert ok
        save_artifact(tmp_path / "live_window.png", png.tobytes())

        press(env, window, "s")
        snapshots = wait_for(lambda: sorted(tmp_path.glob("emocap-*.png")), 10, "a snapshot file")
        saved = cv2.imread(str(snapshots[0]))
        assert saved is not None and saved.shape == (360, 640, 3)  # the annotated frame, at the clip's size

        press(env, window, "space")
        time.sleep(0.5)
        assert live.poll() is None  # paused, still running
        press(env, window, "q")
        code = live.wait(timeout=20)
    finally:
        if live.poll() is None:
            live.kill()
    out, err = live.communicate()
    assert code == 0, err
    assert out == "" and "Traceback" not in err
    assert f"saved {snapshots[0]}" in err
