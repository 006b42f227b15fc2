"""Defaults that `emocap export` shows in its --help, kept apart from the modules that import
PyTorch and onnx, so that building the command line stays fast and works without them."""

DEFAULT_CALIBRATION_FACES = 512
"""Random training faces that calibrate the int8 ranges of an exported model."""
INT8_SUFFIX = ".int8.onnx"
"""The int8 model is written beside the fp32 one: NAME.onnx and NAME.int8.onnx."""
