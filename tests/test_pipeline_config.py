"""PipelineConfig: the one definition of a pipeline's settings, which the commands build, the
pipeline takes and Ray carries."""

import argparse
import pickle

import pytest

from emocap.classifier import NAMED_MODELS
from emocap.commands import live, transcribe
from emocap.commands.options import pipeline_config
from emocap.defaults import DETECTOR_NAMES, SMOOTHER_NAMES
from emocap.errors import EmocapError
from emocap.pipeline_config import PipelineConfig


def parsed(command, argv):
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_the_command_lines_defaults_are_the_configs():
    assert pipeline_config(parsed(transcribe, ["transcribe", "talk.mp4"])) == PipelineConfig()
    assert pipeline_config(parsed(live, ["live"])) == PipelineConfig()


def test_every_option_reaches_the_config():
    args = parsed(transcribe, [
        "transcribe", "talk.mp4", "--detector", "haar", "--min-face-size", "60", "--smoother", "paper",
        "--memory", "6", "--detect-every", "2", "--full-scan-every", "3", "--confirm-frames", "5",
        "--unsure-below", "0.4", "--unsure-band", "0.08", "--upright-from", "12", "--lift-light", "--labels", "ferplus",
    ])
    config = pipeline_config(args)
    assert (config.detector, config.min_face_size, config.smoother, config.memory) == ("haar", 60, "paper", 6)
    assert (config.detect_every, config.full_scan_every, config.confirm_frames) == (2, 3, 5)
    assert (config.unsure_below, config.unsure_band, config.upright_from, config.lift_light) == (0.4, 0.08, 12, True)
    assert config.model.endswith(".onnx")


@pytest.mark.parametrize("name", sorted(NAMED_MODELS))
def test_a_built_in_model_is_chosen_by_name_and_a_file_by_its_path(name, tmp_path):
    assert pipeline_config(parsed(live, ["live", "--model", name])).model == str(NAMED_MODELS[name])
    assert NAMED_MODELS[name].is_file()
    own = str(tmp_path / f"{name}.onnx")
    assert pipeline_config(parsed(transcribe, ["transcribe", "talk.mp4", "--model", own])).model == own


def test_a_model_name_that_is_neither_built_in_nor_a_file_is_refused_naming_the_built_in_ones(capsys):
    from emocap.cli import main
    from emocap.sources import sample_clip

    assert main(["live", "--model", "fsat", "--source", str(sample_clip()), "--no-window"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'fsat'" in err and all(name in err for name in NAMED_MODELS)


def test_a_bad_setting_is_named_as_the_option_that_set_it():
    args = parsed(live, ["live", "--smoother", "ema", "--memory", "3"])
    with pytest.raises(EmocapError, match=r"^--memory 3 applies to the paper smoother only, not 'ema'$"):
        pipeline_config(args)


def test_the_names_the_config_accepts_are_the_ones_the_stages_build():
    from emocap.detection.factory import DETECTORS
    from emocap.tracking import SMOOTHERS

    assert SMOOTHER_NAMES == tuple(SMOOTHERS)
    assert set(DETECTOR_NAMES) == set(DETECTORS)


def test_the_config_travels_and_keys_a_cache_as_ray_needs():
    config = PipelineConfig(detect_every=2, unsure_below=0.5)
    assert pickle.loads(pickle.dumps(config)) == config
    assert hash(config) == hash(PipelineConfig(detect_every=2, unsure_below=0.5))
    assert config.with_settings(model="m.onnx").model == "m.onnx" and config.model is None


def test_describe_says_the_settings_in_a_readers_words():
    rows = dict(PipelineConfig(smoother="paper", memory=6, unsure_below=0).describe(model_name="the built-in model"))
    assert rows["model"] == "the built-in model"
    assert dict(PipelineConfig(mirror=False).describe())["model"] == (
        "the built-in model; each face seen once, not averaged with its mirror image")
    assert rows["memory"] == "paper, 6 predictions"
    assert rows["face detector"].startswith("mtcnn, faces from 40 px")
    assert rows["captions"] == 'a face shown once seen in 3 frame(s); "unsure" never'



def test_mirror_is_on_unless_no_mirror_is_asked_for_and_reaches_the_classifier():
    from emocap.commands.options import build_pipeline

    assert pipeline_config(parsed(live, ["live"])).mirror is True
    args = parsed(transcribe, ["transcribe", "talk.mp4", "--no-mirror"])
    assert pipeline_config(args).mirror is False
    assert not build_pipeline(args).classifier.mirrored
    assert build_pipeline(parsed(live, ["live"]), stills=True).classifier.mirrored
