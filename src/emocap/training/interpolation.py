"""Weight-space interpolation of a model and its fine-tuned copy (WiSE-FT, Wortsman et al., CVPR 2022):
the step of the built-in model's recipe between `emocap train --preset robust` and `emocap export`.

Fine-tuning the built-in model on corrupted faces (the `robust` preset) buys robustness and costs some
clean accuracy. The weights on the straight line between the two networks often keep the best of both:
for each alpha,

    weights = (1 - alpha) * base + alpha * tuned

with the batch norms' statistics measured again on clean training faces. Each alpha is scored with
mirror averaging (as the shipped graph does) on clean PublicTest and on FER2013-C built from a
PublicTest sample; the one chosen is the most robust (highest mCA) among those no worse than the base
(alpha 0) on clean PublicTest in accuracy, macro-F1 and the recall of fear and disgust, the rarest and
hardest classes (failing that, in accuracy alone); with `mca_tolerance`, alphas within that much of the
best mCA tie and the more accurate on clean PublicTest wins. PrivateTest is scored for the record, never
used to choose. With `adjust_logits` each alpha first gets the offsets on the fear and disgust logits,
chosen on PublicTest, that give those classes back their recall (post-hoc logit adjustment).
The chosen weights are written as a checkpoint (wise.pt) that `emocap export` takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from emocap.atomic import atomic_json
from emocap.datasets import FerData, load_fer2013
from emocap.evaluation.corruptions import corruption_accuracy
from emocap.evaluation.metrics import confusion_matrix, confusion_scores, macro_f1, per_class_scores
from emocap.labels import FER2013_LABELS
from emocap.training.defaults import DEFAULT_ALPHAS, DEFAULT_BATCH_NORM_FACES, DEFAULT_CORRUPTION_FACES
from emocap.training.from_onnx import emotion_net_from_file
from emocap.training.model import LogitsAndEmbedding, check_same_network, read_checkpoint, scored_weights
from emocap.training.trainer import save_checkpoint

KEPT_RECALL = ("fear", "disgust")
"""Classes whose recall the chosen weights must keep (on PublicTest): the rarest and the hardest to read."""
CHECKPOINT_NAME, TABLE_NAME = "wise.pt", "interpolation.json"


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


def predictor(net, preprocess) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 faces (N, 48, 48) -> probabilities (N, k), each face averaged with its mirror image."""
    wrapper = LogitsAndEmbedding(net, mirror=True).eval()

    @torch.no_grad()
    def predict(faces: np.ndarray) -> np.ndarray:
        logits = [wrapper(torch.from_numpy(preprocess(faces[s : s + 512])))[0] for s in range(0, len(faces), 512)]
        return torch.softmax(torch.cat(logits), dim=1).numpy()

    return predict


def clean_scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    recall = per_class_scores(labels, probs).recall
    return {"accuracy": float((probs.argmax(1) == labels).mean()), "macro_f1": macro_f1(labels, probs),
            **{f"recall_{name}": float(recall[FER2013_LABELS.index(name)]) for name in KEPT_RECALL}}


def describe_scores(scores: dict) -> str:
    return (f"PublicTest {scores['accuracy']:.2%}, macro-F1 {scores['macro_f1']:.2%}, "
            + ", ".join(f"{name} {scores[f'recall_{name}']:.1%}" for name in KEPT_RECALL))


def log_probabilities(probs: np.ndarray) -> np.ndarray:
    """Logits up to a constant a row, which is all an argmax or a softmax sees."""
    return np.log(np.clip(probs, 1e-12, None))


