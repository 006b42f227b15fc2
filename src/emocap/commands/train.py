"""`emocap train`: train an emotion network on FER2013 (its labels, or FER+'s votes) with a named preset."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from emocap.commands.arguments import add_command, positive_int, real_number, whole_number
from emocap.commands.options import add_fer_data_option, model_by_name
from emocap.errors import EmocapError
from emocap.labels import BUILTIN_MODEL_NAMES

# Plain dataclasses, no PyTorch: `emocap --help` stays quick and works without the training extra.
from emocap.training.config import (
    CORRUPTION_FAMILIES, MAX_LR, PRECISIONS, PRESETS, TEACHER_VIEWS, TrainConfig, resolve_preset,
)


def _preset_lines() -> str:
    lines = []
    for name, preset in PRESETS.items():
        wrapped = textwrap.wrap(preset.summary, width=70)
        lines.append(f"  {name:<24} {wrapped[0]}")
        lines.extend(f"  {'':<24} {line}" for line in wrapped[1:])
    return "\n".join(lines)


EPILOG = f"""\
presets (each saved as config.json in the run folder; --print-config shows one resolved):
{_preset_lines()}

model selection: the checkpoint kept as best.pt is chosen on PublicTest only;
PrivateTest is reported, never used to choose; the test set is never trained on.

examples:
  emocap train --preset paper --data fer2013/ --out runs/paper
  emocap train --preset paper --data fer2013/ --epochs 1          # a quick look on a CPU
  emocap train --preset fer-best --data fer2013/ --out runs/best --resume
  emocap train --preset cpu --data fer2013/ --out runs/cpu-2 --init-from runs/cpu/best.pt --epochs 10 --lr 5e-4
  emocap train --preset ferplus --data fer2013/ --votes ferplus/labels.csv --init-from builtin
  emocap train --preset robust --data fer2013/ --votes ferplus/labels.csv --init-from builtin \\
      --teacher builtin --corruption-weight motion_blur=3 --corruption-weight gaussian_blur=2
  emocap train --preset student --data fer2013/ --teacher runs/best/best.pt --init-from runs/best/best.pt
  emocap train --preset fer-best --data fer2013/ --mix-prob 0 --teacher-weight 0.7 --teacher-views mirrored \\
      --teacher runs/best/best.pt --teacher runs/best-2/best.pt    # taught by two runs' average
  emocap export runs/best/best.pt -o my-model.onnx --data fer2013/

