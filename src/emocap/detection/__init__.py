"""Face detection: MTCNN on ONNX Runtime (`MtcnnFaceDetector`) and an OpenCV Haar fallback (`HaarFaceDetector`),
both `Detector`s."""

from emocap.detection.boxes import nms
from emocap.detection.factory import DETECTORS, Detector, check_detector, make_detector
from emocap.detection.haar import HaarFaceDetector
from emocap.detection.mtcnn import MtcnnFaceDetector

__all__ = [
    "DETECTORS",
    "Detector",
    "HaarFaceDetector",
    "MtcnnFaceDetector",
    "check_detector",
    "make_detector",
    "nms",
]
