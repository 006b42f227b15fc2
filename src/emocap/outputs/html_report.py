"""`--report`: one self-contained HTML page about a transcribed video, for a person to look at.

The page plays the video (referenced by its path relative to the page, so the
two travel together) with the emotion captions as a captions track; shows a
timeline per face, coloured by emotion ("unsure", which names none, hatched)
with a valence strip under it, whose
segments are buttons that seek the video; a table per face (time with a
caption, what it said longest, share of each emotion, valence balance); and how
the run was made. Its words are the captions' own, in the segments' wording.
Everything but the video is inline: no network, no other file. It works with
the keyboard (every segment is a button) and reflows at 200% zoom. (A model's scores on FER2013,
which `emocap evaluate` prints, are `emocap.evaluation.fer_scores`.)
"""

from __future__ import annotations

import html
import json
import os
import urllib.parse
from pathlib import Path

import numpy as np

from emocap.errors import OutputError
from emocap.labels import (
    UNSURE_CSS_BACKGROUND, UNSURE_INK_HEX, UNSURE_WORD, VALENCE_COLOURS_HEX, VALENCES, class_colours,
)
from emocap.outputs.captions import face_numbers
from emocap.outputs.files import readable_text
from emocap.outputs.records import segment_record
from emocap.outputs.segments import Segment
from emocap.outputs.summary import EmotionSummary
from emocap.outputs.writer import TranscriptWriter
from emocap.types import FrameResult

REPORT_SUFFIX = ".html"
REPORT_SUFFIXES = (REPORT_SUFFIX, ".htm")
"""What a browser opens as a web page from a file, by its name."""


def check_report_path(path: str | os.PathLike) -> None:
    """OutputError unless the page's name ends as a web page's does (a browser would show r.txt as text)."""
    suffix = Path(path).suffix
    if suffix.lower() not in REPORT_SUFFIXES:
        shown = repr(suffix) if suffix else "no extension"
        raise OutputError(f"cannot write report {str(path)!r}: {shown} is not a web page; use .html or .htm")


