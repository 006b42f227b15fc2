"""How often the costly detection runs, kept apart from the modules that load ONNX Runtime, so that
the command line can show it in --help without loading them."""

DEFAULT_FULL_SCAN_EVERY = 4
"""MTCNN scans the whole frame on every 4th detection and, in between, looks again only where the
faces were (O-Net on their boxes), scanning at once where a face is lost. On the bundled clip and
on 4 and 8 drifting faces (benchmarks/detection_search.py, docs/BENCHMARKS.md) that finds the
scan's faces within a few pixels at a third to a half of its cost; a new face waits at most 3
frames (0.1 s at 30 fps). `--full-scan-every 1` is the paper's way: every frame scanned."""

DEFAULT_CONFIRM_FRAMES = 3
"""A face is shown once it has been detected in 3 frames (`emocap.tracking.confirmation`): on the
bundled clip and on built clips, that leaves no one- or two-frame false track captioned, and delays
a real face's first caption by 2 frames, 0.07-0.13 s (benchmarks/track_confirmation.py,
docs/BENCHMARKS.md)."""
