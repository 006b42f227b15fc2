"""Defaults that `emocap export` and `emocap interpolate` show in their --help, kept apart from
the modules that import PyTorch and onnx, so that building the command line stays fast and works without them."""

DEFAULT_CALIBRATION_FACES = 512
"""Random training faces that calibrate the int8 ranges of an exported model."""
INT8_SUFFIX = ".int8.onnx"
"""The int8 model is written beside the fp32 one: NAME.onnx and NAME.int8.onnx."""

DEFAULT_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Points on the line from a base model (0) to its fine-tuned copy (1) that `emocap interpolate` scores."""
DEFAULT_CORRUPTION_FACES = 1000
"""PublicTest faces that FER2013-C is built from when `emocap interpolate` chooses an alpha."""
DEFAULT_BATCH_NORM_FACES = 4096
"""Random training faces over which `emocap interpolate` measures each alpha's batch norms again."""
