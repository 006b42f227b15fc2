"""Face detection: MTCNN on ONNX Runtime (`FaceDetector`) and an OpenCV Haar fallback."""

from emocap.detection.boxes import nms
from emocap.detection.factory import DETECTORS, Detector, make_detector
from emocap.detection.haar import HaarFaceDetector
from emocap.detection.mtcnn import FaceDetector

__all__ = [
    "DETECTORS",
    "Detector",
    "FaceDetector",
    "HaarFaceDetector",
    "make_detector",
    "nms",
]
