"""What a run writes never touches what the user gave, is all there or not there at all, and
its errors are one line: issue 30's points 1, 5 and 6 (argparse, --report, a full disk)."""

from __future__ import annotations

import pytest

from emocap.cli import main


@pytest.mark.parametrize("argv, begins", [
    (["transcribe", "talk.mp4", "--min-duration", "soon"],
     "emocap transcribe: error: argument --min-duration: expected a number of seconds, got 'soon'"),
    (["image"], "emocap image: error: the following arguments are required: PATH"),
    (["dance"], "emocap: error: argument COMMAND: invalid choice: 'dance'"),  # the choices' quoting is Python's
])
def test_a_usage_error_is_one_line_that_points_at_help(argv, begins, capsys):
    """Every argparse error printed the whole usage block before its one line."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    command = begins.split(": error:")[0]
    assert captured.err.startswith(begins) and captured.err.endswith(f" (see {command} --help)\n")


def test_help_still_prints_the_usage(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["transcribe", "--help"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("usage: emocap transcribe [-h]")
