"""Milliseconds a training step (forward, backward, SGD) of the fer-best network on this CPU: fp32 against bf16 autocast.

Prints one row a variant and the ratio against fp32 channels_last (what the trainer
does), so `emocap train` uses bf16 on the CPU only where this shows it faster.

    OMP_NUM_THREADS=1 python benchmarks/train_step_speed.py --threads 1

With --teacher (repeatable: a checkpoint or an exported model), also what each teacher adds to a step
when it scores the batch mirror-averaged (--teacher-views mirrored), as the trainer runs it: a checkpoint
under bf16 autocast, an ONNX graph in ONNX Runtime with as many threads.

    OMP_NUM_THREADS=2 python benchmarks/train_step_speed.py --threads 2 \
        --teacher checkpoints/distill-campaign.pt --teacher src/emocap/models/emotion.onnx
"""

from __future__ import annotations

import argparse
import contextlib
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from emocap.training.config import PRESETS
from emocap.training.model import EmotionNet

TRAIN_FACES = 28_709


def cpu_features() -> str:
    """The flags that set a training step's speed, AMX among them.

    Not `emocap.onnx_session.cpu_features`: that one reads CPUID through NumPy, which has no AMX
    flag, and AMX against AVX-512 BF16 alone is what separates the Xeon's figures from the EPYC's.
    """
    try:
        flags = set(re.findall(r"\b(avx2|avx512f|avx512_vnni|avx512_bf16|amx_bf16)\b", Path("/proc/cpuinfo").read_text()))
    except OSError:
        return "unknown"
    return ", ".join(sorted(flags)) or "none of avx2/avx512/amx"


def step_ms(channels_last: bool, bf16: bool, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = EmotionNet(PRESETS["fer-best"].config)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 1, 48, 48).contiguous(memory_format=fmt)
    y = torch.randint(0, 7, (batch,))
    cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with cast:
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times[1:])[len(times[1:]) // 2]


def teacher_ms(path: str, batch: int, steps: int) -> float:
    """Median ms for the teacher at `path` to score a batch mirror-averaged, as the trainer's teacher does."""
    from common import mirrored_teacher

    teacher = mirrored_teacher(path).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 1, 48, 48).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.no_grad():
        for _ in range(steps + 1):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                teacher(x)[0].float().softmax(1)
            times.append(time.perf_counter() - start)
    return 1000 * sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads (default: all)")
    parser.add_argument("--batch", type=int, default=128, help="faces a step (default: the preset's 128)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps a variant, median reported (default: 5)")
    parser.add_argument("--teacher", action="append", default=[], metavar="MODEL",
                        help="also time this teacher (checkpoint or exported model) scoring a batch mirror-averaged")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU features: {cpu_features()}; torch {torch.__version__}; {args.threads} thread(s); batch {args.batch}")
    variants = [
        ("fp32, contiguous", False, False),
        ("fp32, channels_last (the trainer's)", True, False),
        ("bf16 autocast, channels_last", True, True),
    ]
    results = {name: step_ms(cl, bf16, args.batch, args.steps) for name, cl, bf16 in variants}
    base = results["fp32, channels_last (the trainer's)"]
    print(f"{'variant':38} {'ms a batch':>10} {'s an epoch':>10} {'vs trainer':>10}")
    for name, ms in results.items():
        epoch_s = ms / 1000 * TRAIN_FACES / args.batch
        print(f"{name:38} {ms:10.0f} {epoch_s:10.0f} {base / ms:9.2f}x")
    if args.teacher:
        step = results["bf16 autocast, channels_last"]
        print(f"\n{'teacher, mirror-averaged (bf16 autocast)':52} {'ms a batch':>10} {'vs a bf16 step':>14}")
        for path in args.teacher:
            ms = teacher_ms(path, args.batch, args.steps)
            print(f"{path:52} {ms:10.0f} {ms / step:13.2f}x")


if __name__ == "__main__":
    main()