def clock(seconds: float) -> str:
    """'1:02.5': minutes and seconds, to the tenth."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{rest:04.1f}"


class HtmlReport(TranscriptWriter):
    """Gathers the segments of one video and writes the page when the video ends.

    video   the video the page plays (the annotated copy when there is one)
    source  the video that was transcribed, which the page is named after
    run     how the run was made, as name -> value, shown as a list
    """

    suffix = REPORT_SUFFIX

    def __init__(
        self, path: str | os.PathLike, *, video: str | os.PathLike, source: str | os.PathLike, run: dict[str, str],
        video_offset_s: float = 0.0,
    ) -> None:
        super().__init__(path, records="segment")
        self.video, self.source = Path(video), Path(source)
        self.video_offset_s = float(video_offset_s)
        """Source time at which the played video begins (the annotated copy of a part)."""
        self.run = dict(run)
        self._summary = EmotionSummary()
        self._segments: list[dict] = []
        self._begin_s: float | None = None
        self._end_s = 0.0

    def frame(self, result: FrameResult) -> None:
        if self._begin_s is None:
            self._begin_s = float(result.time_s)
        self._end_s = max(self._end_s, float(result.time_s))

    def segment(self, segment: Segment) -> None:
        self._summary.add(segment)
        self._segments.append(segment_record(segment))
        self._end_s = max(self._end_s, segment.end_s)

    def end(self) -> None:
        self.stream.write(readable_text(self.render()))  # names in it whose bytes are not UTF-8, too

    def render(self) -> str:
        video_src = os.path.relpath(self.video.resolve(), self.path.resolve().parent)
        title = f"Emotions in {self.source.name}"
        return PAGE.format(
            title=html.escape(title),
            # The name's own bytes, %-escaped: a link that reaches the video whatever its name holds.
            video=html.escape(urllib.parse.quote(os.fsencode(Path(video_src).as_posix())), quote=True),
            timeline=self._timeline(),
            table=self._table(),
            run="".join(
                f"<dt>{html.escape(name)}</dt><dd>{html.escape(str(value))}</dd>" for name, value in self.run.items()
            ),
            cues=json.dumps([
                {"start": self._played(s["start"]), "end": self._played(s["end"]), "text": s["caption"]}
                for s in self._segments
            ])
            .replace("</", "<\\/"),
            style=STYLE,
            script=SCRIPT,
        )

    def _played(self, seconds: float) -> float:
        """A time of the source as a time of the video the page plays."""
        return round(max(seconds - self.video_offset_s, 0.0), 3)

    def _timeline(self) -> str:
        if not self._segments:
            return "<p>No face had a caption in this video.</p>"
        begin = self._begin_s or 0.0
        total = max(self._end_s - begin, 1e-6)
        summary = self._summary
        keys = [*summary.labels, *([UNSURE_WORD] if summary.unsure_seconds.any() else [])]
        looks = {name: _look(name, colour) for name, colour in zip(summary.labels, class_colours(summary.labels))}
        looks[UNSURE_WORD] = _look(UNSURE_WORD)
        rows = []
        for number in sorted({s["face"] for s in self._segments}):
            buttons, strip = [], []
            for s in (s for s in self._segments if s["face"] == number):
                left, width = 100 * (s["start"] - begin) / total, 100 * (s["end"] - s["start"]) / total
                place = f"left:{left:.3f}%;width:{width:.3f}%"
                label = f"Face {number}: {s['emotion_words']}, {clock(s['start'])} to {clock(s['end'])}"
                css_class, style = looks.get(s["label"], ("", "background:#999999"))
                buttons.append(
                    f'<button type="button" class="segment{css_class}" data-start="{self._played(s["start"]):.3f}" '
                    f'style="{place};{style}" aria-label="{html.escape(label, quote=True)}" '
                    f'title="{html.escape(label, quote=True)}"><span>{html.escape(s["emotion_words"])}</span></button>'
                )
                strip.append(
                    f'<span style="{place};background:{VALENCE_COLOURS_HEX.get(s["valence"] or "", "#ffffff")}"></span>'
                )
            rows.append(
                f'<div class="face" role="group" aria-label="Face {number}"><h3>Face {number}</h3>'
                f'<div class="track">{"".join(buttons)}</div><div class="valence" aria-hidden="true">{"".join(strip)}</div></div>'
            )
        names = dict(zip((*summary.labels, UNSURE_WORD), summary.names))
        legend = '<li class="key">emotion:</li>' + "".join(
            f'<li><span class="swatch{looks[key][0]}" style="{looks[key][1]}"></span>{html.escape(names[key])}</li>'
            for key in keys
        ) + '<li class="key">valence:</li>' + "".join(
            f'<li><span class="swatch thin" style="background:{VALENCE_COLOURS_HEX[v]}"></span>{v}</li>' for v in VALENCES
        )
        ticks = "".join(
            f'<span style="left:{100 * (t - begin) / total:.3f}%">{clock(t)}</span>'
            for t in np.linspace(begin, begin + total, 5).tolist()
        )
        return f'{"".join(rows)}<div class="ticks" aria-hidden="true">{ticks}</div><ul class="legend">{legend}</ul>'

    def _table(self) -> str:
        summary = self._summary
        if not len(summary.track_ids):
            return ""
        with_unsure = bool(summary.unsure_seconds.any())
        names = [*summary.labels, *([UNSURE_WORD] if with_unsure else [])]
        heads = "".join(f"<th scope=\"col\">{html.escape(name)}</th>" for name in ["mostly", *names])
        valence_heads = "".join(f"<th scope=\"col\">{v}</th>" for v in VALENCES)
        shares = summary.caption_shares(with_unsure=with_unsure)
        rows = []
        for number, seconds, mostly, emotions, valences in zip(
            face_numbers(summary.track_ids).tolist(), summary.captioned_seconds.tolist(), summary.mostly(),
            shares.tolist(), summary.valence_shares().tolist(),
        ):
            cells = f'<td class="words">{html.escape(mostly)}</td>' + "".join(f"<td>{share:.0%}</td>" for share in emotions)
            balance = "".join(
                f'<span style="width:{100 * share:.1f}%;background:{VALENCE_COLOURS_HEX[v]}"></span>'
                for v, share in zip(VALENCES, valences)
            )
            valence_cells = "".join(f"<td>{share:.0%}</td>" for share in valences)
            rows.append(
                f'<tr><th scope="row">Face {number}</th><td>{seconds:.1f} s</td>{cells}{valence_cells}'
                f'<td><div class="balance" role="img" aria-label="negative {valences[0]:.0%}, neutral '
                f'{valences[1]:.0%}, positive {valences[2]:.0%}">{balance}</div></td></tr>'
            )
        return (
            '<table><caption>Time each face had a caption, and how it was shared</caption>'
            f'<thead><tr><th scope="col">face</th><th scope="col">captioned</th>{heads}{valence_heads}'
            f'<th scope="col">valence balance</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        )


def _look(name: str, colour: str = "") -> tuple[str, str]:
    """(extra CSS class, inline style) of a class's timeline segment and swatch: its colour, or for
    "unsure" the hatching of `emocap.labels` (in STYLE), which no emotion's colour is."""
    return (" unsure", "") if name == UNSURE_WORD else ("", f"background:{colour}")


