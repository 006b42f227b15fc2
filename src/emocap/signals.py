"""Ctrl+C and SIGTERM: one handler for both, raised where the program is (KeyboardInterrupt,
Terminated) so that `finally` blocks and atomic outputs clean up; and held through the stretches
where an exception raised there would be lost or would leave something half done.

Held: the renames that place a run's outputs (all or none), and every call into Ray. Ray's C++ side
runs Python's handlers while it waits and drops or mangles what they raise (a lost Ctrl+C, a
Terminated wrapped in a SystemError), and `ray.init` puts in handlers of its own that exit with no
message. A signal held is raised as itself when the stretch ends, under the program's own handlers.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

from emocap.errors import Terminated

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def raise_stop(signum: int, frame) -> None:
    """The handler of both: SIGINT raises KeyboardInterrupt, SIGTERM raises Terminated."""
    if signum == signal.SIGINT:
        raise KeyboardInterrupt()
    raise Terminated()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # signal handlers live there only


@contextlib.contextmanager
def stop_signals_raised() -> Iterator[None]:
    """`raise_stop` for SIGINT and SIGTERM through the block (not for one that the parent process set to
    be ignored, as a shell does for a job in the background); what was there before, after it."""
    if not _in_main_thread():
        yield
        return
    previous = {number: signal.signal(number, raise_stop) for number in STOP_SIGNALS
                if signal.getsignal(number) is not signal.SIG_IGN}
    try:
        yield
    finally:
        _put_back(previous)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """SIGINT and SIGTERM delayed to the end of the block, where each one that came is raised as it
    came, under the handlers in place before the block (and put back even where code in the block
    replaced them). Only the main thread can set handlers; elsewhere the block runs as it is."""
    if not _in_main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {number: signal.signal(number, lambda received, _frame: arrived.append(received))
                for number in STOP_SIGNALS}
    try:
        yield
    finally:
        _put_back(previous)
        for number in dict.fromkeys(arrived):  # each kind once: a second Ctrl+C says no more than the first
            signal.raise_signal(number)


def _put_back(previous: dict) -> None:
    for number, handler in previous.items():
        signal.signal(number, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
