"""`emocap live`: emotion captions on a camera, video, stream, image folder or the screen, as it plays."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from emocap.commands.arguments import add_command, positive_int
from emocap.commands.options import (
    add_image_limit_option,
    add_pipeline_options,
    add_wording_option,
    build_pipeline,
    pipeline_config,
    open_requested_source,
)
from emocap.errors import OutputError, SourceError
from emocap.outputs.files import check_existing_folder

WINDOW_TITLE = "emocap - q quits, space pauses, s saves a snapshot"
QUIT_KEYS = frozenset({ord("q"), ord("Q"), 27})
PAUSE_KEYS = frozenset({ord(" "), ord("p"), ord("P")})
SNAPSHOT_KEYS = frozenset({ord("s"), ord("S")})
STATUS_SECONDS = 2.0

EPILOG = """\
sources (--source):
  0, 1, ...            a camera by index (default: 0)
  talk.mp4             a video file, played at its own speed in the window
  rtsp://host/stream   a network stream (rtsp, http, ...)
  photos/              a folder of images, in natural order (2.png before 10.png)
  screen               the whole screen
  screen:X,Y,W,H       part of the screen, e.g. the other person in a video call

With no --source and no camera, the bundled sample clip plays instead; with no
display (no DISPLAY on Linux), JSON lines are printed instead of a window.

keys in the window:
  q or Esc             quit
  space or p           pause / resume
  s                    save a snapshot of the window (into --snapshot-dir)

Nothing is saved unless you press s. With --no-window, each frame is one JSON
line on stdout (fields as in docs/RECORDS.md): {"frame", "time", "faces":
[{"face", "box", "score", "label", "runner_up", "valence", "position", "caption",
"emotion_words", "colour", "probabilities", "valence_probabilities"}]}; "face" stays
the same number while a face is tracked; "label" is the class name, "caption" and
"emotion_words" are worded as --wording says ("looks happy").

examples:
  emocap live
  emocap live --source screen:0,0,960,540 --smoother paper --memory 3
  emocap live --source talk.mp4 --no-window --max-frames 100 > talk.jsonl
  emocap live --detector haar --detect-every 3     faster on slow machines