def fit_logit_offsets(probs: np.ndarray, labels: np.ndarray, floor: dict, step: float = 0.05,
                      largest: float = 2.0) -> np.ndarray:
    """Offsets added to the logits of the KEPT_RECALL classes (post-hoc logit adjustment, Menon et al.,
    ICLR 2021): the pair, on a grid that starts at zero, that gives back those classes' recall on these
    faces with the highest accuracy, then macro-F1; zeros when no pair on the grid does."""
    log_probs = log_probabilities(probs)
    kept = [FER2013_LABELS.index(name) for name in KEPT_RECALL]
    grid = np.arange(0.0, largest + step / 2, step)
    best, best_key = np.zeros(probs.shape[1], np.float32), None
    for first in grid:
        for second in grid:
            offsets = np.zeros(probs.shape[1], np.float32)
            offsets[kept] = (first, second)
            scores = confusion_scores(confusion_matrix(labels, log_probs + offsets))  # it reads the argmax only
            if any(scores.recall[k] < floor[f"recall_{name}"] for k, name in zip(kept, KEPT_RECALL)):
                continue
            key = (scores.accuracy, scores.macro_f1)
            if best_key is None or key > best_key:
                best, best_key = offsets, key
    return best


def copy_of_weights(net) -> dict:
    """The network's weights, detached from it: state_dict() shares the network's own tensors, which
    loading each alpha (and adjust_logits) overwrites, so every alpha after the first would mix from
    the one before."""
    return {name: value.clone() for name, value in net.state_dict().items()}


def mix_weights(base: dict, tuned: dict, alpha: float) -> dict:
    """(1 - alpha) * base + alpha * tuned for every float tensor; counters (num_batches_tracked) from tuned."""
    return {name: (1 - alpha) * base[name].float() + alpha * tuned[name].float()
            if base[name].is_floating_point() else tuned[name]
            for name in base}


def no_worse(row: dict, base: dict) -> bool:
    return all(row["public_scores"][key] >= value for key, value in base.items())


def choose(rows: list[dict], floor: dict, mca_tolerance: float = 0.0) -> tuple[dict, str]:
    """The row with the highest PublicTest-C mCA among those no worse than the base on every clean score
    (failing that, in accuracy alone); rows within `mca_tolerance` of that mCA count as ties, won by clean
    PublicTest accuracy. Returns the row and the rule, in words."""
    eligible = [row for row in rows if no_worse(row, floor)]
    rule = "no worse than the base on clean PublicTest in accuracy, macro-F1 and " + " and ".join(KEPT_RECALL)
    if not eligible:
        eligible = [row for row in rows if row["public"] >= floor["accuracy"]]
        rule = "no alpha kept every clean score; PublicTest accuracy at least the base's"
    if not eligible:
        eligible = rows
        rule = "no alpha kept even the base's PublicTest accuracy, so none is eligible; the most robust shown"
    best = max(row["public_c_mca"] for row in eligible)
    near = [row for row in eligible if row["public_c_mca"] >= best - mca_tolerance]
    if mca_tolerance > 0:
        rule += f"; mCA within {mca_tolerance:.2%} of the best counted as a tie, won by PublicTest accuracy"
    return max(near, key=lambda row: (row["public"], row["public_c_mca"])), rule


class WeightLine:
    """The base network, moved to any point of the line between its own weights and the tuned ones."""

    def __init__(self, base_net, tuned_weights: dict, preprocess, calibration: np.ndarray) -> None:
        self.net, self.preprocess, self.calibration = base_net, preprocess, calibration
        self.base_weights, self.tuned_weights = copy_of_weights(base_net), tuned_weights

    def at(self, alpha: float) -> Callable[[np.ndarray], np.ndarray]:
        """The network at `alpha`, its batch norms measured again; returns its predictor."""
        self.net.load_state_dict(mix_weights(self.base_weights, self.tuned_weights, alpha))
        recalibrate_batch_norms(self.net, self.calibration, self.preprocess)
        return predictor(self.net, self.preprocess)

    @torch.no_grad()
    def add_to_logits(self, offsets: np.ndarray) -> None:
        self.net.head.bias += torch.from_numpy(offsets)


