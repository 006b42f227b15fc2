"""What a run writes never touches what the user gave, is all there or not there at all, and
its errors are one line: issue 30's points 1, 5 and 6 (argparse, --report, a full disk)."""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fer_fixtures import fer_csv_rows, write_fer_csv, write_fer_folder
from transcribe_fixtures import HAPPY_THEN_ANGRY, files_in, write_clip
from transcribe_fixtures import run as run_transcribe

from emocap.atomic import atomic_text
from emocap.classifier import BUILTIN_MODEL
from emocap.cli import main
from emocap.errors import OutputError, SourceError
from emocap.outputs.records import JsonLinesWriter
from emocap.outputs.subtitles import WebVTTWriter


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


@pytest.mark.parametrize("name", ["r.txt", "r", "r.html.bak"])
def test_a_report_not_named_html_is_refused_before_any_work(tmp_path, pipeline, name):
    """--report r.txt wrote HTML under any extension, where --summary-plot p.txt is refused."""
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(OutputError, match=rf"cannot write report {re.escape(repr(str(tmp_path / name)))}: .* "
                       r"is not a web page; use \.html or \.htm"):
        run_transcribe([clip, "--report", tmp_path / name])
    assert pipeline.frames == 0 and files_in(tmp_path) == ["talk.avi"]


