"""The training loop: FER2013 held on the device, batch augmentation, honest model selection.

Checkpoints are chosen on PublicTest only; PrivateTest is reported, never used
to choose. The test set is never trained on.
"""

from __future__ import annotations

import csv
import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from emocap.atomic import atomic_path, atomic_text
from emocap.datasets import FerData, load_fer2013, split_mask
from emocap.errors import first_line
from emocap.labels import LABEL_SETS
from emocap.onnx_session import cpu_features
from emocap.outputs.files import folder_for_outputs
from emocap.preprocessing import FER2013_FACE_LIGHT, Preprocess
from emocap.training.augment import BatchAugment, to_model_input
from emocap.training.config import PRECISIONS, TrainConfig
from emocap.training.model import EmotionNet, LogitsAndEmbedding, check_same_network, read_checkpoint
from emocap.training.targets import (
    TargetRecipe,
    check_teacher_classes,
    relabel_by_votes,
    soft_targets,
    teacher_probabilities,
)
from emocap.votes import load_votes

CURVE_COLUMNS = (
    "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
    "public_acc", "private_acc", "seconds",
)


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    epochs_done: int
    best_epoch: int
    best_public_acc: float
    private_acc_at_best: float
    test_acc_at_best: float
    seconds: float


def pick_device(name: str = "auto") -> torch.device:
    """auto (CUDA when present), cpu, cuda or cuda:N; a ValueError quoting any other name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:[0-9]+)?", name):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda or cuda:N")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but no CUDA GPU is available")
        count = torch.cuda.device_count()
        if int(name.partition(":")[2] or 0) >= count:
            raise ValueError(f"device {name!r} asked for, but this machine has CUDA GPUs cuda:0 to cuda:{count - 1} only")
    return torch.device(name)


class Evaluator:
    """Loss and accuracy on the test set, with PublicTest / PrivateTest told apart by file name."""

    def __init__(self, test: FerData, preprocess: Preprocess, device: torch.device) -> None:
        self.images = torch.from_numpy(test.images).to(device)
        self.labels = torch.from_numpy(test.labels).to(device)
        self.public = torch.from_numpy(split_mask(test.files, "PublicTest")).to(device)
        self.private = torch.from_numpy(split_mask(test.files, "PrivateTest")).to(device)
        self.preprocess = preprocess
        self.device = device

    @torch.no_grad()
    def logits(self, model: nn.Module, batch_size: int = 1024) -> torch.Tensor:
        """The test set's logits, whatever precision the training steps use: in fp32 on a CPU (exact, and
        bf16 may be emulated there), under bf16 autocast on CUDA (where it is fast and choosing best.pt
        needs no more)."""
        model.eval()
        outputs = []
        for start in range(0, len(self.images), batch_size):
            x = to_model_input(self.images[start : start + batch_size], self.preprocess)
            with _autocast(self.device, bf16=self.device.type == "cuda"):
                outputs.append(model(x.contiguous(memory_format=torch.channels_last)).float())
        return torch.cat(outputs)

    def __call__(self, model: nn.Module) -> dict[str, float]:
        logits = self.logits(model)
        loss = nn.functional.cross_entropy(logits, self.labels).item()
        correct = logits.argmax(1) == self.labels
        share = lambda mask: correct[mask].float().mean().item() if mask.any() else float("nan")  # noqa: E731
        return {
            "test_loss": loss,
            "test_acc": correct.float().mean().item(),
            "public_acc": share(self.public),
            "private_acc": share(self.private),
        }


def uses_bf16(precision: str, device: torch.device) -> bool:
    """Whether training steps run under bf16 autocast: `auto` picks it on CUDA and on CPUs with BF16 in hardware.

    Measured on a fer-best step (benchmarks/train_step_speed.py): 2.4x faster than fp32 on an AMX Xeon,
    17x slower on an AVX2-only EPYC, where oneDNN emulates bf16.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return device.type == "cuda" or cpu_features().bf16
    return precision == "bf16"


def _autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def _make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum,
        weight_decay=config.weight_decay, nesterov=True,
    )


