"""emocap: facial emotion captions for live and recorded video.

    from emocap import EmotionClassifier, FaceDetector, Pipeline
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "EmotionClassifier": "emocap.classifier",
    "FaceDetector": "emocap.detection.mtcnn",
    "Pipeline": "emocap.pipeline",
    "PipelineConfig": "emocap.pipeline_config",
    "Faces": "emocap.types",
    "FrameResult": "emocap.types",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    # Imported on first use, so `emocap --help` does not pay for ONNX Runtime and OpenCV.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'emocap' has no attribute {name!r}")
