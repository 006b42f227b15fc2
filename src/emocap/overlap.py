"""`run_ahead`: the first stage of a frame's work done one frame ahead, on a second thread.

The floor under `live`, `transcription` and `chunking`, which each run part of the pipeline on the
frames of a source as they are decoded: perception's detection (`transcribe`), the whole of
perception (`live`), or both in turn (a Ray worker, without the thread).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Frame = TypeVar("Frame")
Done = TypeVar("Done")


def run_ahead(frames: Iterable[Frame], stage: Callable[[Frame], Done], *, overlap: bool = True) -> Iterator[tuple[Frame, Done]]:
    """(frame, `stage(frame)`) for each of `frames`, in order. With `overlap`, a second thread decodes
    and runs `stage` on the next frame while the caller handles this one (ONNX Runtime and FFmpeg
    release the GIL, so both cores work); `stage` still sees the frames in order, one at a time, so the
    results are those of a single thread."""
    frames = iter(frames)

    def next_done():
        frame = next(frames, None)
        return None if frame is None else (frame, stage(frame))

    if not overlap:
        while (item := next_done()) is not None:
            yield item
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="emocap-ahead") as worker:
        pending = worker.submit(next_done)
        try:
            while (item := pending.result()) is not None:
                pending = worker.submit(next_done)
                yield item
        finally:
            # The source is closed after this: let the worker finish the frame it is on first.
            pending.cancel() or pending.exception()
