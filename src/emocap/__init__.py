"""emocap: facial emotion captions for live and recorded video.

    from emocap import EmotionClassifier, MtcnnFaceDetector, Pipeline

`FaceDetector` is the name `MtcnnFaceDetector` had before the Haar detector came beside it; it stays,
as an alias of the same class, so that programs written against it keep working.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "EmotionClassifier": "emocap.classifier",
    "MtcnnFaceDetector": "emocap.detection.mtcnn",
    "FaceDetector": ("emocap.detection.mtcnn", "MtcnnFaceDetector"),  # the alias: see above
    "FaceRecord": "emocap.record",
    "Perception": "emocap.perception",
    "Captioning": "emocap.captioning",
    "Pipeline": "emocap.pipeline",
    "PipelineConfig": "emocap.pipeline_config",
    "Faces": "emocap.types",
    "FrameResult": "emocap.types",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    # Imported on first use, so `emocap --help` does not pay for ONNX Runtime and OpenCV.
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name] if isinstance(_EXPORTS[name], tuple) else (_EXPORTS[name], name)
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'emocap' has no attribute {name!r}")
