"""Output files: where they go, checked before any work (images are written whole by emocap.images)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from emocap.errors import OutputError

ANNOTATED_STEM = ".annotated"
"""NAME.annotated.png, talk.annotated.mp4: the copies we draw on, never read again as input."""


def is_annotated_copy(path: Path) -> bool:
    """NAME.annotated.png and the like: what --annotate writes, not a photo or video to read again."""
    return Path(path).stem.endswith(ANNOTATED_STEM)


def check_outputs(plans: Iterable[tuple[Path, Sequence[Path]]], *, noun: str, verb: str) -> None:
    """OutputError unless every output is safe to write: none is an input, no two coincide.

    `plans` pairs each input with the outputs made from it; `noun` and `verb` name
    them in messages ("the photo it annotates", "the video it transcribes").
    Paths are compared resolved, so `./a.png`, `a.png` and links to it are one file.
    Only the same input given twice may name the same output: it would be written the same.
    """
    plans = [(source, tuple(outputs)) for source, outputs in plans]
    inputs = {source.resolve(): source for source, _ in plans}
    written_by: dict[Path, tuple[int, Path]] = {}
    for number, (source, outputs) in enumerate(plans):
        source_key = source.resolve()
        for path in outputs:
            key = path.resolve()
            if key == source_key:
                raise OutputError(f"output {str(path)!r} would overwrite the {noun} it {verb}")
            if key in inputs:
                named = "" if str(inputs[key]) == str(path) else f" {str(inputs[key])!r}"
                raise OutputError(f"output {str(path)!r} would overwrite another {noun}{named} given as input")
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


def check_folders(paths: Iterable[Path]) -> None:
    """OutputError for the first output whose folder does not exist (checked before any work)."""
    for path in paths:
        if not path.parent.is_dir():
            raise OutputError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
