"""How long each face showed each emotion: a text table and a timeline plot.

Built from the transcript's segments, so the shares agree with the
subtitles: a face's share of an emotion is the time its caption showed that
emotion (the runner-up is not counted) over all the time it had a caption,
"unsure" included: its shares of the emotions and of "unsure" sum to one.
The words are the captions' own (`emotion_words`, in the segments' wording:
"looks happy"), and "unsure" is hatched, not coloured: it names no emotion.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emocap.atomic import atomic_path
from emocap.errors import OutputError
from emocap.labels import (
    DEFAULT_WORDING, UNSURE_GROUND_HEX, UNSURE_HATCH, UNSURE_INK_HEX, UNSURE_WORD, VALENCES, VALENCE_OF, class_colours,
)
from emocap.outputs.captions import emotion_words, face_numbers
from emocap.outputs.files import readable_text
from emocap.outputs.segments import Segment
from emocap.types import UNSURE


class EmotionSummary:
    """Seconds each face showed each class, gathered segment by segment.

    `keep_timeline` keeps each segment's face, times and class (a few numbers
    each) for `save_timeline`; without it memory does not grow with the video.
    Its words are in the wording of the segments it is given.
    """

    def __init__(self, *, keep_timeline: bool = False) -> None:
        self.keep_timeline = bool(keep_timeline)
        self.labels: tuple[str, ...] = ()
        self.wording = DEFAULT_WORDING
        self._track_ids: list[int] = []
        self._seconds = np.zeros((0, 0), np.float64)
        self._timeline: list[tuple[int, float, float, int]] = []

    def add(self, segment: Segment) -> None:
        if not self.labels:
            self.labels, self.wording = tuple(segment.labels), segment.wording
            self._seconds = np.zeros((0, len(self.labels) + 1), np.float64)  # the last column: unsure
        elif tuple(segment.labels) != self.labels:
            raise ValueError(f"segment has labels {segment.labels!r}, earlier segments {self.labels!r}")
        elif segment.wording != self.wording:
            raise ValueError(f"segment has wording {segment.wording!r}, earlier segments {self.wording!r}")
        if segment.track_id not in self._track_ids:
            self._track_ids.append(segment.track_id)
            self._seconds = np.vstack([self._seconds, np.zeros((1, len(self.labels) + 1))])
        column = len(self.labels) if segment.display == UNSURE else segment.display
        self._seconds[self._track_ids.index(segment.track_id), column] += segment.duration_s
        if self.keep_timeline:
            self._timeline.append((segment.track_id, segment.start_s, segment.end_s, column))

    @property
    def track_ids(self) -> np.ndarray:
        """int64 (m,), in order of first caption."""
        return np.array(self._track_ids, np.int64)

    @property
    def seconds(self) -> np.ndarray:
        """float64 (m, k): seconds face i showed class j."""
        return self._seconds[:, : len(self.labels)].copy()

    @property
    def captioned_seconds(self) -> np.ndarray:
        """float64 (m,): seconds face i had a caption, "unsure" included."""
        return self._seconds.sum(axis=1)

    @property
    def unsure_seconds(self) -> np.ndarray:
        """float64 (m,): seconds face i's caption said "unsure"."""
        return self._seconds[:, len(self.labels)].copy() if self.labels else np.zeros(0)

    def caption_shares(self, *, with_unsure: bool = True) -> np.ndarray:
        """(m, k + 1) fractions of each face's captioned time per class, then "unsure"; each row sums
        to 1. Without `with_unsure`, (m, k): the classes' columns alone."""
        totals = self._seconds.sum(axis=1, keepdims=True)
        shares = np.divide(self._seconds, totals, out=np.zeros_like(self._seconds), where=totals > 0)
        return shares if with_unsure else shares[:, : len(self.labels)]

    def emotion_shares(self) -> np.ndarray:
        """(m, k) fractions of each face's captioned time; each row sums to 1 less its unsure share."""
        return self.caption_shares(with_unsure=False)

    def unsure_shares(self) -> np.ndarray:
        """(m,) fraction of each face's captioned time that its caption said "unsure"."""
        return self.caption_shares()[:, len(self.labels)] if self.labels else np.zeros(0)

    def valence_shares(self) -> np.ndarray:
        """(m, 3) fractions of negative, neutral, positive time (classes without a valence count in none)."""
        membership = np.array(
            [[VALENCE_OF.get(name) == valence for valence in VALENCES] for name in self.labels], np.float64
        ).reshape(len(self.labels), len(VALENCES))
        return self.emotion_shares() @ membership

    @property
    def names(self) -> list[str]:
        """The words for each column of `caption_shares`: each class, then "unsure", as the captions word
        them ('looks happy', 'unsure')."""
        return [emotion_words(name, wording=self.wording) for name in (*self.labels, UNSURE_WORD)]

    def mostly(self) -> list[str]:
        """(m,) what each face's caption said longest, in its words ('looks happy', 'unsure')."""
        return [self.names[column] for column in self._seconds.argmax(axis=1).tolist()]

    def table(self) -> str:
        """A text table: one row per face, its captioned seconds, what its caption said longest, then % per
        class (and "unsure", when any caption said it) and per valence."""
        if not self._track_ids:
            return "no face had a caption"
        with_unsure = bool(self.unsure_seconds.any())
        shares = self.caption_shares(with_unsure=with_unsure)
        heads = ["face", "captioned", "mostly", *self.labels, *([UNSURE_WORD] if with_unsure else []), "|", *VALENCES]
        cells = [
            [str(number), f"{total:.1f} s", mostly, *(f"{share:.0%}" for share in emotions), "|",
             *(f"{v:.0%}" for v in valences)]
            for number, total, mostly, emotions, valences in zip(
                face_numbers(self.track_ids).tolist(),
                self._seconds.sum(axis=1).tolist(),
                self.mostly(),
                shares.tolist(),
                self.valence_shares().tolist(),
            )
        ]
        widths = [max(len(row[i]) for row in [heads, *cells]) for i in range(len(heads))]
        lines = [heads, *cells]
        return "\n".join(
            "  ".join(cell.ljust(width) if i in (0, 2) else cell.rjust(width)
                      for i, (cell, width) in enumerate(zip(line, widths))).rstrip()
            for line in lines
        )

    def save_timeline(self, path: str | os.PathLike, *, title: str = "") -> None:
        """A PNG (or any format matplotlib writes by extension) with one row per face, coloured by emotion."""
        check_plot_path(path)
        figure = self.timeline_figure(title=title)
        with atomic_path(path) as temporary:
            figure.savefig(temporary)

    def timeline_figure(self, *, title: str = ""):
        """The timeline as a matplotlib Figure: a bar per segment in its class's colour, "unsure" hatched
        (`UNSURE_HATCH` in `UNSURE_INK_HEX` on `UNSURE_GROUND_HEX`), a legend in the captions' words."""
        if not self.keep_timeline:
            raise RuntimeError("EmotionSummary was made without keep_timeline=True, so it has no timeline to plot")
        # The object-oriented API with an Agg canvas: no pyplot, no global backend switch.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch

        rows = {track_id: row for row, track_id in enumerate(self._track_ids)}
        figure = Figure(figsize=(8, 1.2 + 0.45 * max(len(rows), 1)), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        looks = [{"facecolor": colour} for colour in class_colours(self.labels)]
        looks.append({"facecolor": UNSURE_GROUND_HEX, "edgecolor": UNSURE_INK_HEX, "hatch": UNSURE_HATCH,
                      "linewidth": 0.8})
        for track_id, start, end, shown in self._timeline:
            axes.broken_barh([(start, end - start)], (rows[track_id] - 0.4, 0.8), **looks[shown])
        axes.set_yticks(range(len(rows)), [f"Face {n}" for n in face_numbers(self.track_ids).tolist()])
        axes.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        axes.set_xlabel("time (s)")
        if title:
            axes.set_title(readable_text(title))
        used = sorted({shown for *_, shown in self._timeline})
        axes.legend(
            handles=[Patch(**looks[c], label=self.names[c]) for c in used],
            loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize="small",
        )
        if not rows:
            axes.text(0.5, 0.5, "no face had a caption", ha="center", va="center", transform=axes.transAxes)
        figure.tight_layout()
        return figure


def check_plot_path(path: str | os.PathLike) -> None:
    """OutputError unless matplotlib can write this extension (checked before a long run, not after)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    suffix = Path(path).suffix.lower().lstrip(".")
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if suffix not in formats:
        shown = repr("." + suffix) if suffix else "no extension"
        raise OutputError(f"cannot write plot {str(path)!r}: {shown} is not an image format; use .png, .svg or .pdf")