"""


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "live",
        help="captions on a camera, video, stream or the screen, as it plays",
        description="Show the emotion of each face as it plays: a box around every face, "
        "its emotion and valence as a caption, and the class probabilities as bars.",
        epilog=EPILOG,
    )
    parser.add_argument("--source", metavar="SPEC", help="camera index, video, URL, image or folder, or screen[:X,Y,W,H] (default: camera 0)")
    parser.add_argument("--no-window", action="store_true", help="print one JSON line per frame instead of opening a window")
    parser.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    parser.add_argument("--snapshot-dir", type=Path, default=Path("."), metavar="DIR",
                        help="where the s key saves snapshots (default: the current folder)")
    add_wording_option(parser)
    add_image_limit_option(parser)
    add_pipeline_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.no_window and not has_display():
        # Same spirit as the camera fallback: the main job still runs on a machine without a screen.
        print(
            "emocap live: note: no display to open a window on (DISPLAY is not set); "
            "printing one JSON line per frame instead (--no-window asks for this directly)",
            file=sys.stderr,
        )
        args.no_window = True
    if not args.no_window:
        check_existing_folder(args.snapshot_dir, "snapshot folder")
        check_snapshots_beside(args.source, args.snapshot_dir)
    pipeline_config(args)  # the options checked before the camera is probed
    unreadable: list[SourceError] = []

    def skip_unreadable(error: SourceError) -> None:  # as `emocap image` does: say so, go on
        unreadable.append(error)
        print(f"emocap live: error: {error}", file=sys.stderr)

    with open_requested_source(
        args.source, command="live", max_image_side=args.max_image_side, on_unreadable_image=skip_unreadable
    ) as source:
        pipeline = build_pipeline(args, stills=source.stills)
        if args.no_window:
            count = print_json_lines(source, pipeline, args.max_frames, wording=args.wording)
        else:
            count = show_window(source, pipeline, args.max_frames, args.snapshot_dir, wording=args.wording)
        if (source.is_live or source.truncated) and source.end_reason and count != args.max_frames:
            print(f"emocap live: note: {source.end_reason}", file=sys.stderr)
    return SourceError.exit_code if unreadable else 0


def print_json_lines(source, pipeline, max_frames: int | None, *, wording: str) -> int:
    from emocap.outputs import frame_record

    count = 0
    try:
        for _frame, result in captioned(source, pipeline):
            sys.stdout.write(json.dumps(frame_record(result, wording=wording), ensure_ascii=False, allow_nan=False) + "\n")
            sys.stdout.flush()
            count += 1
            if count == max_frames:
                break
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return count


def captioned(source, pipeline):
    """(frame, its `FrameResult`) for each frame of `source`: perception (detect and classify) on a second
    thread, one frame ahead, and captioning here, beside the drawing and the window."""
    from emocap.overlap import run_ahead

    for frame, record in run_ahead(source, lambda frame: pipeline.perceive(frame.image_bgr, frame.time_s)):
        yield frame, pipeline.caption(record)


def check_snapshots_beside(source: str | None, snapshot_dir: Path) -> None:
    """Refuse to save snapshots into the folder of photos being played (they would join the user's photos)."""
    from emocap.outputs.files import check_named_outputs

    folder = source if source is not None and Path(source).is_dir() else None
    # Not probed for writing: a run that takes no snapshot writes nothing there.
    check_named_outputs({"--snapshot-dir": snapshot_dir}, {"--source": folder},
                        hint=" (choose another with --snapshot-dir)", probe=False)


def has_display() -> bool:
    """False where opening a window would abort inside Qt (Linux without X11 or Wayland)."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class LiveWindow:
    """The OpenCV window: shows frames with a status line, and reads the keyboard."""

    def __init__(self, title: str = WINDOW_TITLE) -> None:
        import cv2

        self._cv2 = cv2
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as error:
            raise OutputError(
                "this OpenCV has no window support (opencv-python-headless?); use --no-window"
            ) from error
        self._status = ""
        self._status_until = 0.0
        self._sized = False

    def say(self, text: str, seconds: float = STATUS_SECONDS) -> None:
        self._status, self._status_until = text, time.monotonic() + seconds

    def show(self, frame_bgr, sticky_status: str = "") -> None:
        cv2 = self._cv2
        if not self._sized:
            cv2.resizeWindow(self.title, frame_bgr.shape[1], frame_bgr.shape[0])
            self._sized = True
        status = sticky_status or (self._status if time.monotonic() < self._status_until else "")
        if status:
            frame_bgr = frame_bgr.copy()
            height = frame_bgr.shape[0]
            cv2.rectangle(frame_bgr, (0, height - 28), (frame_bgr.shape[1], height), (0, 0, 0), -1)
            cv2.putText(frame_bgr, status, (8, height - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(self.title, frame_bgr)

    def key(self, wait_ms: int) -> int | None:
        """The key pressed within wait_ms (at least 1), or None; Esc also when the user closed the window."""
        cv2 = self._cv2
        code = cv2.waitKey(max(1, int(wait_ms)))
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return 27
        return None if code < 0 else code & 0xFF

    def close(self) -> None:
        self._cv2.destroyWindow(self.title)
        self._cv2.waitKey(1)


class Pacer:
    """Plays recorded video at its own speed: how long to wait before showing a frame stamped time_s."""

    def __init__(self) -> None:
        self._offset: float | None = None

    def wait_ms(self, time_s: float) -> float:
        now = time.monotonic()
        if self._offset is None:
            self._offset = now - time_s
        return max(0.0, (self._offset + time_s - now) * 1000.0)

    def shift(self, seconds: float) -> None:
        """Move the schedule later (after a pause)."""
        if self._offset is not None:
            self._offset += seconds


def show_window(source, pipeline, max_frames: int | None, snapshot_dir: Path, *, wording: str) -> int:
    from emocap.outputs import CaptionOverlay, FpsMeter

    overlay, meter = CaptionOverlay(wording=wording), FpsMeter()
    window = LiveWindow()
    pacer = None if source.is_live else Pacer()
    count = 0
    try:
        for frame, result in captioned(source, pipeline):
            annotated = overlay.annotate(frame.image_bgr, result, fps=meter.tick())
            window.show(annotated)
            count += 1
            key = window.key(pacer.wait_ms(frame.time_s) if pacer else 1)
            if key in SNAPSHOT_KEYS:
                snapshot(window, annotated, snapshot_dir, frame.index)
            elif key in PAUSE_KEYS:
                key = pause(window, annotated, snapshot_dir, frame.index, pacer)
                if source.is_live:  # the scene moved on while paused; start the memory afresh (captioning's:
                    pipeline.captioning.reset()  # perception, on the other thread, sees the jump by itself)
            if key in QUIT_KEYS or count == max_frames:
                break
    finally:
        window.close()
    return count


def pause(window: LiveWindow, annotated, snapshot_dir: Path, index: int, pacer: Pacer | None) -> int | None:
    """Hold the frame until space/p resumes (returns None) or q/Esc quits (returns that key)."""
    started = time.monotonic()
    try:
        while True:
            window.show(annotated, sticky_status="paused - space resumes, s saves a snapshot, q quits")
            key = window.key(50)
            if key in QUIT_KEYS:
                return key
            if key in PAUSE_KEYS:
                return None
            if key in SNAPSHOT_KEYS:
                snapshot(window, annotated, snapshot_dir, index)
    finally:
        if pacer is not None:
            pacer.shift(time.monotonic() - started)


def snapshot(window: LiveWindow, annotated, snapshot_dir: Path, index: int) -> None:
    path = save_snapshot(annotated, snapshot_dir, index)
    window.say(f"saved {path.name}")
    print(f"emocap live: saved {path}", file=sys.stderr)


def save_snapshot(annotated, snapshot_dir: Path, index: int) -> Path:
    """Write the annotated frame as a PNG named by date, time and frame index; atomically."""
    from emocap.images import write_image

    return write_image(snapshot_dir / f"emocap-{datetime.now():%Y%m%d-%H%M%S}-{index:06d}.png", annotated)
