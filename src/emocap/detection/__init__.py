"""Face detection: MTCNN on ONNX Runtime (`FaceDetector`), an OpenCV Haar fallback, and box operations."""

from emocap.detection.boxes import iou_matrix, nms, overlap_matrix
from emocap.detection.factory import DETECTORS, Detector, make_detector
from emocap.detection.haar import HaarFaceDetector
from emocap.detection.mtcnn import FaceDetector

__all__ = [
    "DETECTORS",
    "Detector",
    "FaceDetector",
    "HaarFaceDetector",
    "iou_matrix",
    "make_detector",
    "nms",
    "overlap_matrix",
]
