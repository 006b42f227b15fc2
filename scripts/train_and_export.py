"""Train one preset and export its best checkpoint to ONNX (fp32 + int8), without the CLI.

Used on the GPU machine, where only PyTorch and friends are installed and the
project runs from source (PYTHONPATH=src):

    python scripts/train_and_export.py --preset fer-best --data data/fer2013-pack --out runs/fer-best
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emocap.atomic import atomic_json
from emocap.commands.arguments import positive_int, real_number, whole_number
from emocap.datasets import load_fer2013
from emocap.training import export
from emocap.training.config import resolve_preset
from emocap.training.trainer import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=positive_int)
    parser.add_argument("--seed", type=whole_number(0, 2**32 - 1))
    parser.add_argument("--batch-size", type=whole_number(2))
    parser.add_argument("--max-minutes", type=real_number(0))
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--mirror", action="store_true", help="export with mirror averaging, as the shipped model is")
    parser.add_argument("--limit-train", type=positive_int, help="train on N faces only (a quick check of this script)")
    args = parser.parse_args()

    config = resolve_preset(args.preset, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size)
    summary = train(config, args.data, args.out, max_minutes=args.max_minutes, limit_train=args.limit_train)
    out = Path(args.out)
    result = {k: (str(v) if isinstance(v, Path) else v) for k, v in summary.__dict__.items()}
    if not args.no_export:
        splits = {split: load_fer2013(args.data, split) for split in ("PublicTest", "PrivateTest")}
        result.update(export.export_with_int8(
            out / "best.pt", out / "model.onnx", train=load_fer2013(args.data, "train"), check_splits=splits,
            mirror=args.mirror,
        ))
    atomic_json(out / "summary.json", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
