"""Draw docs/figures/overlay-crowded.png: eight real faces side by side, captioned by the pipeline.

Developer tooling, not a command: it rebuilds a figure of the README.

The overlay lays out captions and probability panels so that none covers
another, a face, or leaves the frame; this is what that looks like in a
crowded frame (two public-domain portraits, repeated), in the default wording ("looks happy") and with
"unsure" drawn as it is everywhere (dashed black on white, an outlined caption):

    python scripts/make_overlay_figure.py
"""

from __future__ import annotations

from pathlib import Path

from emocap.images import write_image
from emocap.outputs import CaptionOverlay
from emocap.pipeline import Pipeline
from emocap_testkit.faces import face_scene

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    frame, _ = face_scene(1280, 720, 8, 150, seed=3)
    # One still frame: no memory to steady it, and no later frames to confirm its faces in (the
    # default confirmation, a face's third detection, would show none).
    pipeline = Pipeline(smoother="none", confirm_frames=1)
    result = pipeline.process(frame, 0.0)
    out = ROOT / "docs" / "figures" / "overlay-crowded.png"
    write_image(out, CaptionOverlay().annotate(frame, result))
    print(f"wrote {out} ({len(result.faces)} faces)")


if __name__ == "__main__":
    main()
