"""The presets are described once, in `emocap.training.config.PRESETS`: `emocap train --help` prints
those lines and the README's table must say the same (no PyTorch needed)."""

from pathlib import Path

import pytest

from emocap.cli import main
from emocap.training.config import PRESETS

README = Path(__file__).resolve().parents[1] / "README.md"
TABLE_START, TABLE_END = "<!-- presets:", "<!-- /presets -->"


def expected_table() -> list[str]:
    return ["| preset | recipe |", "|---|---|"] + [
        f"| `{preset.name}` | {preset.summary} |" for preset in PRESETS.values()
    ]


def readme_table() -> list[str]:
    text = README.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END)
    return text[start:end].splitlines()[1:]  # the lines after the opening marker's


def test_the_readmes_preset_table_is_the_presets_own():
    expected = expected_table()
    assert readme_table() == expected, (
        "README.md's preset table disagrees with emocap.training.config.PRESETS; put this between its markers:\n"
        + "\n".join(expected))


def test_train_help_prints_each_presets_summary(capsys, monkeypatch):
    monkeypatch.setattr("emocap.cli.COMMANDS", ("train",))  # the real CLI with just `train`
    with pytest.raises(SystemExit) as caught:
        main(["train", "--help"])
    assert caught.value.code == 0
    listed = capsys.readouterr().out.split("presets (")[1].split("\n\n")[0]
    words = " ".join(listed.split())  # as one line: the help wraps each summary over several
    for preset in PRESETS.values():
        assert f"{preset.name} {' '.join(preset.summary.split())}" in words

