"""Running emocap as another process and signalling it mid-run, for the tests of how it stops; and
a process's chain of parents, read from /proc, to tell which processes a test started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable


def emocap_process(*argv, env: dict | None = None, timeout: float = 180, **options) -> subprocess.CompletedProcess:
    """`emocap ARGV` run to its end in a process of its own (where a crash cannot take the tests with
    it); arguments may be bytes (names that are not UTF-8), output is text with such bytes kept.
    stdout and stderr are captured unless `options` says where they go."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **options}
    return subprocess.run([sys.executable, "-m", "emocap", *map(os.fsdecode, argv)], text=True,
                          errors="surrogateescape", env=env, timeout=timeout, **options)


def terminated_when(argv: list[str], ready: Callable[[subprocess.Popen], bool], *, env: dict | None = None,
                    what: str = "the moment to signal", timeout_s: float = 120,
                    signum: int = signal.SIGTERM) -> tuple[int, str]:
    """Start `emocap ARGV`, send it `signum` (SIGTERM) as soon as `ready(process)` is true, and return
    its exit status and stderr (killed `timeout_s` after the signal, so a test never hangs on it)."""
    process = subprocess.Popen([sys.executable, "-m", "emocap", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready(process):
            assert process.poll() is None and time.monotonic() < deadline, f"{what} never came"
            time.sleep(0.05)
        process.send_signal(signum)
        _, err = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err


def ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        pid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        chain.append(pid)
    return chain
