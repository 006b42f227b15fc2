"""Training configurations: one dataclass and its versioned saved form, and the named presets, each its
settings beside its one-line description."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from emocap.checks import is_whole, read_json
from emocap.corruption_families import TRAINING_FAMILY_NAMES

# Residual blocks in each of the four stages.
ARCHITECTURES: dict[str, tuple[int, int, int, int]] = {"resnet18": (2, 2, 2, 2), "resnet10": (1, 1, 1, 1)}

# The webcam corruptions training can apply (emocap.training.augment.WebcamCorruptions), one at most a face:
# the families of emocap.corruption_families that training draws, under the name the CLI and configs use.
CORRUPTION_FAMILIES = TRAINING_FAMILY_NAMES

# The arithmetic of training steps (emocap.training.trainer.uses_bf16): a machine's choice, not the recipe's,
# so it is no field of TrainConfig and a run resumes on a machine of another kind.
PRECISIONS = ("auto", "fp32", "bf16")

MAX_LR = 10.0
"""The highest learning rate a config takes: the presets use 0.001 to 0.05, and an Adam step moves each
weight by up to about lr, so a rate past 10 is a slip of the keyboard, not a recipe. Refused before any
work: 1e308 made Adam's loss NaN from the second step, and SGD (past float32) stopped in an overflow
traceback after the run folder and its config.json were written."""


# --- the saved form ------------------------------------------------------------------------------

CONFIG_VERSION = 5
"""The version of the form `TrainConfig.to_json` saves (a run's config.json, a checkpoint's "config", a
model's emocap.train_config), written in it under VERSION_KEY. Forms without one are version 1: configs were
saved so before the version existed, and today's runs, checkpoints and built-in models hold them. A change
that renames or removes a setting raises the version and says how in MIGRATIONS, so that older saves keep
loading for --resume and --init-from; a setting added with a default needs no entry there (a save without it
takes the default), but raises the version too, so that an older emocap refuses the newer form by its version
instead of by the unknown setting."""

VERSION_KEY = "config_version"

TEACHER_VIEWS = ("clean", "same", "mirrored")
"""What a teacher scores (`TrainConfig.teacher_views`, --teacher-views)."""


@dataclass(frozen=True)
class Migration:
    """How a saved config of one version becomes one of the next: (old name, new name) pairs, the settings
    dropped, whose saved values no longer mean anything, and (renamed setting, old value -> new value) pairs
    for a setting whose form changed."""

    renamed: tuple[tuple[str, str], ...] = ()
    removed: tuple[str, ...] = ()
    converted: tuple[tuple[str, Callable], ...] = ()

    def __call__(self, values: dict) -> dict:
        kept = {name: value for name, value in values.items() if name not in self.removed}
        for old, new in self.renamed:
            if old in kept:
                kept[new] = kept.pop(old)
        for name, convert in self.converted:
            if name in kept:
                kept[name] = convert(kept[name])
        return kept


def _one_teacher_to_many(teacher: str) -> list[str]:
    return [teacher] if teacher else []


MIGRATIONS: dict[int, Migration] = {
    1: Migration(),  # to 2: the version is written, and lift_light added (False where a save lacks it)
    2: Migration(),  # to 3: teacher_views added ("clean" where a save lacks it)
    3: Migration(),  # to 4: teacher_views may be "mirrored"
    # to 5: one teacher or several, whose probabilities are averaged ("teacher": "a.pt" -> "teachers": ["a.pt"])
    4: Migration(renamed=(("teacher", "teachers"),), converted=(("teachers", _one_teacher_to_many),)),
}
"""For each version below CONFIG_VERSION, the step from it to the next."""


class NewerConfigError(ValueError):
    """A config saved by a newer emocap than this one, which cannot know what its settings mean."""


def upgraded(values: dict) -> dict:
    """Saved settings of any version up to CONFIG_VERSION, under the names this version gives them, without
    the version; ValueError for a version that is not a whole number >= 1, NewerConfigError for a newer one."""
    values = dict(values)
    version = values.pop(VERSION_KEY, 1)
    if not is_whole(version) or version < 1:
        raise ValueError(f"a training configuration's {VERSION_KEY} is a whole number >= 1, got {version!r}")
    if version > CONFIG_VERSION:
        raise NewerConfigError(f"its training configuration is version {version}, newer than this emocap reads "
                               f"({CONFIG_VERSION}): update emocap to use it")
    for step in range(version, CONFIG_VERSION):
        values = MIGRATIONS[step](values)
    return values


def corruption_draws(weights: dict[str, int]) -> list[int]:
    """Indices into CORRUPTION_FAMILIES, each family as many times as its weight (1 when not named): one
    uniform draw from the list picks a family. With no weights it is range(10)."""
    return [index for index, name in enumerate(CORRUPTION_FAMILIES) for _ in range(weights.get(name, 1))]


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "paper"
    # model
    arch: str = "resnet18"  # resnet18 | resnet10 (one residual block a stage: half the work)
    stem: str = "imagenet"  # "imagenet": 7x7/2 conv + max-pool; "fer": 3x3/1 conv + max-pool, for 48x48 faces
    upsample: int = 2  # faces are enlarged inside the model (48 -> 96), so runtime input stays 48x48
    dropout: float = 0.0
    # optimisation
    epochs: int = 100
    batch_size: int = 128
    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "step"  # step | cosine
    step_size: int = 30
    gamma: float = 0.1
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    ema_decay: float = 0.0  # 0 disables the weight EMA
    # augmentation (done in batches on the training device)
    crop_scale: tuple[float, float] = (0.8, 1.0)
    hflip: bool = True
    rotate_degrees: float = 10.0
    translate: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2
    random_erasing: float = 0.0
    mixup_alpha: float = 0.2
    cutmix_alpha: float = 1.0
    mix_prob: float = 0.5
    corruption_prob: float = 0.0  # share of faces given one webcam corruption (WebcamCorruptions)
    # (family, n): that corruption family is drawn n times as often as one not named (0: never)
    corruption_weights: tuple[tuple[str, int], ...] = ()
    # share of faces shown as video shows them (issue 44's wild conditions, drawn wider than its yardstick)
    wild_prob: float = 0.0
    # faces darker or flatter than the average training face lifted to it before the network (Preprocess.lift_to),
    # as the exported model then does at run time (--lift-light)
    lift_light: bool = False
    # labels and targets
    labels: str = "fer2013"  # fer2013: FER2013's seven classes and labels; ferplus: eight classes, FER+'s votes
    votes: str = ""  # FER+ votes (labels.csv or fer2013new.csv): needed by labels=ferplus and votes_weight > 0
    ferplus_target: str = "probability"  # with labels=ferplus: probability (the vote distribution) | majority
    votes_weight: float = 0.0  # with labels=fer2013: share of the target taken from the votes
    # emocap models of the same classes (ONNX models or checkpoints, see teacher_views): their probabilities,
    # averaged, join the target; several make an ensemble teacher
    teachers: tuple[str, ...] = ()
    teacher_weight: float = 0.0
    # clean: the teacher (an ONNX model) scores each clean face once; same: the teacher (a checkpoint's float
    # weights, or an ONNX model run by ONNX Runtime) scores every augmented batch the student sees, so the lesson
    # fits the face as it was shown; mirrored: as same, each face averaged with its mirror image, as the shipped
    # models read faces (a stronger teacher than its one view, for a student of the same network)
    teacher_views: str = "clean"
    # bookkeeping
    seed: int = 0
    eval_every: int = 1  # score the test set every N epochs (and on the last, and where a run stops)
    init_from: str = ""  # a checkpoint (best.pt or last.pt) or emocap ONNX model of the same network; "": random

    def __post_init__(self) -> None:
        checks = {
            "arch": self.arch in ARCHITECTURES,
            "stem": self.stem in ("imagenet", "fer"),
            "upsample": self.upsample in (1, 2, 3, 4),
            "epochs": self.epochs >= 1,
            "eval_every": self.eval_every >= 1,
            "batch_size": self.batch_size >= 2 and self.batch_size % 2 == 0,
            "optimizer": self.optimizer in ("adam", "adamw", "sgd"),
            "lr": 0 < self.lr <= MAX_LR,
            "scheduler": self.scheduler in ("step", "cosine"),
            "crop_scale": 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1,
            "mix_prob": 0 <= self.mix_prob <= 1,
            "label_smoothing": 0 <= self.label_smoothing < 1,
            "ema_decay": 0 <= self.ema_decay < 1,
            "corruption_prob": 0 <= self.corruption_prob <= 1,
            "wild_prob": 0 <= self.wild_prob <= 1,
            "lift_light": isinstance(self.lift_light, bool),
            "corruption_weights": all(
                name in CORRUPTION_FAMILIES and isinstance(n, int) and n >= 0 for name, n in self.corruption_weights
            ) and len(corruption_draws(dict(self.corruption_weights))) > 0,
            "labels": self.labels in ("fer2013", "ferplus"),
            "ferplus_target": self.ferplus_target in ("probability", "majority"),
            "votes_weight": 0 <= self.votes_weight <= 1 and (self.labels == "fer2013" or self.votes_weight == 0),
            "teacher_weight": 0 <= self.teacher_weight <= 1 - self.votes_weight,
            "teacher_views": self.teacher_views in TEACHER_VIEWS,
            "teachers": isinstance(self.teachers, tuple) and all(isinstance(t, str) and t for t in self.teachers)
                        and len(set(self.teachers)) == len(self.teachers),
        }
        limits = {
            "corruption_prob": "a share of faces, from 0 to 1 (--corruption-share)",
            "wild_prob": "a share of faces, from 0 to 1 (--wild-share)",
            "corruption_weights": f"(family, whole number >= 0) pairs, not all 0, families from "
                                  f"{', '.join(CORRUPTION_FAMILIES)} (--corruption-weight)",
            "votes_weight": "a share of the target, from 0 to 1, with labels 'fer2013' (--votes-weight)",
            "lr": f"a number > 0 and <= {MAX_LR:g} (--lr)",
            "teacher_weight": f"a share of the target, at most {1 - self.votes_weight:g} beside the votes' "
                              f"{self.votes_weight:g} (--teacher-weight)",
            "teacher_views": f"one of {', '.join(TEACHER_VIEWS)} (--teacher-views)",
            "teachers": "model files, each named once (--teacher, repeated for an ensemble)",
        }
        for name, ok in checks.items():
            if not ok:
                limit = f"; expected {limits[name]}" if name in limits else ""
                raise ValueError(f"TrainConfig.{name} has an invalid value: {getattr(self, name)!r}{limit}")
        if self.soft_targets and self.uses_mix:
            raise ValueError(f"Mixup/CutMix (mix_prob {self.mix_prob:g}) works on FER2013's hard labels only; "
                             "set it to 0 (--mix-prob 0) to train on votes or a teacher")

    def check_sources(self) -> None:
        """The files a run needs besides the data are named (presets name none: the command line does)."""
        if (self.labels == "ferplus" or self.votes_weight > 0) and not self.votes:
            raise ValueError(f"preset {self.preset!r} trains on FER+ votes: name the votes file (--votes)")
        if self.teacher_weight > 0 and not self.teachers:
            raise ValueError(f"preset {self.preset!r} learns from a teacher model: name it (--teacher)")
        checkpoints = [teacher for teacher in self.teachers if not teacher.lower().endswith(".onnx")]
        if self.teacher_weight > 0 and self.teacher_views == "clean" and checkpoints:
            raise ValueError(f"teacher {checkpoints[0]!r} is a checkpoint; a teacher of clean faces (--teacher-views "
                             "clean) is an exported model (emocap export), or let it score every augmented batch "
                             "(--teacher-views same or mirrored)")

    @property
    def soft_targets(self) -> bool:
        return self.labels == "ferplus" or self.votes_weight > 0 or self.teacher_weight > 0

    @property
    def uses_mix(self) -> bool:
        return self.mix_prob > 0 and (self.mixup_alpha > 0 or self.cutmix_alpha > 0)

    def to_json(self) -> str:
        """The one saved form of a config, its version first (`from_json` reads it back)."""
        return json.dumps({VERSION_KEY: CONFIG_VERSION, **dict(sorted(asdict(self).items()))}, indent=2)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """The config of saved settings of this version or an older one (see `upgraded`)."""
        values = upgraded(values)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {unknown}")
        if "crop_scale" in values:
            values["crop_scale"] = tuple(values["crop_scale"])
        if "corruption_weights" in values:
            values["corruption_weights"] = tuple(tuple(pair) for pair in values["corruption_weights"])
        if isinstance(values.get("teachers"), list):
            values["teachers"] = tuple(values["teachers"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        """The config `to_json` wrote (config.json, a checkpoint's, a model's metadata), of this version or an
        older one; ValueError for text that is not one: not JSON, not an object, unknown settings, or values of
        the wrong type; NewerConfigError for one a newer emocap saved."""
        values = read_json(text)
        if not isinstance(values, dict):
            raise ValueError(f"a training configuration is a JSON object, got {str(text)[:100]!r}")
        try:
            return cls.from_dict(values)
        except TypeError as error:  # a setting of the wrong type: "epochs": "ten" fails its own check
            raise ValueError(f"not a training configuration: {error}") from None

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        return cls.from_json(Path(path).read_text())


@dataclass(frozen=True)
class Preset:
    """A named training recipe: its settings and the one line that says what it is. That line is the
    preset's only description: `emocap train --help` prints it, and tests/test_presets.py holds the
    README's preset table to it."""

    config: TrainConfig
    summary: str

    @property
    def name(self) -> str:
        return self.config.preset


PAPER = TrainConfig()

# The later presets' departures from the paper: the 3x3 stem keeps the 48x48 detail, and SGD with weight
# decay, cosine decay and label smoothing generalise better than Adam on FER2013.
FER_STEM_SGD = dict(stem="fer", upsample=1, optimizer="sgd", weight_decay=5e-4, scheduler="cosine", label_smoothing=0.1)

# The teacher's belief about the clean face keeps what the shipped model knew while it learns the corrupted ones.
ROBUST = replace(
    PAPER, **FER_STEM_SGD, preset="robust", epochs=8, lr=0.01, ema_decay=0.998, rotate_degrees=20.0, mix_prob=0.0,
    corruption_prob=0.5, votes_weight=0.2, teacher_weight=0.4,
)

_PRESETS = (
    Preset(PAPER, "the paper's recipe: ResNet18, Adam 1e-3, wd 1e-4, StepLR(30, 0.1), 100 epochs, cross-entropy, "
                  "crops, flips, rotations, colour jitter, Mixup + CutMix"),
    Preset(replace(PAPER, preset="paper-no-mix", mix_prob=0.0), "the paper's ablation without Mixup/CutMix"),
    Preset(replace(PAPER, preset="paper-no-rotate-jitter", rotate_degrees=0.0, brightness=0.0, contrast=0.0),
           "the paper's ablation without rotations and colour jitter"),
    Preset(replace(PAPER, **FER_STEM_SGD, preset="fer-best", epochs=120, batch_size=128, lr=0.05, warmup_epochs=3,
                   ema_decay=0.999, rotate_degrees=15.0, translate=0.12, random_erasing=0.25, dropout=0.2),
           "our recipe: 3x3 stem at 48x48, SGD + cosine, label smoothing, random erasing, dropout, weight EMA, "
           "120 epochs"),
    # The 3x3 stem at 48x48 costs less than the paper's 7x7/2 stem at 96x96 and keeps the same 24x24 grid after
    # the max-pool; cosine decay and a weight EMA make the most of few epochs, and lighter Mixup/CutMix lets
    # them converge in time (about 6 minutes an epoch on a 2-core CPU).
    Preset(replace(PAPER, preset="cpu", stem="fer", upsample=1, epochs=20, scheduler="cosine", warmup_epochs=1,
                   label_smoothing=0.1, ema_decay=0.998, mix_prob=0.3),
           "the paper's network on a CPU budget: 3x3 stem at 48x48, cosine, label smoothing, weight EMA, "
           "lighter Mixup/CutMix, 20 epochs"),
    Preset(ROBUST, "fine-tunes a model (--init-from builtin) on faces of which half carry a webcam corruption (dim "
                   "light, blur, small, JPEG, noise, a hand over the mouth), on its labels, the FER+ votes (--votes) "
                   "and a teacher's belief about the clean face (--teacher builtin); 8 epochs"),
    Preset(replace(ROBUST, preset="ferplus", lr=0.02, label_smoothing=0.0, votes_weight=0.0, teacher_weight=0.0,
                   labels="ferplus"),
           "eight classes (the seven and contempt) on FER+'s vote distributions (--votes), with the same "
           "corruptions; start it --init-from builtin"),
    # ResNet10 is the first block of each of ResNet18's stages, so it starts from its teacher's weights. The
    # teacher scores the very faces the student is shown, corrupted and cropped as they are ("consistent"
    # distillation), over a schedule three times the robust fine-tune's ("patient").
    Preset(replace(ROBUST, preset="student", arch="resnet10", epochs=26, lr=0.03, warmup_epochs=1,
                   corruption_prob=0.2, votes_weight=0.0, teacher_weight=0.7, teacher_views="same"),
           "ResNet10 (under half the work a face) taught by a model's float weights (--teacher best.pt), which "
           "score every augmented face the student sees, starting from its blocks (--init-from the same); "
           "26 epochs"),
    Preset(replace(PAPER, preset="cpu-quick", epochs=5, step_size=3, batch_size=64),
           "the paper's recipe for 5 epochs, for trying the tool on a CPU"),
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}


def resolve_preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    config = PRESETS[name].config
    return replace(config, **overrides) if overrides else config
