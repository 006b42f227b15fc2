"""Output files: where they go, checked before any work (images are written whole by emocap.images)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from emocap.errors import OutputError
from emocap.labels import MODELS_DIR

ANNOTATED_STEM = ".annotated"
"""NAME.annotated.png, talk.annotated.mp4: the copies we draw on, never read again as input."""


def is_annotated_copy(path: Path) -> bool:
    """NAME.annotated.png and the like: what --annotate writes, not a photo or video to read again."""
    return Path(path).stem.endswith(ANNOTATED_STEM)


def readable_text(text: str) -> str:
    """`text` as any UTF-8 writer takes it (an HTML page, a plot's title): the bytes of file names in it
    that are not UTF-8, which Python keeps as surrogates that the encoder refuses, shown as U+FFFD."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def change_to_input(output: Path, given: Path) -> str | None:
    """How writing `output` would change `given`, something the user gave: "overwrite" when they are one
    file (however named: links and hard links too), "add to" when `given` is a folder that `output` is
    in, or is; None when it leaves `given` alone. The one rule every command's outputs are checked by."""
    output, given = Path(output), Path(given)
    written, read = output.resolve(), given.resolve()
    if written == read or (output.exists() and given.exists() and os.path.samefile(output, given)):
        return "add to" if given.is_dir() else "overwrite"
    if given.is_dir() and written.is_relative_to(read):
        return "add to"
    return None


def installed_models() -> list[tuple[str, Path]]:
    """The model files that ship in the package, each named for messages: inputs of every run, named or
    not (the built-in emotion model is the one in use when none is given; MTCNN's are always in use)."""
    return [("the built-in model", path) for path in sorted(MODELS_DIR.glob("*.onnx"))]


def check_outputs(
    plans: Iterable[tuple[Path, Sequence[Path]]], *, noun: str, verb: str, also_read: NamedPaths = (),
) -> None:
    """OutputError unless every output is safe to write: none changes an input, no two coincide.

    `plans` pairs each input with the outputs made from it; `noun` and `verb` name
    them in messages ("the photo it annotates", "the video it transcribes").
    Only the same input given twice may name the same output: it would be written the same.
    `also_read`: the files the run reads besides its inputs, named by their options (a --model);
    the installed models always count.
    """
    plans = [(source, tuple(outputs)) for source, outputs in plans]
    inputs = {source.resolve(): source for source, _ in plans}
    read = _inputs_with_installed_models(also_read)
    written_by: dict[Path, tuple[int, Path]] = {}
    for number, (source, outputs) in enumerate(plans):
        source_key = source.resolve()
        for path in outputs:
            _check_against_inputs(path, source, inputs.values(), noun=noun, verb=verb)
            _check_not_read("output", path, read)
            key = path.resolve()
            if key in written_by:
                earlier_number, earlier = written_by[key]
                if earlier_number == number:
                    raise OutputError(f"two outputs would both be written to {str(path)!r}")
                if earlier != source_key:
                    raise OutputError(
                        f"two outputs would both be written to {str(path)!r} "
                        f"(from {str(inputs[earlier])!r} and {str(source)!r})"
                    )
            written_by[key] = (number, source_key)


def _check_against_inputs(path: Path, source: Path, inputs: Iterable[Path], *, noun: str, verb: str) -> None:
    if change := change_to_input(path, source):
        raise OutputError(f"output {str(path)!r} would {change} the {noun} it {verb}")
    for other in inputs:
        if change := change_to_input(path, other):
            named = "" if str(other) == str(path) else f" {str(other)!r}"
            raise OutputError(f"output {str(path)!r} would {change} another {noun}{named} given as input")


NamedPaths = Mapping[str, str | os.PathLike | None] | Iterable[tuple[str, str | os.PathLike | None]]


def check_named_outputs(outputs: NamedPaths, inputs: NamedPaths, *, hint: str = "", probe: bool = True) -> None:
    """OutputError, before any work, unless the outputs are safe to write: none changes an input
    (`change_to_input`), an installed model included; no two are one file; and, with `probe`, each can be
    written where it goes (a file is made and removed in its folder, or in the nearest folder above that
    the run would make it in). Each path is named by its option, as `{"--json": path}` and
    `{"--data": path, "--model": path}`, or as (name, path) pairs when one option names several files
    (None: not given). `hint` ends the message: what to do instead."""
    given = _inputs_with_installed_models(inputs)
    written = [(name, Path(path)) for name, path in _pairs(outputs) if path is not None]
    for number, (output_name, output) in enumerate(written):
        _check_not_read(output_name, output, given, hint)
        for earlier_name, earlier in written[:number]:
            if _same_file(output, earlier):
                raise OutputError(f"{output_name} {str(output)!r} would overwrite {earlier_name} {str(earlier)!r}, "
                                  "which this run also writes")
        if probe:
            check_can_write(output_name, output)


def _inputs_with_installed_models(inputs: NamedPaths) -> list[tuple[str, Path]]:
    """The installed models, then the `inputs` given, each with its name: what no output may change."""
    return installed_models() + [(name, Path(path)) for name, path in _pairs(inputs) if path is not None]


def _check_not_read(output_name: str, output: Path, inputs: list[tuple[str, Path]], hint: str = "") -> None:
    for input_name, path in inputs:
        change = change_to_input(output, path)
        if change is not None:
            target = f"the {input_name} folder" if change == "add to" else input_name
            raise OutputError(f"{output_name} {str(output)!r} would {change} {target} {str(path)!r}{hint}")


def _same_file(first: Path, second: Path) -> bool:
    return first.resolve() == second.resolve() or (first.exists() and second.exists() and os.path.samefile(first, second))


def check_can_write(name: str, path: Path) -> None:
    """OutputError quoting `path` unless a file can be made where it goes: in its folder (in it, for
    an output folder), or in the nearest folder above that exists, where the run would make the rest.
    A read-only folder or file system is then found before the work rather than at its end."""
    folder = path if path.is_dir() else path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return  # a file where a folder should be: said where the folder is made or the output written
    try:
        handle, probe = tempfile.mkstemp(prefix=".emocap-", suffix=".probe", dir=folder)
    except OSError as error:
        raise OutputError(f"cannot write {name} {str(path)!r}: folder {str(folder)!r}: "
                          f"{error.strerror or error}") from None
    os.close(handle)
    os.unlink(probe)


def _pairs(paths: NamedPaths):
    return paths.items() if isinstance(paths, Mapping) else paths


def check_folders(paths: Iterable[Path]) -> None:
    """OutputError for the first output whose folder does not exist or cannot be written in (checked
    before any work)."""
    for path in paths:
        if not path.parent.is_dir():
            raise OutputError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
        check_can_write("output", path)


def check_existing_folder(folder: Path, what: str) -> None:
    """OutputError unless `folder` (`what` it is: an option, or its words) is a folder that exists."""
    if folder.is_dir():
        return
    if folder.exists():
        raise OutputError(f"{what} {str(folder)!r} is a file, not a folder")
    raise OutputError(f"{what} {str(folder)!r} does not exist")


@contextlib.contextmanager
def folder_for_outputs(folder: Path | None, *, option: str) -> Iterator[None]:
    """Make `folder` (and the parents it lacks) for the block; at its end remove the ones made here
    that are still empty, so a refused, failed or interrupted run leaves no folder behind either."""
    if folder is None:
        yield
        return
    if folder.exists():
        check_existing_folder(folder, option)
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"cannot make {option} {str(folder)!r}: a file is in the way") from None
    except OSError as error:
        raise OutputError(f"cannot make {option} {str(folder)!r}: {error.strerror}") from None
    try:
        yield
    finally:
        for path in missing:  # deepest first
            with contextlib.suppress(OSError):  # not empty: something was written, so it stays
                path.rmdir()
