"""A training checkpoint cut down to what a later session needs to go on: the network's weights in
half precision, its config, its preprocessing and its figures; no optimiser, no random state.

A CPU session may lose everything outside the repository, and a ResNet's full checkpoint is too
big to commit (issue 13 allows weights-only checkpoints of at most 12 MiB). `emocap train
--init-from` and `emocap export` both take the result, as they take best.pt.

    python scripts/weights_only.py out/runs/student/best.pt checkpoints/student-stage1.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emocap.training.model import read_checkpoint
from emocap.training.trainer import save_checkpoint

LIMIT_MIB = 12.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="best.pt or last.pt from `emocap train`")
    parser.add_argument("output", help="the weights-only checkpoint to write")
    args = parser.parse_args(argv)
    try:
        state = read_checkpoint(args.checkpoint, name="checkpoint")
    except ValueError as error:  # read_checkpoint turns every load failure, a missing file too, into one
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Batch-norm counters stay integers; every float tensor is halved.
    weights = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in state["model"].items()}
    slim = {"config": state["config"], "model": weights, "preprocess": state.get("preprocess"),
            "epoch": state.get("epoch"), "metrics": state.get("metrics")}
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(output, slim)
    size = output.stat().st_size / 2**20
    print(f"wrote {output}: {size:.1f} MiB{'' if size <= LIMIT_MIB else f' (over the {LIMIT_MIB:g} MiB a commit may hold)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
