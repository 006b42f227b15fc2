"""Weight-space interpolation of a model and its fine-tuned copy (WiSE-FT, Wortsman et al., CVPR 2022).

Fine-tuning the built-in model on corrupted faces (the `robust` preset) buys
robustness and costs some clean accuracy. The weights on the straight line
between the two networks often keep the best of both: for each alpha,

    weights = (1 - alpha) * base + alpha * tuned

with the batch norms' statistics measured again on clean training faces. Each
alpha is scored with mirror averaging (as the shipped graph does) on clean
PublicTest and on FER2013-C built from a PublicTest sample; the one chosen is
the most robust (highest mCA) among those no less accurate on clean PublicTest
than the base. PrivateTest is printed for the record, never used to choose.
The chosen weights are written as a checkpoint that `emocap export` takes.

    python scripts/interpolate_weights.py --tuned out/runs/robust/best.pt --data ../shared/data/fer2013 \\
        --out out/wise
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from emocap.classifier import BUILTIN_MODEL
from emocap.datasets import load_fer2013
from emocap.evaluation.corruptions import corruption_accuracy
from emocap.onnx_session import cpu_features
from emocap.training.from_onnx import emotion_net_from_onnx
from emocap.training.model import LogitsAndEmbedding, read_checkpoint
from emocap.training.trainer import save_checkpoint


@torch.no_grad()
def recalibrate_batch_norms(net, faces: np.ndarray, preprocess, batch: int = 256) -> None:
    """Running statistics measured afresh (a cumulative average) over `faces` in training mode."""
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    net.train()
    for start in range(0, len(faces), batch):
        net(torch.from_numpy(preprocess(faces[start : start + batch])))
    for norm in norms:
        norm.momentum = 0.1
    net.eval()


def predictor(net, preprocess):
    wrapper = LogitsAndEmbedding(net, mirror=True).eval()

    @torch.no_grad()
    def predict(faces: np.ndarray) -> np.ndarray:
        logits = [wrapper(torch.from_numpy(preprocess(faces[s : s + 512])))[0] for s in range(0, len(faces), 512)]
        return torch.softmax(torch.cat(logits), dim=1).numpy()

    return predict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=str(BUILTIN_MODEL), help="the model fine-tuned from (ONNX; default: built-in)")
    parser.add_argument("--tuned", required=True, help="the fine-tuned checkpoint (best.pt)")
    parser.add_argument("--data", required=True, help="FER2013")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--corruption-faces", type=int, default=1000,
                        help="PublicTest faces FER2013-C is built from for choosing (default: 1000)")
    parser.add_argument("--calibration-faces", type=int, default=4096)
    parser.add_argument("--out", required=True, help="folder for the chosen checkpoint (wise.pt) and the table")
    args = parser.parse_args(argv)

    train, public, private = (load_fer2013(args.data, split) for split in ("train", "PublicTest", "PrivateTest"))
    rng = np.random.default_rng(0)
    calibration = train.images[rng.permutation(len(train))[: args.calibration_faces]]
    sample = np.sort(rng.permutation(len(public))[: args.corruption_faces])
    base, _, preprocess, _ = emotion_net_from_onnx(args.base, calibration)
    state = read_checkpoint(args.tuned)
    tuned_weights = state["model"]
    base_weights = base.state_dict()

    rows = []
    for alpha in args.alphas:
        mixed = {name: (1 - alpha) * base_weights[name].float() + alpha * tuned_weights[name].float()
                 if base_weights[name].is_floating_point() else tuned_weights[name]
                 for name in base_weights}
        base.load_state_dict(mixed)
        recalibrate_batch_norms(base, calibration, preprocess)
        predict = predictor(base, preprocess)
        robust = corruption_accuracy(predict, public.images[sample], public.labels[sample])
        row = {
            "alpha": alpha,
            "public": float((predict(public.images).argmax(1) == public.labels).mean()),
            "public_c_mca": robust["mca"],
            "private": float((predict(private.images).argmax(1) == private.labels).mean()),
            "weights": {name: value.clone() for name, value in base.state_dict().items()},
        }
        rows.append(row)
        print(f"alpha {alpha:4.2f}  PublicTest {row['public']:.2%}  PublicTest-C mCA ({len(sample)} faces) "
              f"{row['public_c_mca']:.2%}  PrivateTest {row['private']:.2%}", flush=True)

    floor = next((row["public"] for row in rows if row["alpha"] == 0.0), rows[0]["public"])
    eligible = [row for row in rows if row["public"] >= floor] or rows
    chosen = max(eligible, key=lambda row: row["public_c_mca"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / "wise.pt", {**state, "model": chosen["weights"], "interpolation": {
        "base": args.base, "tuned": args.tuned, "alpha": chosen["alpha"]}})
    table = [{k: v for k, v in row.items() if k != "weights"} for row in rows]
    (out / "interpolation.json").write_text(json.dumps({"rows": table, "chosen_alpha": chosen["alpha"]}, indent=2))
    print(f"chosen: alpha {chosen['alpha']} (highest PublicTest-C mCA with PublicTest at least {floor:.2%}); "
          f"wrote {out / 'wise.pt'}")
    print(f"measured on: {cpu_features().describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
