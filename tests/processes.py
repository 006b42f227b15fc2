"""Running emocap as another process and signalling it mid-run, for the tests of how it stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Callable


def terminated_when(argv: list[str], ready: Callable[[subprocess.Popen], bool], *, env: dict | None = None,
                    what: str = "the moment to signal", timeout_s: float = 120,
                    signum: int = signal.SIGTERM) -> tuple[int, str]:
    """Start `emocap ARGV`, send it `signum` (SIGTERM) as soon as `ready(process)` is true, and return
    its exit status and stderr (killed after a minute, so a test never hangs on it)."""
    process = subprocess.Popen([sys.executable, "-m", "emocap", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready(process):
            assert process.poll() is None and time.monotonic() < deadline, f"{what} never came"
            time.sleep(0.05)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err
