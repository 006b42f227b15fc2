"""scripts/set_lift_light.py: the lift set on and taken off a model's input, weights untouched."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

from emocap.classifier import BUILTIN_MODEL, EmotionClassifier  # noqa: E402
from emocap.preprocessing import FER2013_FACE_LIGHT  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "set_lift_light.py"
spec = importlib.util.spec_from_file_location("set_lift_light", SCRIPT)
set_lift_light = importlib.util.module_from_spec(spec)
spec.loader.exec_module(set_lift_light)


def test_the_lift_goes_on_and_comes_off_again(tmp_path):
    lifted, plain = tmp_path / "lifted.onnx", tmp_path / "plain.onnx"
    assert set_lift_light.main([str(BUILTIN_MODEL), "-o", str(lifted), "--off"]) == 0
    assert set_lift_light.main([str(lifted), "-o", str(lifted)]) == 0  # in place
    assert set_lift_light.main([str(lifted), "-o", str(plain), "--off"]) == 0
    dim = np.random.default_rng(0).integers(0, 60, (4, 48, 48), dtype=np.uint8)
    with_lift, without = EmotionClassifier(lifted, threads=1), EmotionClassifier(plain, threads=1)
    assert with_lift.preprocess.lift_to == FER2013_FACE_LIGHT and without.preprocess.lift_to is None
    assert not np.allclose(with_lift.predict(dim), without.predict(dim), atol=1e-3)
    bright = np.random.default_rng(1).choice(np.array([20, 240], np.uint8), (4, 48, 48), p=[0.3, 0.7])  # mean 0.68, std 0.40: nothing to lift
    np.testing.assert_array_equal(with_lift.predict(bright), without.predict(bright))


def test_a_file_that_is_not_a_model_gets_one_line_and_nothing_written(tmp_path, capsys):
    text = tmp_path / "notes.onnx"
    text.write_text("not a model")
    out = tmp_path / "out.onnx"
    assert set_lift_light.main([str(text), "-o", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and str(text) in error and error.count("\n") == 1
    assert not out.exists()


def test_an_onnx_model_without_emocap_metadata_is_refused(tmp_path, capsys):
    import onnx

    model = onnx.load(str(BUILTIN_MODEL))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    assert set_lift_light.main([str(bare), "-o", str(tmp_path / "out.onnx")]) == 2
    assert "no emocap preprocessing" in capsys.readouterr().err
    assert not (tmp_path / "out.onnx").exists()
