"""Two emotion models side by side on the figures issue 27's shipping rule and issue 44's goals read.

Each folder holds what `scripts/score_model.sh MODEL.onnx DIR` writes: evaluate.json (clean test and
PrivateTest, FER2013-C, the FER+ votes) and wild.json (the wild yardstick on PrivateTest, FER2013's
labels). The rule: the candidate ships only if it reads more clean PrivateTest faces right than the
built-in model; the other rows are reported with the amount of any shortfall and keep nothing in place.

    python benchmarks/ship_compare.py out/ship/builtin out/ship/candidate [--markdown]
    python benchmarks/ship_compare.py docs/figures/shipped-2026-12-07 out/ship/fast --at-least 2488

--at-least N: a rule with a bar of its own (issue 27's cheap model ships beside the built-in model, not
in its place, if it reads at least 2,488 PrivateTest faces right) instead of "more than the built-in".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    name: str
    value: Callable[[dict, dict], float]  # (evaluate, wild) -> a share in 0..1
    goal: str = ""


def _recall(split: str, label: str):
    return lambda ev, _: ev["splits"][split]["per_class"][label]["recall"]


def _coverage_at_own_threshold(ev: dict, wild: dict) -> float:
    """The share of clean PrivateTest faces a caption names (not "unsure") at the model's own threshold."""
    return wild["unsure"]["clean"]["shown"]


ROWS = (
    Row("PrivateTest accuracy (the rule)", lambda ev, _: ev["splits"]["PrivateTest"]["accuracy"],
        "> built-in; issue 27: 72.5%"),
    Row("PrivateTest macro-F1", lambda ev, _: ev["splits"]["PrivateTest"]["macro_f1"], "not lower"),
    Row("test accuracy (the paper's figure)", lambda ev, _: ev["splits"]["test"]["accuracy"], "71.3% (paper 71.28%)"),
    Row("recall on test: fear", _recall("test", "fear"), "not lower"),
    Row("recall on test: disgust", _recall("test", "disgust"), "not lower"),
    Row("FER2013-C mCA (PrivateTest)", lambda ev, _: ev["fer2013_c"]["mca"], "not lower"),
    Row("FER+ majority (PrivateTest)", lambda ev, _: ev["splits"]["PrivateTest"]["ferplus"]["majority_accuracy"],
        "not lower"),
    Row("a person would agree (PrivateTest)", lambda ev, _: ev["splits"]["PrivateTest"]["ferplus"]["human_agreement"],
        "not lower"),
    Row("wild accuracy (PrivateTest)", lambda _, wild: wild["wild_accuracy"], "built-in + 8 points"),
    Row("faces named at 85% (clean PrivateTest)", _coverage_at_own_threshold, "70%"),
    Row("faces named, wild (PrivateTest)", lambda _, wild: wild["unsure"]["all"]["shown"], "55%"),
    Row("named and right, wild", lambda _, wild: wild["unsure"]["all"]["right_when_shown"], ""),
)


def load(folder: Path) -> tuple[dict, dict]:
    """(evaluate.json, wild.json's yardstick report with the model's path)."""
    try:
        evaluate, wild = (json.loads((folder / name).read_text()) for name in ("evaluate.json", "wild.json"))
        return evaluate, {**wild["wild"], "model": wild["model"]}
    except (OSError, ValueError, KeyError) as error:
        sys.exit(f"ship_compare: error: {folder} has no readable evaluate.json and wild.json "
                 f"(scripts/score_model.sh writes them): {error}")


def private_right(ev: dict) -> int:
    split = ev["splits"]["PrivateTest"]
    return round(split["accuracy"] * split["faces"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builtin", type=Path, help="scripts/score_model.sh's folder for the built-in model")
    parser.add_argument("candidate", type=Path, help="the same for the candidate")
    parser.add_argument("--at-least", type=int, default=None, metavar="N",
                        help="the candidate ships if it reads at least N clean PrivateTest faces right "
                        "(default: more than the built-in model)")
    args = parser.parse_args(argv)
    builtin, candidate = load(args.builtin), load(args.candidate)
    print("| | built-in | candidate | change | goal |\n|---|---|---|---|---|")
    for row in ROWS:
        before, after = row.value(*builtin), row.value(*candidate)
        print(f"| {row.name} | {before:.2%} | {after:.2%} | {100 * (after - before):+.2f} | {row.goal} |")
    for name, (ev, wild) in (("built-in", builtin), ("candidate", candidate)):
        print(f"{name}: {ev['model']} on {ev['cpu']}; wild {wild['model']}")
    right_before, right_after = private_right(builtin[0]), private_right(candidate[0])
    ships = right_after > right_before if args.at_least is None else right_after >= args.at_least
    bar = "more than the built-in's" if args.at_least is None else f"at least {args.at_least:,}"
    print(f"clean PrivateTest faces right: built-in {right_before:,}, candidate {right_after:,}; the rule asks "
          f"{bar}: {'SHIPS' if ships else 'does not ship'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
