"""A training checkpoint cut down to what a later session needs to go on: the network's weights in
half precision, its config, its preprocessing and its figures; no optimiser, no random state.

A CPU session may lose everything outside the repository, and a ResNet's full checkpoint is too
big to commit (a weights-only checkpoint of at most 23 MiB may be). `emocap train --init-from`
and `emocap export` both take the result, as they take best.pt. From a last.pt, --ema keeps the
weight EMA (the weights the run scores and would ship) instead of the raw weights.

    python scripts/weights_only.py out/runs/student/best.pt checkpoints/student-stage1.pt
    python scripts/weights_only.py --ema out/runs/fer-best/last.pt checkpoints/fer-best-campaign.pt

A script, not a command: it serves the repository's own bookkeeping between sessions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emocap.training.model import read_checkpoint
from emocap.training.trainer import save_checkpoint

LIMIT_MIB = 23.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="best.pt or last.pt from `emocap train`")
    parser.add_argument("output", help="the weights-only checkpoint to write")
    parser.add_argument("--ema", action="store_true", help="keep a last.pt's weight EMA, not its raw weights")
    args = parser.parse_args(argv)
    try:
        state = read_checkpoint(args.checkpoint, name="checkpoint")
    except ValueError as error:  # read_checkpoint turns every load failure, a missing file too, into one
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Batch-norm counters stay integers; every float tensor is halved.
    model = state["model"]
    if args.ema:
        if not state.get("ema"):
            print(f"error: {args.checkpoint!r} holds no weight EMA (a last.pt of a run with ema_decay > 0 does)",
                  file=sys.stderr)
            return 2
        # timm's ModelEmaV3 keeps the averaged network as its `module`.
        model = {name.removeprefix("module."): tensor for name, tensor in state["ema"].items()
                 if name.startswith("module.")}
    weights = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in model.items()}
    slim = {"config": state["config"], "model": weights, "preprocess": state.get("preprocess"),
            "epoch": state.get("epoch"), "metrics": state.get("metrics") or (state.get("history") or [None])[-1]}
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(output, slim)
    size = output.stat().st_size / 2**20
    print(f"wrote {output}: {size:.1f} MiB{'' if size <= LIMIT_MIB else f' (over the {LIMIT_MIB:g} MiB a commit may hold)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
