"""scripts/weights_only.py: the file a session commits so the next can go on without out/."""

import dataclasses
import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from emocap.training.model import EmotionNet, read_checkpoint  # noqa: E402
from emocap.training.trainer import train  # noqa: E402

pytestmark = pytest.mark.slow  # a training run

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "weights_only.py"
spec = importlib.util.spec_from_file_location("weights_only", SCRIPT)
weights_only = importlib.util.module_from_spec(spec)
spec.loader.exec_module(weights_only)


@pytest.fixture(scope="module")
def ema_run(tiny_fer, tiny_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("ema_run")
    train(dataclasses.replace(tiny_config, epochs=1, batch_size=2, ema_decay=0.9), tiny_fer, out, device="cpu", progress=False)
    return out


def test_ema_of_a_last_checkpoint_is_kept_in_half_precision_and_loads_into_the_network(ema_run, tiny_config, tmp_path):
    out = tmp_path / "slim.pt"
    assert weights_only.main(["--ema", str(ema_run / "last.pt"), str(out)]) == 0
    slim = read_checkpoint(out, name="slim")
    best = read_checkpoint(ema_run / "best.pt", name="best")  # one epoch: best.pt holds the EMA of that epoch
    assert all(t.dtype == torch.float16 for t in slim["model"].values() if t.is_floating_point())
    assert slim["model"].keys() == best["model"].keys()
    for name, tensor in best["model"].items():
        if tensor.is_floating_point():
            torch.testing.assert_close(slim["model"][name].float(), tensor, atol=2e-3, rtol=2e-3)
    assert slim["metrics"]["epoch"] == 1
    EmotionNet(tiny_config).load_state_dict({k: v.float() for k, v in slim["model"].items()})
    last = read_checkpoint(ema_run / "last.pt", name="last")
    raw_differs = any(not torch.equal(last["model"][k], best["model"][k]) for k in best["model"] if "weight" in k)
    assert raw_differs  # --ema took the average, not the raw weights


def test_ema_from_a_run_without_one_is_refused_in_one_line(tiny_run, tmp_path, capsys):
    assert weights_only.main(["--ema", str(tiny_run[0] / "last.pt"), str(tmp_path / "slim.pt")]) == 2
    assert "holds no weight EMA" in capsys.readouterr().err
    assert not (tmp_path / "slim.pt").exists()