needs the training extra: pip install 'emocap[train]'
"""


DESCRIPTION = """\
Train an emotion network (a ResNet18; a ResNet10 with the student preset) on
FER2013's 7 classes, or on FER+'s 8 (the 7 and contempt) with the ferplus preset
and --votes. Writes config.json, curves.csv, curves.png (loss and accuracy per
epoch), last.pt (to resume) and best.pt (the epoch with the best PublicTest
accuracy).
"""


PRECISION_HELP = (
    "arithmetic of the training steps: bf16 autocast or fp32. auto (default) takes bf16 on CUDA and on CPUs with "
    "BF16 in hardware (AMX or AVX-512 BF16), where a step is about 2.4x faster; fp32 elsewhere, where bf16 is "
    "emulated and many times slower. Whatever it says, the test set is scored in fp32 on a CPU and under bf16 "
    "autocast on CUDA. A run may resume with another precision"
)


BUILTIN_NAMES = ", ".join(BUILTIN_MODEL_NAMES)


def add_parser(subparsers) -> None:
    name, summary = "train", "train an emotion model on FER2013 (needs emocap[train])"
    parser = add_command(subparsers, name, help=summary, description=DESCRIPTION, epilog=EPILOG)
    add_fer_data_option(parser, use="required, except with --print-config", required=False)
    parser.add_argument("--preset", default="paper", metavar="NAME",
                        help=f"training recipe: {', '.join(PRESETS)} (see below; default: paper)")
    parser.add_argument("--out", default=None, metavar="DIR", help="run folder (default: runs/<preset>)")
    parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                        help="override the preset's number of epochs (with --resume: the run's own total, epochs done "
                        "included; another total would change its schedule and is refused)")
    parser.add_argument("--batch-size", type=whole_number(2, note="even"), default=None, metavar="N",
                        help="override the preset's batch size (even: Mixup pairs the faces of a batch)")
    parser.add_argument("--lr", type=real_number(0, above=True, maximum=MAX_LR, unit="learning rate"), default=None,
                        help=f"override the preset's learning rate (at most {MAX_LR:g})")
    parser.add_argument("--warmup-epochs", type=whole_number(0), default=None, metavar="N",
                        help="override the preset's epochs of linear learning-rate warm-up (0: none; a short schedule "
                        "from trained weights needs none, and one no longer than its warm-up never decays)")
    parser.add_argument("--seed", type=whole_number(0, 2**32 - 1), default=None, metavar="N",
                        help="random seed (default: the preset's, 0)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    parser.add_argument("--resume", action="store_true", help="continue from last.pt in the run folder")
    parser.add_argument("--init-from", type=model_by_name, default=None, metavar="CHECKPOINT",
                        help="start from the weights of this best.pt, last.pt or emocap ONNX model (same network; "
                        f"'builtin' or a built-in model's name: {BUILTIN_NAMES}) instead of random ones: a second "
                        "schedule after a first, or fine-tuning; recorded in config.json")
    parser.add_argument("--votes", default=None, metavar="CSV",
                        help="FER+ votes for the faces of --data: labels.csv (by file) or fer2013new.csv (by row)")
    parser.add_argument("--votes-weight", type=real_number(0, unit="share of the target"), default=None, metavar="W",
                        help="override the preset's share of the target taken from the FER+ votes (0: none; the "
                        "FER2013 label takes what is left after votes and teacher)")
    parser.add_argument("--teacher", type=model_by_name, action="append", default=None, metavar="MODEL",
                        help="the model whose probabilities join the targets (presets with a teacher weight): an "
                        "emocap ONNX model ('builtin' or a built-in model's name) that scores the clean faces "
                        "once, or, with --teacher-views same or mirrored, a checkpoint's float weights (best.pt, "
                        "checkpoints/*.pt) or an exported model (an int8 graph scores a batch in about half the "
                        "time) that score every augmented batch. Repeat it for an ensemble teacher: the models' "
                        "probabilities are averaged (each teacher costs a forward pass a batch)")
    parser.add_argument("--teacher-views", choices=TEACHER_VIEWS, default=None,
                        help="what the teacher scores: each clean face once (clean), every augmented face the "
                        "student is shown, as it is shown (same: slower, a closer lesson), or each of those averaged "
                        "with its mirror image, as the shipped models read faces (mirrored: slower still, a "
                        "stronger teacher for a student of its own network); default: the preset's")
    parser.add_argument("--teacher-weight", type=real_number(0, unit="share of the target"), default=None,
                        metavar="W", help="override the preset's share of the target taken from the teacher")
    parser.add_argument("--mix-prob", type=real_number(0, maximum=1, unit="share of batches"), default=None,
                        metavar="P", help="override the preset's share of batches given Mixup or CutMix (0: none, as "
                        "training on votes or a teacher needs)")
    parser.add_argument("--corruption-share", type=real_number(0, unit="share of faces"), default=None,
                        metavar="P", help="override the preset's share of training faces given a webcam corruption "
                        "(0: none)")
    parser.add_argument("--wild-share", type=real_number(0, maximum=1, unit="share of faces"), default=None, metavar="P",
                        help="show this share of training faces as video shows them (issue 44's conditions: turned, "
                        "tilted, side-lit, warm and dim, covered, small and soft, off-centre), each parameter drawn "
                        "from a range wider than the wild yardstick's (default 0: none)")
    parser.add_argument("--corruption-weight", type=_family_weight, action="append", default=None,
                        metavar="FAMILY=N", help="draw that corruption family N times as often as the others "
                        f"(0: never); repeat for several. Families: {', '.join(CORRUPTION_FAMILIES)}")
    parser.add_argument("--lift-light", action="store_true",
                        help="train on faces lifted as `emocap live --lift-light` lifts them: one darker or "
                        "flatter than the average training face is brightened and stretched to it; recorded in "
                        "config.json, and the exported model carries it, so run time does the same")
    parser.add_argument("--max-minutes", type=real_number(0, unit="number of minutes"), default=None, metavar="M",
                        help="stop cleanly at the end of the first epoch that ends after M minutes (0: after one "
                        "epoch); continue later with --resume")
    parser.add_argument("--eval-every", type=positive_int, default=None, metavar="N",
                        help="score the test set every N epochs, and on the last and where --max-minutes stops "
                        "(default: every epoch); best.pt is chosen among the scored epochs")
    parser.add_argument("--print-config", action="store_true",
                        help="print the run's configuration (the preset with the options above applied) as JSON, "
                        "as config.json will hold it, and stop without training")
    parser.add_argument("--limit-train", type=positive_int, default=None, metavar="N",
                        help="train on a random N-face subset, at least one batch (for quick checks)")
    parser.set_defaults(run=run)


def _family_weight(text: str) -> tuple[str, int]:
    name, equals, count = text.partition("=")
    if not equals or name not in CORRUPTION_FAMILIES:
        raise argparse.ArgumentTypeError(
            f"expected FAMILY=N with FAMILY one of {', '.join(CORRUPTION_FAMILIES)}, got {text!r}"
        )
    return name, whole_number(0)(count)


RUN_FILES = ("config.json", "curves.csv", "curves.png", "last.pt", "best.pt")
"""What a run writes into its folder (`emocap.training.trainer.train`)."""


def check_inputs_untouched(args: argparse.Namespace, out: str) -> None:
    """Refuse a run folder that would add to the dataset folder or overwrite a file given as input
    (a --init-from best.pt in it is overwritten at the first epoch's end)."""
    from emocap.outputs.files import check_named_outputs

    inputs = [("--data", args.data), ("--votes", args.votes), ("--init-from", args.init_from)]
    inputs += [("--teacher", teacher) for teacher in args.teacher or ()]
    check_named_outputs({"--out": out}, {"--data": args.data})
    check_named_outputs([("--out", Path(out) / name) for name in RUN_FILES], inputs)


def run(args: argparse.Namespace) -> int:
    check_inputs_untouched(args, args.out or f"runs/{args.preset}")
    config = _resolved_config(args)
    if args.print_config:  # needs no PyTorch: the config is plain dataclasses
        print(config.to_json())
        return 0
    if args.data is None:
        raise EmocapError("--data is required: the FER2013 folder, CSV or pack to train on")
    try:
        from emocap.training.trainer import train
    except ImportError as error:
        raise EmocapError(f"training needs PyTorch: pip install 'emocap[train]' ({error.name} is missing)") from None
    try:
        summary = train(
            config, args.data, args.out or f"runs/{config.preset}", device=args.device, precision=args.precision,
            resume=args.resume, max_minutes=args.max_minutes, limit_train=args.limit_train,
        )
    except ValueError as error:
        raise EmocapError(str(error)) from None
    print(
        f"done: {summary.epochs_done} epochs in {summary.seconds:.0f}s; best PublicTest {summary.best_public_acc:.4f} "
        f"at epoch {summary.best_epoch} (PrivateTest {summary.private_acc_at_best:.4f}, "
        f"test {summary.test_acc_at_best:.4f}); outputs in {summary.out_dir}"
    )
    return 0


def _resolved_config(args: argparse.Namespace) -> TrainConfig:
    """The preset with the options given applied: the run's config, as config.json will hold it."""
    try:
        return resolve_preset(
            args.preset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
            warmup_epochs=args.warmup_epochs,
            init_from=args.init_from, votes=args.votes,
            teachers=tuple(args.teacher) if args.teacher else None,
            votes_weight=args.votes_weight, teacher_weight=args.teacher_weight, teacher_views=args.teacher_views,
            mix_prob=args.mix_prob, corruption_prob=args.corruption_share, wild_prob=args.wild_share,
            eval_every=args.eval_every,
            corruption_weights=tuple(args.corruption_weight) if args.corruption_weight else None,
            lift_light=args.lift_light or None,
        )
    except ValueError as error:
        raise EmocapError(str(error)) from None