STYLE = """
:root { font: 100%/1.5 system-ui, sans-serif; color: #111; background: #fff; }
body { max-width: 70rem; margin: 0 auto; padding: 1rem; }
video { width: 100%; max-height: 60vh; background: #000; }
.face { margin: 0.75rem 0; }
.face h3 { font-size: 1rem; margin: 0 0 0.25rem; }
.track, .valence, .ticks { position: relative; }
.track { height: 2.5rem; background: #eee; }
.valence { height: 0.5rem; background: #f6f6f6; }
.segment { position: absolute; top: 0; height: 100%; min-width: 0.4rem; border: 1px solid #fff; padding: 0;
  color: #000; font: inherit; font-size: 0.8rem; overflow: hidden; cursor: pointer; }
.segment span { background: rgba(255,255,255,0.85); padding: 0 0.2rem; }
.segment:focus-visible, .segment:hover { outline: 3px solid #000; z-index: 1; }
.valence span { position: absolute; top: 0; height: 100%; }
.ticks { height: 1.5rem; font-size: 0.8rem; color: #444; }
.ticks span { position: absolute; transform: translateX(-50%); }
.ticks span:first-child { transform: none; }
.ticks span:last-child { transform: translateX(-100%); }
.legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; padding: 0; }
.swatch { display: inline-block; width: 1rem; height: 1rem; margin-right: 0.3rem; vertical-align: middle; }
.swatch.thin { height: 0.4rem; }
.legend .key { font-weight: bold; }
.segment.unsure, .swatch.unsure { background: UNSURE_BACKGROUND; border: 2px solid UNSURE_INK; }
.segment.unsure span { background: #fff; }
table { border-collapse: collapse; margin: 1rem 0; display: block; overflow-x: auto; }
caption { text-align: left; font-weight: bold; }
th, td { padding: 0.25rem 0.5rem; border-bottom: 1px solid #ddd; text-align: right; }
th[scope=row], thead th:first-child, td.words { text-align: left; }
.balance { display: flex; width: 8rem; height: 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dd { margin: 0; }
""".replace("UNSURE_BACKGROUND", UNSURE_CSS_BACKGROUND).replace("UNSURE_INK", UNSURE_INK_HEX)

SCRIPT = """
const video = document.getElementById('video');
const cues = JSON.parse(document.getElementById('cues').textContent);
const track = video.addTextTrack('captions', 'Emotions', 'en');
for (const cue of cues) track.addCue(new VTTCue(cue.start, cue.end, cue.text));
track.mode = 'showing';
for (const button of document.querySelectorAll('button.segment')) {
  button.addEventListener('click', () => {
    video.currentTime = Number(button.dataset.start);
    video.focus();
  });
}
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
<h1>{title}</h1>
<video id="video" src="{video}" controls preload="metadata"></video>
<h2>Timeline</h2>
<p>Each face's captions over time, coloured by emotion, with the valence beneath. Choose a segment to play the video from there.</p>
{timeline}
<h2>Per face</h2>
{table}
<h2>How this was made</h2>
<dl>{run}</dl>
</main>
<script type="application/json" id="cues">{cues}</script>
<script>{script}</script>
</body>
</html>
"""
