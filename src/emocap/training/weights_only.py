"""A training checkpoint cut down to what going on from it needs: the network's weights in half
precision, its config, its preprocessing and its figures; no optimiser, no random state.

`emocap train --init-from` and `emocap export` both take the result, as they take best.pt. A full
checkpoint also holds the optimiser's state (and a last.pt the weight EMA and random state) in single
precision; one set of weights in half precision is a fraction of that. From a last.pt, `ema=True` keeps
the weight EMA (the weights the run scores and would ship, as `emocap export` and --init-from read a
last.pt) instead of the raw weights.
"""

from __future__ import annotations

from pathlib import Path

from emocap.training.model import read_checkpoint, scored_weights
from emocap.training.trainer import save_checkpoint


def weights_only(state: dict, *, ema: bool = False, name: str = "the checkpoint") -> dict:
    """The slim checkpoint of a best.pt or last.pt `state`; ValueError naming `name` when `ema` is asked
    of a run that kept none."""
    model = state["model"]
    metrics = state.get("metrics") or (state.get("history") or [None])[-1]
    if ema:
        if not state.get("ema"):
            raise ValueError(f"{name} holds no weight EMA (a last.pt of a run with ema_decay > 0 does)")
        model = scored_weights(state)
    elif state.get("ema"):
        metrics = None  # the run's figures are its EMA's, not these raw weights'
    # Batch-norm counters stay integers; every float tensor is halved.
    weights = {key: tensor.half() if tensor.is_floating_point() else tensor for key, tensor in model.items()}
    return {"config": state["config"], "model": weights, "preprocess": state.get("preprocess"),
            "epoch": state.get("epoch"), "metrics": metrics}


def write_weights_only(checkpoint: str | Path, output: str | Path, *, ema: bool = False) -> float:
    """`weights_only` of the checkpoint file, written to `output` (its folder made); returns its MiB.
    ValueError quoting the checkpoint for a file that is not one."""
    state = read_checkpoint(checkpoint, name="checkpoint")
    slim = weights_only(state, ema=ema, name=repr(str(checkpoint)))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(output, slim)
    return output.stat().st_size / 2**20
