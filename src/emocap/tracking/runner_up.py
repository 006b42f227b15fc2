"""Showing a second emotion when two are close ("sad / fear").

The paper names, as future work, showing several emotions at once instead of
one "trump" emotion. Both smoothers use this rule on their smoothed
probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emocap.checks import check_number
from emocap.types import NO_LABEL


@dataclass(frozen=True)
class RunnerUpRule:
    """The best class other than the displayed one is shown beside it when it is close.

    Close means: its probability is at least `ratio` times the displayed
    class's probability and at least `min_probability` (so a flat, unsure
    distribution does not name a random second class).
    """

    ratio: float = 0.7
    min_probability: float = 0.2

    def __post_init__(self) -> None:
        check_number("RunnerUpRule", "ratio", self.ratio, 0, 1, "(]")
        check_number("RunnerUpRule", "min_probability", self.min_probability, 0, 1, "[]")

    def __call__(self, probs: np.ndarray, display: np.ndarray) -> np.ndarray:
        """runner_up (n,) for smoothed `probs` (n, k) and `display` (n,); NO_LABEL where none."""
        runner_up = np.full(len(display), NO_LABEL, np.int64)
        if not len(display):
            return runner_up
        rows = np.arange(len(display))
        shown = display != NO_LABEL
        displayed_prob = np.where(shown, probs[rows, np.maximum(display, 0)], np.inf)
        others = np.where(np.arange(probs.shape[1])[None, :] == display[:, None], -np.inf, probs)
        second = others.argmax(axis=1)
        second_prob = others[rows, second]
        close = shown & (second_prob >= self.ratio * displayed_prob) & (second_prob >= self.min_probability)
        runner_up[close] = second[close]
        return runner_up
