"""emocap.training.weights_only, and scripts/weights_only.py over it: the file a session commits so
the next can go on without out/."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from emocap.training.model import EmotionNet, read_checkpoint  # noqa: E402
from emocap.training.trainer import train  # noqa: E402
from emocap.training.weights_only import write_weights_only  # noqa: E402

pytestmark = pytest.mark.slow  # a training run

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "weights_only.py"


@pytest.fixture(scope="module")
def ema_run(tiny_fer, tiny_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("ema_run")
    train(dataclasses.replace(tiny_config, epochs=1, batch_size=2, ema_decay=0.9), tiny_fer, out, device="cpu", progress=False)
    return out


def test_ema_of_a_last_checkpoint_is_kept_in_half_precision_and_loads_into_the_network(ema_run, tiny_config, tmp_path):
    out = tmp_path / "slim.pt"
    assert write_weights_only(ema_run / "last.pt", out, ema=True) == out.stat().st_size / 2**20
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
    assert raw_differs  # ema=True took the average, not the raw weights


def test_a_last_checkpoint_is_read_as_the_weights_its_run_scored_not_its_raw_ones(ema_run, tmp_path):
    """`emocap export`, --init-from and --teacher read a last.pt through load_checkpoint: its weight EMA,
    which best.pt holds and the run's figures describe; the raw weights only where the run kept no EMA."""
    from emocap.training.export import load_checkpoint

    best, _, _, _ = load_checkpoint(ema_run / "best.pt")  # one epoch: best.pt holds the EMA of that epoch
    last, _, _, _ = load_checkpoint(ema_run / "last.pt")
    raw = read_checkpoint(ema_run / "last.pt", name="last")["model"]
    for name, tensor in best.state_dict().items():
        torch.testing.assert_close(last.state_dict()[name], tensor, atol=0, rtol=0)
    assert any(not torch.equal(raw[name], tensor) for name, tensor in best.state_dict().items() if "weight" in name)
    # The raw weights kept on purpose are not labelled with the EMA's figures.
    out = tmp_path / "raw.pt"
    write_weights_only(ema_run / "last.pt", out)
    assert read_checkpoint(out, name="raw")["metrics"] is None
    torch.testing.assert_close(load_checkpoint(out)[0].state_dict()["head.weight"], raw["head.weight"].half().float())


def test_ema_from_a_run_without_one_is_refused(tiny_run, tmp_path):
    with pytest.raises(ValueError, match="holds no weight EMA"):
        write_weights_only(tiny_run[0] / "last.pt", tmp_path / "slim.pt", ema=True)
    assert not (tmp_path / "slim.pt").exists()


def test_the_script_writes_the_slim_checkpoint_and_refuses_in_one_line(tiny_run, tmp_path):
    def script(*argv):
        return subprocess.run([sys.executable, str(SCRIPT), *map(str, argv)], capture_output=True, text=True, timeout=120)

    done = script(tiny_run[0] / "best.pt", tmp_path / "slim.pt")
    assert done.returncode == 0 and done.stdout.startswith(f"wrote {tmp_path / 'slim.pt'}: ") and "MiB" in done.stdout
    refused = script("--ema", tiny_run[0] / "last.pt", tmp_path / "other.pt")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "holds no weight EMA" in refused.stderr and not (tmp_path / "other.pt").exists()
