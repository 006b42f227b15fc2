"""The `emocap` command: one subcommand per job, each in `emocap.commands`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys

from emocap.errors import EmocapError, OutputError, Terminated
from emocap.signals import stop_signals_raised

COMMANDS = ("live", "transcribe", "image", "serve", "train", "interpolate", "evaluate", "export", "calibrate")

DESCRIPTION = """\
emocap reads faces in video and says which emotion each one shows.

Faces are found with MTCNN, each face is classified by a ResNet18 trained on
FER2013 (angry, disgust, fear, happy, neutral, sad, surprise), and a per-face
memory keeps one noisy frame from changing the caption. Everything runs on
this machine; nothing is sent anywhere and nothing is saved unless you ask.

common jobs:
  emocap live                         captions on your webcam (q quits)
  emocap live --source talk.mp4 --no-window
                                      one JSON line per frame instead of a window
  emocap transcribe talk.mp4 -o talk.vtt
                                      emotion subtitles for a recorded video
  emocap image photo.jpg              emotions of the faces in a photo
  emocap serve                        a local web page with live captions
  emocap evaluate --data fer2013/     accuracy of the built-in model
  emocap train --preset paper --data fer2013/
                                      train a model (needs emocap[train])

Run `emocap COMMAND --help` for the options of each command.
"""


class OneLineErrorParser(argparse.ArgumentParser):
    """A parser whose usage errors are one line that points at --help, not the usage block and then the line.

    Subcommand parsers are made by the same class (argparse's subparsers take the parent's), so every
    command gets it; --help prints as before.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="emocap",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from emocap import __version__

    parser.add_argument("--version", action="version", version=f"emocap {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"emocap.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    with standard_streams(), stop_signals_raised():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """The command's exit status; whatever ends it early said in one line (a bug keeps its traceback)."""
    try:
        return int(args.run(args) or 0)
    except EmocapError as error:
        print(f"emocap {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"emocap {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"emocap {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        # The reader of stdout (`| head`) has gone: stop quietly, as a shell tool does, and point stdout at
        # /dev/null so that Python's flush at exit does not print a second BrokenPipeError.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except MemoryError:
        print(f"emocap {args.command}: error: out of memory", file=sys.stderr)
        return 1
    except Exception as error:
        if not is_opencv_out_of_memory(error):
            raise  # a bug: its traceback is what a report needs
        print(f"emocap {args.command}: error: out of memory (OpenCV: {error.err})", file=sys.stderr)
        return 1


def is_opencv_out_of_memory(error: BaseException) -> bool:
    """OpenCV's own allocation failure (cv2.error, code StsNoMem), told without importing cv2."""
    return type(error).__module__.startswith("cv2") and getattr(error, "code", None) == _OPENCV_NO_MEMORY


_OPENCV_NO_MEMORY = -4  # cv2.Error.StsNoMem


@contextlib.contextmanager
def standard_streams():
    """stdout and stderr as the run writes them, the one place every printed line goes through.

    Names print escaped (backslashreplace) where the stream's encoding cannot say them, instead of
    ending the run in UnicodeEncodeError after its outputs are written: a file name that is not
    UTF-8 (Python keeps its bytes as surrogates) under PYTHONIOENCODING=utf-8:strict or an ASCII
    terminal. A write to stdout that fails (a full disk, `>&-`) is an OutputError in one line; a
    closed stderr takes the run's notes quietly, there being nowhere left to say anything."""
    _keep_standard_descriptors()
    changed = []
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
            changed.append(stream)
    original = sys.stdout, sys.stderr
    sys.stdout = StandardOutput(sys.stdout)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (closed with the run's streams below)
    try:
        yield
    finally:
        if original[1] is None:
            sys.stderr.close()
        sys.stdout, sys.stderr = original
        for stream in changed:
            stream.reconfigure(errors="strict")


class StandardOutput:
    """sys.stdout, whose failures say what happened in one line (OutputError) instead of a traceback.
    BrokenPipeError stays itself: a reader that went away (`| head`) ends the run quietly."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._guarded(lambda stream: stream.write(text))

    def flush(self) -> None:
        self._guarded(lambda stream: stream.flush())

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def _guarded(self, call):
        if self._stream is None:  # started with stdout closed (`>&-`): Python gives None
            raise OutputError("cannot write to standard output: it is closed")
        try:
            return call(self._stream)
        except BrokenPipeError:
            raise
        except OSError as error:
            # What is still buffered would fail again when Python flushes stdout at exit, in a traceback.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            raise OutputError(f"cannot write to standard output: {error.strerror or error}") from None


def _keep_standard_descriptors() -> None:
    """Point a closed descriptor 0, 1 or 2 at /dev/null, so that no file this run opens takes its
    number, to be written by a child process (FFmpeg, Ray) or a library that prints to it."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != descriptor:
                os.dup2(opened, descriptor)
                os.close(opened)


if __name__ == "__main__":
    sys.exit(main())
