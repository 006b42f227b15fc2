"""The errors emocap reports to a user as one line (the CLI turns them into exit codes)."""


class EmocapError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""

    exit_code = 2


class DataError(EmocapError):
    """A dataset, image or video that cannot be read as promised."""


class SourceError(EmocapError):
    """A camera, file, URL or screen region that cannot be opened or read."""


class OutputError(EmocapError):
    """An output path that cannot be written."""


class ModelError(EmocapError):
    """A model file that is missing or is not an emocap emotion model."""


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that `finally` blocks and atomic outputs clean up,
    as they do for Ctrl+C (a BaseException for the same reason as KeyboardInterrupt)."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty), for one-line errors."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
