"""The classifier's cost a face by batch size: how much "all faces of two frames in one batch" could save.

    python benchmarks/classifier_batch.py          # one ONNX Runtime thread, the built-in model, faces on a noise frame

Prints ms a face at batch 1, 2, 4, 8 and 16 (best of 5 rounds of 20 calls). Two frames in one batch turn a
batch of n faces into one of 2n: the saving is the drop from row n to row 2n, a face at a time.
"""

import time

import numpy as np

from emocap.classifier import EmotionClassifier
from emocap.onnx_session import cpu_features


def main() -> None:
    classifier = EmotionClassifier(threads=1)
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    print(f"classifier ms a face by batch, one thread, {cpu_features().describe()}")
    for n in (1, 2, 4, 8, 16):
        boxes = np.array([[20 + 70 * (i % 8), 40 + 200 * (i // 8), 80 + 70 * (i % 8), 110 + 200 * (i // 8)]
                          for i in range(n)], np.float32)
        classifier.look_at_boxes(frame, boxes)
        rounds = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(20):
                classifier.look_at_boxes(frame, boxes)
            rounds.append((time.perf_counter() - started) / 20 / n * 1000)
        print(f"batch {n:2d}: {min(rounds):.2f} ms a face")


if __name__ == "__main__":
    main()
