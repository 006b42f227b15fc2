"""How closely a cheaper teacher says what the float network says, on the faces a student is shown.

A teacher of augmented batches (`emocap train --teacher-views same` or `mirrored`) scores every batch,
so its form sets a run's speed: the float network in fp32, under bf16 autocast (what the trainer runs
on a CPU with BF16), or its exported int8 graph in ONNX Runtime (about half bf16's time,
benchmarks/train_step_speed.py --teacher). This scores training faces augmented as the campaign's
recipe shows them (`fer-best`, wild faces in half of each batch), each mirror-averaged, by the
reference checkpoint in fp32 and by each other form, and prints top-1 agreement, the mean KL divergence
from the fp32 probabilities and the largest probability moved.

    OMP_NUM_THREADS=1 python benchmarks/teacher_agreement.py --data ../shared/data/fer2013-pack \
        checkpoints/distill-campaign.pt out/teachers/gen1.int8.onnx
"""

from __future__ import annotations

import argparse

import torch
from common import mirrored_teacher, one_line_errors, save_report

from emocap.datasets import load_fer2013
from emocap.errors import EmocapError
from emocap.preprocessing import Preprocess
from emocap.training.augment import BatchAugment
from emocap.training.config import resolve_preset


def taught_probabilities(path: str, faces: torch.Tensor, bf16: bool) -> torch.Tensor:
    teacher = mirrored_teacher(path)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return torch.cat([teacher(faces[start:start + 128])[0].float().softmax(1)
                          for start in range(0, len(faces), 128)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="the float weights (a checkpoint) the others are forms of")
    parser.add_argument("others", nargs="+", help="exported graphs (int8 or fp32 .onnx) of the same network")
    parser.add_argument("--data", required=True, help="FER2013 folder, CSV or pack: its training faces are used")
    parser.add_argument("--faces", type=int, default=1024, help="augmented training faces (default: 1024)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        train = load_fer2013(args.data, "train")
    except ValueError as error:
        raise EmocapError(str(error)) from None
    config = resolve_preset("fer-best", mix_prob=0.0, wild_prob=0.5)
    augment, generator = BatchAugment(config, Preprocess()), torch.Generator().manual_seed(0)
    faces = torch.cat([augment(torch.from_numpy(train.images[start:start + 128]), generator)
                       for start in range(0, min(args.faces, len(train)), 128)])
    reference = taught_probabilities(args.reference, faces, bf16=False)
    forms = [(f"{args.reference} (bf16 autocast)", taught_probabilities(args.reference, faces, bf16=True))]
    forms += [(path, taught_probabilities(path, faces, bf16=False)) for path in args.others]
    print(f"{len(faces)} augmented training faces, each mirror-averaged; reference: {args.reference} in fp32")
    print(f"{'teacher':60} {'top-1 agreement':>15} {'mean KL':>9} {'largest moved':>13}")
    rows = []
    for name, probs in forms:
        kl = (reference * (reference.clamp_min(1e-9).log() - probs.clamp_min(1e-9).log())).sum(1).mean().item()
        row = {"teacher": name, "agreement": (reference.argmax(1) == probs.argmax(1)).float().mean().item(),
               "mean_kl": kl, "largest_moved": (reference - probs).abs().max().item()}
        rows.append(row)
        print(f"{name:60} {row['agreement']:15.2%} {kl:9.5f} {row['largest_moved']:13.3f}")
    return save_report(args.json, {"faces": len(faces), "reference": args.reference, "forms": rows})


if __name__ == "__main__":
    raise SystemExit(one_line_errors(main))
