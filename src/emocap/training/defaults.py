"""Defaults that `emocap export` shows in its --help, kept apart from the modules that import
PyTorch and onnx, so that building the command line stays fast and works without them."""

DEFAULT_CALIBRATION_FACES = 512
"""Random training faces that calibrate the int8 ranges of an exported model."""