def _lr_factor(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Learning-rate multiplier at an optimiser step (the schedule is applied per step)."""
    epoch = step / steps_per_epoch
    if config.warmup_epochs and epoch < config.warmup_epochs:
        return (step + 1) / (config.warmup_epochs * steps_per_epoch)
    if config.scheduler == "step":
        return config.gamma ** int(epoch // config.step_size)
    progress = (epoch - config.warmup_epochs) / max(config.epochs - config.warmup_epochs, 1e-9)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class _Data:
    """The faces an epoch trains on, held on the device, and the scorer of the test set."""

    images: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor | None  # soft targets a face, or None when the batch's labels (perhaps mixed) are the target
    evaluator: Evaluator
    train_faces: FerData


@dataclass
class _Network:
    """What the optimiser steps: the model, its optimiser and weight EMA, and the batch recipe."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    ema: nn.Module | None
    augment: BatchAugment
    mixer: object | None
    criterion: nn.Module
    bf16: bool  # the steps under bf16 autocast (the test set: fp32 on a CPU, exactly; bf16 on CUDA)
    # score each augmented batch (teacher_views "same" or "mirrored"): (logits, embedding), as LogitsAndEmbedding;
    # their probabilities are averaged
    teachers: tuple[nn.Module, ...] = ()

    @property
    def scored(self) -> nn.Module:
        """The weights evaluated and kept in best.pt: the EMA's where there is one."""
        return self.ema.module if self.ema is not None else self.model


@dataclass
class _Progress:
    """Where a run stands: epochs done, the best PublicTest epoch so far, a row an epoch."""

    epochs_done: int
    best: dict
    history: list[dict]

    @classmethod
    def fresh(cls) -> _Progress:
        return cls(0, {"epoch": -1, "public_acc": -1.0, "private_acc": float("nan"), "test_acc": float("nan")}, [])

    def summary(self, out: Path) -> RunSummary:
        best = self.best
        return RunSummary(
            out_dir=out, epochs_done=self.epochs_done, best_epoch=best["epoch"], best_public_acc=best["public_acc"],
            private_acc_at_best=best["private_acc"], test_acc_at_best=best["test_acc"],
            seconds=sum(r["seconds"] for r in self.history),
        )


def train(
    config: TrainConfig,
    data_root: str | Path,
    out_dir: str | Path,
    *,
    device: str = "auto",
    precision: str = "auto",
    resume: bool = False,
    max_minutes: float | None = None,
    limit_train: int | None = None,
    progress: bool = True,
) -> RunSummary:
    """Train, writing config.json, curves.csv, curves.png, last.pt and best.pt into `out_dir`.

    `max_minutes`: stop at the end of the first epoch that ends after this many minutes (0: after one epoch).
    `limit_train`: train on a random subset of this many faces (at least one batch).
    `precision`: auto, fp32 or bf16 (`uses_bf16`); a machine's choice, so a run resumes on another machine.
    """
    out = Path(out_dir)
    preprocess = model_input(config)
    dev = pick_device(device)
    bf16 = uses_bf16(precision, dev)
    _check_request(config, limit_train, out, resume)
    torch.backends.cudnn.benchmark = dev.type == "cuda"
    torch.manual_seed(config.seed)
    # timm's Mixup/CutMix draws from NumPy's global random state: seed it too (and keep it in last.pt),
    # or two runs of one config, or a resumed run and an uninterrupted one, mix different batches.
    np.random.seed(config.seed)
    generator = torch.Generator(device=dev).manual_seed(config.seed)
    # The run folder goes again when the run fails before writing in it: a bad data path or --init-from.
    with folder_for_outputs(out, option="run folder"):
        data = _load_data(config, data_root, out, dev, limit_train, preprocess)
        network = _build_network(config, data, preprocess, dev, bf16)
        run = _Progress.fresh()
        if resume and (out / "last.pt").exists():
            run = _resume(out / "last.pt", config, preprocess, network, generator, dev)
        with atomic_text(out / "config.json") as stream:
            stream.write(config.to_json())

    began = time.monotonic()
    epochs = range(run.epochs_done, config.epochs)
    for epoch in tqdm(epochs, desc="epochs", unit="epoch", disable=not progress, initial=run.epochs_done,
                      total=config.epochs):
        epoch_start = time.monotonic()
        row = {"epoch": epoch + 1, **train_one_epoch(config, network, data, epoch, generator, progress)}
        _refuse_divergence(row, run, config, network, out)
        last_epoch = epoch + 1 == config.epochs
        stopping = not last_epoch and max_minutes is not None and (time.monotonic() - began) / 60 > max_minutes
        if last_epoch or stopping or (epoch + 1) % config.eval_every == 0:
            row.update(data.evaluator(network.scored))
        else:
            row.update(dict.fromkeys(("test_loss", "test_acc", "public_acc", "private_acc"), float("nan")))
        row["seconds"] = time.monotonic() - epoch_start
        _record_epoch(row, run, config, network, generator, preprocess, out, len(data.evaluator.labels))
        if progress:
            tqdm.write(_epoch_line(row, config.epochs, run.history))
        if stopping:
            if progress:
                tqdm.write(f"stopping after {max_minutes} minutes; continue with --resume")
            break
    return run.summary(out)


def model_input(config: TrainConfig) -> Preprocess:
    """The input a run's network learns from, which its checkpoints and exported model carry."""
    return Preprocess(lift_to=FER2013_FACE_LIGHT) if config.lift_light else Preprocess()


def _check_request(config: TrainConfig, limit_train: int | None, out: Path, resume: bool) -> None:
    """ValueError for what can be refused before the data's seconds of loading."""
    if limit_train is not None and limit_train < 1:
        raise ValueError(f"limit_train must be at least 1, got {limit_train!r}")
    kept = [name for name in ("best.pt", "last.pt") if not resume and (out / name).exists()]
    if kept:  # its first epoch would replace them: another run's weights, lost
        raise ValueError(f"{str(out)!r} already holds a run ({kept[0]}): continue it with --resume, "
                         "or train into a new folder")
    config.check_sources()
    named = [("init_from", config.init_from), ("votes", config.votes)] + [("teacher", t) for t in config.teachers]
    for name, path in named:
        if path and not Path(path).is_file():
            raise ValueError(f"{name} {path!r}: no such file")


def _load_data(
    config: TrainConfig, data_root: str | Path, out: Path, dev: torch.device, limit_train: int | None,
    preprocess: Preprocess,
) -> _Data:
    class_names = LABEL_SETS[config.labels]
    train_data = load_fer2013(data_root, "train")
    test_data = load_fer2013(data_root, "test")
    votes = load_votes(config.votes) if config.votes else None
    if config.labels == "ferplus":
        train_data = relabel_by_votes(train_data, votes, class_names)
        test_data = relabel_by_votes(test_data, votes, class_names)
    if limit_train is not None:
        keep = np.random.default_rng(config.seed).permutation(len(train_data))[:limit_train]
        train_data = train_data.subset(np.sort(keep))
    if len(train_data) < config.batch_size:
        # Not one optimiser step an epoch: the losses would be NaN and best.pt an untrained network.
        raise ValueError(
            f"{len(train_data)} training faces are fewer than one batch of {config.batch_size}; "
            "lower the batch size or train on more faces"
        )
    targets = None
    if config.soft_targets:
        targets = torch.from_numpy(_soft_targets(config, train_data, class_names, votes, out)).to(dev)
    return _Data(
        images=torch.from_numpy(train_data.images).to(dev), labels=torch.from_numpy(train_data.labels).to(dev),
        targets=targets, evaluator=Evaluator(test_data, preprocess, dev), train_faces=train_data,
    )


def _build_network(
    config: TrainConfig, data: _Data, preprocess: Preprocess, dev: torch.device, bf16: bool,
) -> _Network:
    num_classes = len(LABEL_SETS[config.labels])
    model = EmotionNet(config, num_classes=num_classes, in_channels=preprocess.channels)
    if config.init_from:
        _load_initial_weights(model, config, Path(config.init_from), data.train_faces)
    model = model.to(dev).to(memory_format=torch.channels_last)
    optimizer = _make_optimizer(config, model)
    ema = None
    if config.ema_decay > 0:
        from timm.utils import ModelEmaV3

        ema = ModelEmaV3(model, decay=config.ema_decay, use_warmup=True)
    mixer, criterion = _loss_and_mixer(config, num_classes)
    teachers = ()
    if config.teacher_weight > 0 and config.teacher_views != "clean":
        teachers = tuple(teacher_network(config, path, preprocess).to(dev).to(memory_format=torch.channels_last)
                         for path in config.teachers)
    return _Network(model, optimizer, ema, BatchAugment(config, preprocess), mixer, criterion, bf16, teachers)


def teacher_network(config: TrainConfig, path: str, preprocess: Preprocess) -> nn.Module:
    """The teacher, frozen, reading each face alone or averaged with its mirror image (teacher_views
    "mirrored"): a checkpoint's float network, or an exported graph run by ONNX Runtime (`OnnxTeacher`);
    ValueError quoting it where it reads other classes or input."""
    if Path(path).suffix.lower() == ".onnx":
        teacher = OnnxTeacher(path, mirror=config.teacher_views == "mirrored")
        teacher_classes, teacher_input = teacher.labels, teacher.preprocess
    else:
        from emocap.training.export import load_checkpoint

        try:
            network, teacher_config, teacher_input, _ = load_checkpoint(path)
        except ValueError as error:
            raise ValueError(f"teacher {error}") from None
        teacher_classes = LABEL_SETS[teacher_config.labels]
        teacher = LogitsAndEmbedding(network, mirror=config.teacher_views == "mirrored")
    check_teacher_classes(path, teacher_classes, LABEL_SETS[config.labels])
    if teacher_input != preprocess:
        raise ValueError(f"teacher {path!r} reads other input ({teacher_input.to_json()}) than this run "
                         f"({preprocess.to_json()}); check --lift-light")
    return teacher.eval().requires_grad_(False)


class OnnxTeacher(nn.Module):
    """An exported model (`emocap export`, int8 or fp32) as a teacher of augmented batches: the same
    (logits, embedding) interface as LogitsAndEmbedding, run by ONNX Runtime on the CPU. An int8 graph
    scores a batch in about half the time of the float network under bf16 autocast (238 against 498 ms
    for 128 faces mirror-averaged, two threads, AMD EPYC with AVX-512 VNNI; benchmarks/train_step_speed.py
    --teacher), reading as the shipped model reads; its logits come without the model's calibrated
    temperature, as a checkpoint's do."""

    def __init__(self, path: str, *, mirror: bool) -> None:
        super().__init__()
        from emocap.classifier import EmotionClassifier
        from emocap.errors import ModelError

        try:
            self.classifier = EmotionClassifier(path, threads=torch.get_num_threads(), mirror=mirror)
        except ModelError as error:
            raise ValueError(f"teacher {first_line(error)}") from None
        if mirror and not self.classifier.mirrored:
            raise ValueError(f"teacher {path!r} sees each face alone (exported without --mirror): --teacher-views "
                             "mirrored needs a graph that averages mirror images, or the checkpoint's float weights")
        self.labels, self.preprocess = self.classifier.labels, self.classifier.preprocess

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        faces = x.detach().float().contiguous().cpu().numpy()
        return torch.from_numpy(self.classifier.logits_of_input(faces)).to(x.device), None


def _resume(
    last_path: Path, config: TrainConfig, preprocess: Preprocess, network: _Network, generator: torch.Generator,
    dev: torch.device,
) -> _Progress:
    state = read_checkpoint(last_path, device=dev, name="--resume")
    if Preprocess.from_json(state["preprocess"]) != preprocess:
        raise ValueError(f"cannot resume {str(last_path)!r}: it was trained on other input "
                         f"({state['preprocess']}, this run {preprocess.to_json()}); check --lift-light")
    # Compared as settings, not text: a run saved before a setting existed resumes under its default. Its input
    # (lift_light) was compared just above as the checkpoint's preprocessing, which runs saved before the
    # setting was recorded in their config also hold.
    if replace(TrainConfig.from_json(state["config"]), lift_light=config.lift_light) != config:
        raise ValueError(f"cannot resume {str(last_path)!r}: it was trained with another configuration")
    check_same_network(network.model, state["model"], f"--resume {str(last_path)!r}")
    try:
        network.model.load_state_dict(state["model"])
        network.optimizer.load_state_dict(state["optimizer"])
        if network.ema is not None:
            network.ema.load_state_dict(state["ema"])
        generator.set_state(state["generator"].cpu() if dev.type == "cpu" else state["generator"])
        if "numpy_random" in state:  # absent from checkpoints written before it was kept
            _set_numpy_random_state(state["numpy_random"])
        return _Progress(int(state["epoch"]), dict(state["best"]), list(state["history"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:  # a last.pt that is not one this trainer wrote
        raise ValueError(f"cannot resume {str(last_path)!r}: its training state is incomplete or damaged "
                         f"({type(error).__name__}: {first_line(error)})") from None


def _numpy_random_state() -> list:
    """NumPy's global random state as plain values: a checkpoint holds no NumPy objects (`read_checkpoint`)."""
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached_gaussian)]


def _set_numpy_random_state(saved) -> None:
    """Back to a state `_numpy_random_state` kept, or to the tuple with a NumPy array that older last.pt hold."""
    name, keys, position, has_gauss, cached_gaussian = saved
    keys = keys.cpu().numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    np.random.set_state((name, keys.astype(np.uint32), int(position), int(has_gauss), float(cached_gaussian)))


def train_one_epoch(
    config: TrainConfig, network: _Network, data: _Data, epoch: int, generator: torch.Generator, progress: bool,
) -> dict:
    """One pass over the training faces in a random order; the learning rate, mean loss and accuracy."""
    dev = data.images.device
    model, optimizer = network.model, network.optimizer
    model.train()
    steps_per_epoch = len(data.images) // config.batch_size
    order = torch.randperm(len(data.images), device=dev, generator=generator)
    loss_sum = torch.zeros((), device=dev)
    correct_sum = torch.zeros((), device=dev)
    batches = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}", leave=False,
                   disable=not progress or dev.type == "cuda")
    for batch in batches:
        step = epoch * steps_per_epoch + batch
        for group in optimizer.param_groups:
            group["lr"] = config.lr * _lr_factor(config, step, steps_per_epoch)
        index = order[batch * config.batch_size : (batch + 1) * config.batch_size]
        x = network.augment(data.images[index], generator)
        y = data.labels[index]
        if data.targets is not None:
            target = data.targets[index]
            if network.teachers:
                target = target + config.teacher_weight * _teacher_probabilities(network, x)
        else:
            x, target = network.mixer(x, y) if network.mixer is not None else (x, y)
        with _autocast(dev, network.bf16):
            logits = model(x)
            loss = network.criterion(logits.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if network.ema is not None:
            network.ema.update(model, step=step)
        loss_sum += loss.detach()
        correct_sum += (logits.argmax(1) == y).sum()
        if dev.type == "cpu" and batch % 20 == 0:
            batches.set_postfix(loss=f"{loss.item():.3f}")
    return {
        "lr": optimizer.param_groups[0]["lr"],
        "train_loss": (loss_sum / steps_per_epoch).item(),
        "train_acc": (correct_sum / (steps_per_epoch * config.batch_size)).item(),
    }


@torch.no_grad()
def _teacher_probabilities(network: _Network, x: torch.Tensor) -> torch.Tensor:
    """The teachers' probabilities for the batch, averaged: an ensemble's belief, as benchmarks/ensemble.py
    scores it."""
    with _autocast(x.device, network.bf16):
        return sum(teacher(x)[0].float().softmax(1) for teacher in network.teachers) / len(network.teachers)


def _record_epoch(
    row: dict, run: _Progress, config: TrainConfig, network: _Network, generator: torch.Generator,
    preprocess: Preprocess, out: Path, test_faces: int,
) -> None:
    """best.pt when PublicTest improved, then last.pt and the curves: a run killed here resumes from this epoch."""
    run.history.append(row)
    run.epochs_done = row["epoch"]
    if row["public_acc"] > run.best["public_acc"]:  # False for NaN: an epoch that was not scored
        run.best = {"epoch": row["epoch"], "public_acc": row["public_acc"], "private_acc": row["private_acc"],
                    "test_acc": row["test_acc"]}
        save_checkpoint(out / "best.pt", {
            "config": config.to_json(), "model": network.scored.state_dict(), "epoch": row["epoch"],
            "metrics": row, "preprocess": preprocess.to_json(),
        })
    save_checkpoint(out / "last.pt", {
        "config": config.to_json(), "model": network.model.state_dict(),
        "optimizer": network.optimizer.state_dict(),
        "ema": network.ema.state_dict() if network.ema is not None else None, "generator": generator.get_state(),
        "numpy_random": _numpy_random_state(),
        "epoch": row["epoch"], "best": run.best, "history": run.history, "preprocess": preprocess.to_json(),
    })
    write_curves(run.history, out, test_faces=test_faces)


def _refuse_divergence(row: dict, run: _Progress, config: TrainConfig, network: _Network, out: Path) -> None:
    """ValueError when an epoch left the loss or the weights not finite, before it is recorded: a diverged
    epoch written into last.pt would make --resume go on from weights that can never recover, and the
    days of training before it would be lost with them."""
    weights = (network.model, network.scored)
    if math.isfinite(row["train_loss"]) and all(
        torch.isfinite(tensor).all() for model in weights for tensor in model.state_dict().values()
        if tensor.is_floating_point()
    ):
        return
    kept = f"epoch {run.epochs_done}" if run.epochs_done else "no epoch"
    raise ValueError(
        f"training diverged in epoch {row['epoch']} (mean loss {row['train_loss']:.4g}, weights not all finite); "
        f"nothing of it was saved: {str(out / 'last.pt')!r} keeps {kept}. Go on from {str(out / 'best.pt')!r} "
        f"with --init-from and a learning rate below this run's {config.lr:g}"
    )


def _epoch_line(row: dict, epochs: int, history: list[dict]) -> str:
    """One epoch's figures and seconds, and while epochs remain, about how long they will take: the median
    of the last three epochs' seconds each (a run resumed on another machine, or sharing its cores for a
    while, soon tells its own pace)."""
    line = f"epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.3f}  train {row['train_acc']:.3f}  "
    if not math.isnan(row["test_acc"]):
        line += f"test {row['test_acc']:.4f}  public {row['public_acc']:.4f}  private {row['private_acc']:.4f}  "
    left = epochs - row["epoch"]
    if left <= 0:
        return line + f"({row['seconds']:.1f}s)"
    pace = float(np.median([r["seconds"] for r in history[-3:]] or [row["seconds"]]))
    return line + f"({row['seconds']:.1f}s; epoch {epochs} in about {_duration(left * pace)})"


def _duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _soft_targets(config: TrainConfig, data: FerData, class_names, votes, out: Path) -> np.ndarray:
    teacher_probs = None
    if config.teacher_weight > 0 and config.teacher_views == "clean":
        # The teachers see each clean face once; kept in the run folder, with their names, so --resume need not
        # ask again and a run of other teachers in a folder left without weights does not learn this one's.
        cached = out / "teacher_probs.npz"
        teacher_probs = None
        if cached.exists():
            with np.load(cached) as saved:
                if tuple(saved["teachers"]) == config.teachers:
                    teacher_probs = saved["probs"]
        if teacher_probs is None or teacher_probs.shape != (len(data), len(class_names)):
            teacher_probs = sum(teacher_probabilities(teacher, data.images, class_names)
                                for teacher in config.teachers) / len(config.teachers)
            with atomic_path(cached) as temporary:
                with open(temporary, "wb") as stream:
                    np.savez(stream, probs=teacher_probs, teachers=np.array(config.teachers))
    recipe = TargetRecipe(
        class_names, label_smoothing=config.label_smoothing, votes_weight=config.votes_weight,
        ferplus_target=config.ferplus_target if config.labels == "ferplus" else "", teacher_weight=config.teacher_weight,
    )
    return soft_targets(data, recipe, votes, teacher_probs)


def _load_initial_weights(model: EmotionNet, config: TrainConfig, path: Path, train_data: FerData) -> None:
    """Start from a checkpoint's or an emocap ONNX model's weights (a second schedule, or fine-tuning);
    ValueError quoting the path. From a model of other classes, the head keeps the rows of the classes
    both name and starts the others small. A lighter network (fewer blocks a stage) starts from
    the blocks of a larger one that it shares by name and shape, so a student begins where its teacher is."""
    from emocap.training.from_onnx import emotion_net_from_file

    net, source_config, _, source_classes = emotion_net_from_file(path, _batch_norm_faces(train_data),
                                                                  name="init_from")
    if source_config.upsample != config.upsample:
        raise ValueError(f"init_from {str(path)!r} enlarges faces {source_config.upsample}x; "
                         f"this run trains a network that enlarges them {config.upsample}x")
    weights = net.state_dict()
    target_classes = LABEL_SETS[config.labels]
    if source_classes != target_classes:
        weights = _head_for_classes(weights, source_classes, target_classes)
    check_same_network(model, weights, f"init_from {str(path)!r}", extra_allowed=True)
    model.load_state_dict({name: weights[name] for name in model.state_dict()})


def _batch_norm_faces(train_data: FerData) -> np.ndarray:
    """The 2,048 training faces (the same each run) on which a network rebuilt from an ONNX graph measures its
    batch norms."""
    return train_data.images[np.random.default_rng(0).permutation(len(train_data))[:2048]]


def _head_for_classes(weights: dict, source: tuple[str, ...], target: tuple[str, ...]) -> dict:
    weight, bias = weights["head.weight"], weights["head.bias"]
    new_weight = torch.randn(len(target), weight.shape[1]) * 0.01
    new_bias = torch.full((len(target),), float(bias.min()))
    for row, name in enumerate(target):
        if name in source:
            new_weight[row], new_bias[row] = weight[source.index(name)], bias[source.index(name)]
    return {**weights, "head.weight": new_weight, "head.bias": new_bias}


def _loss_and_mixer(config: TrainConfig, num_classes: int):
    if config.soft_targets:
        from timm.loss import SoftTargetCrossEntropy

        return None, SoftTargetCrossEntropy()
    if config.uses_mix:
        from timm.data import Mixup
        from timm.loss import SoftTargetCrossEntropy

        mixer = Mixup(
            mixup_alpha=config.mixup_alpha, cutmix_alpha=config.cutmix_alpha, prob=config.mix_prob,
            switch_prob=0.5, mode="batch", label_smoothing=config.label_smoothing, num_classes=num_classes,
        )
        return mixer, SoftTargetCrossEntropy()
    return None, nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def write_curves(history: list[dict], out: Path, *, test_faces: int) -> None:
    """curves.csv and curves.png (train/test loss and accuracy per epoch, the paper's Fig. 3)."""
    with atomic_text(out / "curves.csv", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=CURVE_COLUMNS)
        writer.writeheader()
        writer.writerows({k: row[k] for k in CURVE_COLUMNS} for row in history)
    plot_curves(history, out / "curves.png", test_faces=test_faces)


def plot_curves(history: list[dict], path: Path, *, test_faces: int) -> None:
    """Train loss and accuracy on every epoch; test, PublicTest and PrivateTest on the epochs that were scored."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [r["epoch"] for r in history]
    scored = [r for r in history if not math.isnan(r["test_acc"])]
    scored_epochs = [r["epoch"] for r in scored]
    marker = "." if len(scored) < len(history) else None
    figure = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axis, acc_axis = figure.subplots(1, 2)
    loss_axis.plot(epochs, [r["train_loss"] for r in history], label="train")
    loss_axis.plot(scored_epochs, [r["test_loss"] for r in scored], label="test", marker=marker)
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    acc_axis.plot(epochs, [r["train_acc"] for r in history], label="train (augmented batches)")
    acc_axis.plot(scored_epochs, [r["test_acc"] for r in scored], label=f"test ({test_faces:,})", marker=marker)
    acc_axis.plot(scored_epochs, [r["public_acc"] for r in scored], label="PublicTest", linestyle=":", marker=marker)
    acc_axis.plot(scored_epochs, [r["private_acc"] for r in scored], label="PrivateTest", linestyle="--",
                  marker=marker)
    acc_axis.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for axis in (loss_axis, acc_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