def test_a_report_named_htm_is_written(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    assert run_transcribe([clip, "--report", tmp_path / "r.HTM"]) == 0
    assert (tmp_path / "r.HTM").read_text().lower().startswith("<!doctype html>")


def limit_file_size(size: int):
    """For a subprocess: files it writes cannot grow past `size` bytes (EFBIG, as a full disk gives
    ENOSPC; Python ignores the SIGXFSZ that comes with it)."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


def test_an_annotated_photo_that_cannot_be_written_is_one_line_with_the_reason(tmp_path):
    """libpng printed its own "libpng error: Write Error" line, then ours had no reason."""
    photo = tmp_path / "noise.png"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    target = tmp_path / "out.png"
    done = subprocess.run([sys.executable, "-m", "emocap", "image", str(photo), "--annotate", str(target)],
                          capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size(4096))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"emocap image: error: cannot write {str(target)!r}: File too large"]
    assert files_in(tmp_path) == ["noise.png"]



def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` and its bytes: what a refused run must leave exactly as it was."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def no_evaluation(monkeypatch):
    """The test set is never classified: a clash is refused before the long part."""
    def refuse(*args, **kwargs):
        raise AssertionError("the outputs were not checked before the test set was classified")

    monkeypatch.setattr("emocap.evaluation.fer_scores.evaluate_test_set", refuse)


def evaluate_error(capfd, *argv) -> list[str]:
    assert main(["evaluate", "--no-tsne", *map(str, argv)]) == 2
    captured = capfd.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_evaluate_json_never_overwrites_the_data_model_or_votes(tmp_path, capfd, no_evaluation):
    """`--data fer.csv --json fer.csv` exited 0 and the dataset was JSON; so was `--model m.onnx --json m.onnx`."""
    data = write_fer_csv(tmp_path / "fer.csv", fer_csv_rows(faces_per_split=1))
    model = tmp_path / "m.onnx"
    shutil.copyfile(BUILTIN_MODEL, model)
    votes = tmp_path / "votes.csv"
    votes.write_text("Usage,Image name,neutral\n")
    alias = tmp_path / "alias.csv"
    os.link(data, alias)  # another name for the same file
    before = tree(tmp_path)
    given = ["--data", data, "--model", model, "--votes", votes, "--no-plots"]
    for target, named in ((data, f"--data {str(data)!r}"), (alias, f"--data {str(data)!r}"),
                          (model, f"--model {str(model)!r}"), (votes, f"--votes {str(votes)!r}")):
        assert evaluate_error(capfd, *given, "--json", target) == [
            f"emocap evaluate: error: --json {str(target)!r} would overwrite {named}"]
    assert tree(tmp_path) == before


def test_evaluate_adds_nothing_to_a_dataset_folder(tmp_path, capfd, monkeypatch, no_evaluation):
    """`--plots data/test/happy` added PNGs that the next evaluate counted as faces (12 -> 16)."""
    data = tmp_path / "fer"
    write_fer_folder(data)
    before = tree(tmp_path)
    inside = data / "test" / "happy"
    assert evaluate_error(capfd, "--data", data, "--plots", inside) == [
        f"emocap evaluate: error: --plots {str(inside)!r} would add to the --data folder {str(data)!r}"]
    assert evaluate_error(capfd, "--data", data, "--no-plots", "--json", data / "e.json") == [
        f"emocap evaluate: error: --json {str(data / 'e.json')!r} would add to the --data folder {str(data)!r}"]
    monkeypatch.chdir(data)  # the default plots folder, evaluation-builtin/, would be made here
    assert evaluate_error(capfd, "--data", ".") == [
        "emocap evaluate: error: the plots folder 'evaluation-builtin' would add to the --data folder '.' "
        "(choose another with --plots, or --no-plots)"]
    assert tree(tmp_path) == before and sorted(p.name for p in data.iterdir()) == ["test", "train"]


def test_a_training_run_folder_adds_nothing_to_the_data_and_overwrites_no_checkpoint_given(tmp_path, capsys):
    data = tmp_path / "fer"
    write_fer_folder(data)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "best.pt").write_bytes(b"the checkpoint this run starts from")
    before = tree(tmp_path)
    assert main(["train", "--data", str(data), "--out", str(data / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emocap train: error: --out {str(data / 'run')!r} would add to the --data folder {str(data)!r}"]
    assert main(["train", "--data", str(data), "--out", str(earlier), "--init-from", str(earlier / "best.pt")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emocap train: error: --out {str(earlier / 'best.pt')!r} would overwrite --init-from "
        f"{str(earlier / 'best.pt')!r}"]
    assert tree(tmp_path) == before and not (data / "run").exists()


def test_an_export_adds_nothing_to_the_data(tmp_path, capsys):
    data = tmp_path / "fer"
    write_fer_folder(data)
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"a checkpoint")
    before = tree(tmp_path)
    assert main(["export", str(checkpoint), "-o", str(data / "m.onnx"), "--data", str(data)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emocap export: error: -o {str(data / 'm.onnx')!r} would add to the --data folder {str(data)!r}"]
    assert tree(tmp_path) == before


def test_live_snapshots_are_not_added_to_the_folder_it_plays(tmp_path, capsys, monkeypatch):
    cv2.imwrite(str(tmp_path / "1.png"), np.full((60, 80, 3), 90, np.uint8))
    monkeypatch.setattr("emocap.commands.live.has_display", lambda: True)
    monkeypatch.setattr("emocap.commands.live.open_requested_source", refuse_to_open)
    monkeypatch.chdir(tmp_path)
    assert main(["live", "--source", "."]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "emocap live: error: --snapshot-dir '.' would add to the --source folder '.' (choose another with "
        "--snapshot-dir)"]


def refuse_to_open(*args, **kwargs):
    raise AssertionError("the source was opened before the outputs were checked")


def fail_with_a_full_disk(self) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def terminate_here(self) -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the handler of `emocap` raises where the program is
    time.sleep(1)


@pytest.mark.parametrize("writer, failure, code", [
    (JsonLinesWriter, fail_with_a_full_disk, 2),
    (WebVTTWriter, terminate_here, 128 + signal.SIGTERM),
])
def test_a_run_that_fails_at_its_last_output_leaves_none_of_them(tmp_path, pipeline, monkeypatch, writer, failure,
                                                                  code):
    """`-o a.jsonl --annotate a.mp4` on a nearly full disk failed on the JSON Lines and left the MP4;
    SIGTERM at the end of a run left the timeline PNG."""
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    (tmp_path / "t.vtt").write_text("WEBVTT\n\nan older transcript, kept\n")
    monkeypatch.setattr(writer, "end", failure)
    outputs = ["-o", tmp_path / "t.vtt", "-o", tmp_path / "t.jsonl", "--annotate", tmp_path / "t.mp4",
               "--summary-plot", tmp_path / "t.png", "--report", tmp_path / "t.html"]
    assert main(["transcribe", "--workers", "1", str(clip), *map(str, outputs)]) == code
    assert files_in(tmp_path) == ["t.vtt", "talk.avi"]
    assert "kept" in (tmp_path / "t.vtt").read_text()


def test_out_dir_is_made_only_by_a_run_that_writes(tmp_path, pipeline, monkeypatch):
    """`--out-dir new/deep/dir` was made even when the run was refused."""
    bad = tmp_path / "bad.mp4"
    bad.write_text("plain text, not a video\n" * 20)
    with pytest.raises(SourceError):
        run_transcribe([bad, "--out-dir", tmp_path / "new" / "deep" / "dir"])
    assert files_in(tmp_path) == ["bad.mp4"]
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    monkeypatch.setattr(WebVTTWriter, "end", fail_with_a_full_disk)
    with pytest.raises(OutputError, match="No space left on device"):
        run_transcribe([clip, "--out-dir", tmp_path / "new" / "deep" / "dir"])
    assert files_in(tmp_path) == ["bad.mp4", "talk.avi"]
    monkeypatch.undo()
    assert run_transcribe([clip, "--out-dir", tmp_path / "new" / "deep" / "dir"]) == 0
    assert files_in(tmp_path / "new" / "deep" / "dir") == ["talk.emotions.vtt"]


def test_evaluate_leaves_no_figures_when_its_json_cannot_be_written(tmp_path, monkeypatch, capsys):
    data = tmp_path / "fer"
    write_fer_folder(data)
    before = tree(tmp_path)

    def json_on_a_full_disk(path, value):
        with atomic_text(path):
            fail_with_a_full_disk(None)

    monkeypatch.setattr("emocap.atomic.atomic_json", json_on_a_full_disk)
    figures, results = tmp_path / "figures" / "builtin", tmp_path / "e.json"
    assert main(["evaluate", "--data", str(data), "--no-tsne", "--plots", str(figures), "--json", str(results)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"emocap evaluate: error: cannot write {str(results)!r}: No space left on device")
    assert tree(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["fer"]


# --- issue 43: the model in use, the run's own outputs, folders that cannot be written ----------


def test_no_command_writes_over_the_built_in_model(tmp_path, capfd, no_evaluation):
    """`evaluate --json .../emocap/models/emotion.onnx` exited 0 and every later command failed: the model in
    use counts as an input though no option names it, and so do the models that ship with emocap."""
    data = write_fer_csv(tmp_path / "fer.csv", fer_csv_rows(faces_per_split=1))
    before = BUILTIN_MODEL.read_bytes()
    refused = f"would overwrite the built-in model {str(BUILTIN_MODEL)!r}"
    assert evaluate_error(capfd, "--data", data, "--no-plots", "--json", BUILTIN_MODEL) == [
        f"emocap evaluate: error: --json {str(BUILTIN_MODEL)!r} {refused}"]
    assert main(["calibrate", "--data", str(data), "-o", str(BUILTIN_MODEL)]) == 2
    assert capfd.readouterr().err.splitlines() == [f"emocap calibrate: error: -o {str(BUILTIN_MODEL)!r} {refused}"]
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"a checkpoint")
    assert main(["export", str(checkpoint), "-o", str(BUILTIN_MODEL), "--data", str(data), "--no-int8"]) == 2
    assert capfd.readouterr().err.splitlines() == [f"emocap export: error: -o {str(BUILTIN_MODEL)!r} {refused}"]
    assert BUILTIN_MODEL.read_bytes() == before


def test_an_annotated_photo_never_replaces_the_model_it_is_made_with(tmp_path, capsys):
    """The --model of `image` (and `transcribe`) was not among the inputs its outputs are checked against."""
    model = tmp_path / "model.png"  # an ONNX model, whatever its name
    shutil.copyfile(BUILTIN_MODEL, model)
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), np.full((60, 80, 3), 90, np.uint8))
    before = tree(tmp_path)
    assert main(["image", str(photo), "--model", str(model), "--annotate", str(model)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emocap image: error: output {str(model)!r} would overwrite --model {str(model)!r}"]
    assert tree(tmp_path) == before


def test_evaluate_json_onto_a_figure_of_the_same_run_is_refused_before_any_work(tmp_path, capfd, no_evaluation):
    """`--plots p --json p/confusion_test.png`: the figure, written first, was replaced by the JSON."""
    data = write_fer_csv(tmp_path / "fer.csv", fer_csv_rows(faces_per_split=1))
    figures = tmp_path / "p"
    for target, named in ((figures / "confusion_test.png", "the confusion_test figure"), (figures, "--plots")):
        assert evaluate_error(capfd, "--data", data, "--plots", figures, "--json", target) == [
            f"emocap evaluate: error: --json {str(target)!r} would overwrite {named} {str(target)!r}, "
            "which this run also writes"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fer.csv"]


def test_evaluate_json_onto_the_wild_figure_of_the_same_run_is_refused_before_any_work(tmp_path, capfd, no_evaluation):
    data = write_fer_csv(tmp_path / "fer.csv", fer_csv_rows(faces_per_split=1))
    target = tmp_path / "p" / "wild_PublicTest.png"
    assert evaluate_error(capfd, "--data", data, "--plots", tmp_path / "p", "--wild", "--wild-split", "PublicTest",
                          "--json", target) == [
        f"emocap evaluate: error: --json {str(target)!r} would overwrite the wild_PublicTest figure {str(target)!r}, "
        "which this run also writes"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fer.csv"]


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """A folder nothing can be written in. As root, which writes through permissions, the refusal of
    the file system is given by tempfile (where every output and every check of one makes its file)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        plain_mkstemp = tempfile.mkstemp

        def refuse_inside(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return plain_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse_inside)
    yield folder
    folder.chmod(0o755)


def test_evaluate_json_into_a_folder_it_cannot_write_is_refused_before_any_work(tmp_path, read_only_folder, capfd,
                                                                               no_evaluation):
    """It failed only after the classifying (minutes on FER2013), though the code said the check came first."""
    data = write_fer_csv(tmp_path / "fer.csv", fer_csv_rows(faces_per_split=1))
    results = read_only_folder / "e.json"
    assert evaluate_error(capfd, "--data", data, "--no-plots", "--json", results) == [
        f"emocap evaluate: error: cannot write --json {str(results)!r}: folder {str(read_only_folder)!r}: "
        "Permission denied"]


def test_interpolate_into_a_folder_it_cannot_write_is_refused_before_any_work(tmp_path, read_only_folder, capsys,
                                                                             monkeypatch):
    """`interpolate --out` on a read-only folder failed after its 30 s of work."""
    pytest.importorskip("torch")

    def refuse(*args, **kwargs):
        raise AssertionError("the outputs were not checked before the alphas were scored")

    monkeypatch.setattr("emocap.training.interpolation.interpolate", refuse)
    out = read_only_folder / "wise"
    data = write_fer_csv(tmp_path / "fer.csv", fer_csv_rows(faces_per_split=1))
    assert main(["interpolate", "--tuned", str(tmp_path / "best.pt"), "--data", str(data), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emocap interpolate: error: cannot write --out {str(out / 'wise.pt')!r}: folder {str(read_only_folder)!r}: "
        "Permission denied"]


def test_evaluate_refuses_a_seed_past_32_bits_before_any_work(tmp_path, capsys, no_evaluation):
    """--seed 99999999999 failed in scikit-learn's t-SNE, after all the classifying, in a traceback."""
    with pytest.raises(SystemExit) as stopped:
        main(["evaluate", "--data", str(tmp_path), "--seed", "99999999999", "--plots", str(tmp_path / "p")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "emocap evaluate: error: argument --seed: expected a whole number in 0..4294967295, got '99999999999' "
        "(see emocap evaluate --help)"]
