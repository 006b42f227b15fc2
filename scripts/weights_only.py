"""A training checkpoint cut down to its half-precision weights, small enough to commit.

Developer tooling, not a command: the repository's own bookkeeping between working sessions, which
keep a long training run going from a checkpoint committed to the repository (checkpoints/).
A full checkpoint is too big to commit; the weights-only one (emocap.training.weights_only: fp16
weights, config, preprocessing and figures) fits the 23 MiB a commit may hold. `emocap train
--init-from` and `emocap export` take it as they take best.pt. --ema keeps a last.pt's weight EMA
(the weights the run scores and would ship) instead of its raw weights.

    python scripts/weights_only.py out/runs/student/best.pt checkpoints/student-stage1.pt
    python scripts/weights_only.py --ema out/runs/fer-best/last.pt checkpoints/fer-best-campaign.pt
"""

from __future__ import annotations

import argparse
import sys

from emocap.training.weights_only import write_weights_only

LIMIT_MIB = 23.0
"""The largest checkpoint a commit may hold."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="best.pt or last.pt from `emocap train`")
    parser.add_argument("output", help="the weights-only checkpoint to write")
    parser.add_argument("--ema", action="store_true", help="keep a last.pt's weight EMA, not its raw weights")
    args = parser.parse_args(argv)
    try:
        size = write_weights_only(args.checkpoint, args.output, ema=args.ema)
    except ValueError as error:  # read_checkpoint turns every load failure, a missing file too, into one
        parser.exit(2, f"error: {error}\n")
    too_big = f" (over the {LIMIT_MIB:g} MiB a commit may hold)" if size > LIMIT_MIB else ""
    print(f"wrote {args.output}: {size:.1f} MiB{too_big}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
