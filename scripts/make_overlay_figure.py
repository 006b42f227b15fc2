"""Draw docs/figures/overlay-crowded.png: eight real faces side by side, captioned by the pipeline.

The overlay lays out captions and probability panels so that none covers
another, a face, or leaves the frame; this is what that looks like in a
crowded frame (two public-domain portraits, repeated):

    python scripts/make_overlay_figure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the portraits are the tests' fixtures, not part of the package
from sample_faces import face_scene  # noqa: E402

from emocap.images import write_image  # noqa: E402
from emocap.outputs import CaptionOverlay  # noqa: E402
from emocap.pipeline import Pipeline  # noqa: E402


def main() -> None:
    frame, _ = face_scene(1280, 720, 8, 150, seed=3)
    pipeline = Pipeline(smoother="none")
    result = pipeline.process(frame, 0.0)
    out = ROOT / "docs" / "figures" / "overlay-crowded.png"
    write_image(out, CaptionOverlay().annotate(frame, result))
    print(f"wrote {out} ({len(result.faces)} faces)")


if __name__ == "__main__":
    main()
