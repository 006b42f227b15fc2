"""The pipeline's defaults, each written once with the measurement behind it.

A leaf module (it imports nothing), so that the detectors, trackers and smoothers below the pipeline,
`PipelineConfig` above them, and the command line's --help all read the same numbers without
loading ONNX Runtime.
"""

DEFAULT_MIN_FACE_SIZE = 40
"""MTCNN's customary 20 px costs 3x the time: P-Net's first pyramid level has
(12 / min_face_size)^2 of the frame's pixels. Measured on the 2-core target,
640x480 with one face (benchmarks/detection_speed.py): about 22 ms at 20,
8-9 ms at 40, 6-7 ms at 60. A 40 px face is a twelfth of a 480-line frame; the
48x48 emotion classifier gets little from smaller ones."""

DEFAULT_FULL_SCAN_EVERY = 4
"""MTCNN scans the whole frame on every 4th detection and, in between, looks again only where the
faces were (O-Net on their boxes), scanning at once where a face is lost. On the bundled clip and
on 4 and 8 drifting faces (benchmarks/detection_search.py, docs/benchmarks/live-path.md) that finds the
scan's faces within a few pixels at a third to a half of its cost; a new face waits at most 3
frames (0.1 s at 30 fps). `--full-scan-every 1` is the paper's way: every frame scanned."""

DEFAULT_CONFIRM_FRAMES = 3
"""A face is shown once it has been detected in 3 frames (`emocap.tracking.confirmation`): on the
bundled clip and on built clips, that leaves no one- or two-frame false track captioned, and delays
a real face's first caption by 2 frames, 0.07-0.13 s (benchmarks/track_confirmation.py,
docs/BENCHMARKS.md)."""

DEFAULT_UNSURE_BAND = 0.05
"""Hysteresis about the "unsure" threshold: a face that names an emotion turns unsure only under the
threshold - 0.05, an unsure one names an emotion again only at the threshold + 0.05. Chosen on built
clips of PublicTest faces by the rule written first in benchmarks/steadiness.py (seed 10): caption
changes 57.2 to 26.4 a face-minute, right|named 80.5% to 80.8%, named 42.3% to 40.4% of frames. On
PrivateTest clips: 53.6 to 26.6 changes, right|named 87.9% to 87.4% (docs/BENCHMARKS.md)."""

DEFAULT_MIRROR = True
"""The classifier averages each face with its mirror image (the built-in models are made to), on photos and on
video alike. On FER2013's test faces that is +0.7 / +0.6 points (PublicTest / PrivateTest), and on built clips
of PublicTest faces, one face a segment jittered frame to frame as in video, through the EMA memory and the
unsure rule, +1.0 points of captions right (two standard errors over 36 people: 1.0): the memory averages
frames of the same face, which the mirror's second view adds to; only on clips with a new face every frame
does it add nothing (+0.06, noise 0.2). Off (`--no-mirror`) the classifier does half the work
(benchmarks/mirror_on_video.py, docs/benchmarks/speed-levers-2026-12-07.md)."""

DEFAULT_PATIENCE_FRAMES = 15
"""Frames a face may go undetected and still keep its identity and memory (half a second at 30 fps)."""

SMOOTHER_NAMES = ("ema", "paper", "none")
"""The smoothers `emocap.tracking.make_smoother` builds by name."""

DEFAULT_SMOOTHER = "ema"
"""benchmarks/smoothing.py: on simulated video of PrivateTest faces, the EMA smoother beats the paper's
memory of 4 on the mean of its two frame models in accuracy, flicker and delay (docs/BENCHMARKS.md)."""

DETECTOR_NAMES = ("mtcnn", "haar")
"""The face detectors `emocap.detection.factory.make_detector` builds by name: MTCNN (the paper's) and
OpenCV's Haar cascade (faster, frontal faces only)."""