def score_alpha(line: WeightLine, alpha: float, public: FerData, private: FerData, sample: np.ndarray,
                floor: dict, adjust_logits: bool) -> dict:
    """One alpha's row: clean PublicTest scores, PublicTest-C mCA on `sample`, PrivateTest for the record,
    and the weights (with their logit offsets, when adjusted)."""
    predict = line.at(alpha)
    public_probs = predict(public.images)
    offsets = np.zeros(len(FER2013_LABELS), np.float32)
    if adjust_logits:
        offsets = fit_logit_offsets(public_probs, public.labels, floor)
        line.add_to_logits(offsets)
        # The head is linear on the (mirror-averaged) embedding, so the offsets shift the logits exactly:
        # the adjusted probabilities follow without a second pass over PublicTest.
        public_probs = torch.softmax(torch.from_numpy(log_probabilities(public_probs) + offsets), dim=1).numpy()
    robust = corruption_accuracy(predict, public.images[sample], public.labels[sample])
    scores = clean_scores(public_probs, public.labels)
    return {
        "alpha": alpha,
        "public": scores["accuracy"],
        "public_scores": scores,
        "logit_offsets": {name: float(offsets[FER2013_LABELS.index(name)]) for name in KEPT_RECALL},
        "public_c_mca": robust["mca"],
        "private": float((predict(private.images).argmax(1) == private.labels).mean()),
        "weights": copy_of_weights(line.net),
    }


def describe_row(row: dict, sample_size: int) -> str:
    adjusted = ", ".join(f"{name} +{value:.2f}" for name, value in row["logit_offsets"].items() if value)
    return (f"alpha {row['alpha']:4.2f}  {'logits ' + adjusted + '  ' if adjusted else ''}"
            f"{describe_scores(row['public_scores'])}  PublicTest-C mCA ({sample_size} faces) "
            f"{row['public_c_mca']:.2%}  PrivateTest {row['private']:.2%}")


def base_network(base: str | Path, calibration: np.ndarray) -> tuple:
    """(network, its input) of the base: a checkpoint's float weights, or an emocap ONNX model's network rebuilt
    from its graph, batch norms measured on `calibration` (int8 weights rounded: the float ones are better)."""
    net, _, preprocess, _ = emotion_net_from_file(base, calibration)
    return net, preprocess


def interpolate(
    base: str | Path, tuned: str | Path, data: str | Path, out: str | Path, *,
    alphas: tuple[float, ...] = DEFAULT_ALPHAS, corruption_faces: int = DEFAULT_CORRUPTION_FACES,
    batch_norm_faces: int = DEFAULT_BATCH_NORM_FACES, adjust_logits: bool = False, mca_tolerance: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Score every alpha between the `base` model (a checkpoint or ONNX) and the `tuned` checkpoint, write the chosen
    weights to out/wise.pt and the table to out/interpolation.json; returns that table. `progress` is
    given a line for the base and one for each alpha as it is scored."""
    say = progress or (lambda line: None)
    state = read_checkpoint(tuned, name="--tuned")  # before the data's seconds of loading
    train, public, private = (load_fer2013(data, split) for split in ("train", "PublicTest", "PrivateTest"))
    rng = np.random.default_rng(0)  # the calibration faces first, then the sample: the order fixes both
    calibration = train.images[rng.permutation(len(train))[:batch_norm_faces]]
    sample = np.sort(rng.permutation(len(public))[:corruption_faces])
    base_net, preprocess = base_network(base, calibration)
    tuned_weights = scored_weights(state)
    check_same_network(base_net, tuned_weights, f"--tuned {str(tuned)!r}", than=f"--base {str(base)!r}")
    line = WeightLine(base_net, tuned_weights, preprocess, calibration)

    floor = clean_scores(line.at(0.0)(public.images), public.labels)
    say(f"base (alpha 0): {describe_scores(floor)}")
    rows = []
    for alpha in alphas:
        rows.append(score_alpha(line, alpha, public, private, sample, floor, adjust_logits))
        say(describe_row(rows[-1], len(sample)))

    chosen, rule = choose(rows, floor, mca_tolerance)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / CHECKPOINT_NAME, {**state, "model": chosen["weights"], "interpolation": {
        "base": str(base), "tuned": str(tuned), "alpha": chosen["alpha"]}})
    table = {"base_public_scores": floor, "rows": [{k: v for k, v in row.items() if k != "weights"} for row in rows],
             "chosen_alpha": chosen["alpha"], "rule": rule}
    atomic_json(out / TABLE_NAME, table)
    return table
