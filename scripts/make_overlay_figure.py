"""Draw docs/figures/overlay-crowded.png: eight real faces side by side, captioned by the pipeline.

Developer tooling, not a command: it rebuilds a figure of the README.

The overlay lays out captions and probability panels so that none covers
another, a face, or leaves the frame; this is what that looks like in a
crowded frame (two public-domain portraits, repeated):

    python scripts/make_overlay_figure.py
"""

from __future__ import annotations

from pathlib import Path

from emocap.images import write_image
from emocap.outputs import CaptionOverlay
from emocap.pipeline import Pipeline
from emocap.sample_faces import face_scene

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    frame, _ = face_scene(1280, 720, 8, 150, seed=3)
    pipeline = Pipeline(smoother="none")
    result = pipeline.process(frame, 0.0)
    out = ROOT / "docs" / "figures" / "overlay-crowded.png"
    write_image(out, CaptionOverlay().annotate(frame, result))
    print(f"wrote {out} ({len(result.faces)} faces)")


if __name__ == "__main__":
    main()
