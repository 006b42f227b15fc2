"""The `emocap` command: one subcommand per job, each in `emocap.commands`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading

from emocap.errors import EmocapError, Terminated

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
    in_main_thread = threading.current_thread() is threading.main_thread()  # signal handlers live there only
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        with printable_names():
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
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def printable_names():
    """stdout and stderr escape what their encoding cannot say (backslashreplace), where they would
    raise: a file name that is not UTF-8 (Python keeps its bytes as surrogates) then prints as
    \\udcff instead of ending the run in UnicodeEncodeError after its outputs are written, under
    PYTHONIOENCODING=utf-8:strict or an ASCII terminal. The one place every path is printed through."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
            changed.append(stream)
    try:
        yield
    finally:
        for stream in changed:
            stream.reconfigure(errors="strict")


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


if __name__ == "__main__":
    sys.exit(main())
