"""The --report page: its words are the captions' own, and "unsure" is hatched, not a palette colour."""

import re

import numpy as np
from frame_fixtures import HAPPY, NEUTRAL, feed, make_results

from emocap.labels import UNSURE_CSS_BACKGROUND
from emocap.outputs import SegmentBuilder
from emocap.outputs.html_report import HtmlReport
from emocap.types import NO_LABEL, UNSURE

# Face 1: 1 s neutral, 1 s unsure, 1.5 s happy.
STATES = [NEUTRAL] * 10 + [UNSURE] * 10 + [HAPPY] * 15


def rendered(tmp_path, wording="looks") -> str:
    results = make_results(np.arange(len(STATES)) / 10, [[(0, state, NO_LABEL)] for state in STATES])
    report = HtmlReport(tmp_path / "r.html", video=tmp_path / "v.mp4", source=tmp_path / "v.mp4", run={})
    feed(report, results, SegmentBuilder(min_duration_s=0.5, wording=wording))
    return report.render()


def segment_buttons(page: str) -> dict[str, str]:
    """The text of each timeline segment -> its opening tag."""
    return {text: tag for tag, text in re.findall(r'(<button type="button" class="segment[^>]*>)<span>([^<]*)</span>', page)}


def test_unsure_segments_and_their_key_are_hatched_and_neutral_ones_grey(tmp_path):
    page = rendered(tmp_path)
    buttons = segment_buttons(page)
    assert set(buttons) == {"looks neutral", "unsure", "looks happy"}
    assert 'class="segment unsure"' in buttons["unsure"] and "background:" not in buttons["unsure"]
    assert 'class="segment"' in buttons["looks neutral"] and "background:#999999" in buttons["looks neutral"]
    assert re.search(r'<span class="swatch unsure" style=""></span>unsure</li>', page)
    assert re.search(r'<span class="swatch" style="background:#999999"></span>looks neutral</li>', page)
    # The hatching of emocap.labels, in the page's own style sheet.
    assert f".segment.unsure, .swatch.unsure {{ background: {UNSURE_CSS_BACKGROUND};" in page


def test_the_report_speaks_in_the_captions_words(tmp_path):
    looks = rendered(tmp_path)
    assert 'aria-label="Face 1: looks happy, 0:02.0 to 0:03.5"' in looks
    assert '"text": "Face 1 (left): looks happy \\u2014 positive"' in looks  # the video's captions track
    assert '<td class="words">looks happy</td>' in looks  # what face 1 said longest
    plain = rendered(tmp_path, wording="plain")
    assert set(segment_buttons(plain)) == {"neutral", "unsure", "happy"}
    assert '"text": "Face 1 (left): happy \\u2014 positive"' in plain
