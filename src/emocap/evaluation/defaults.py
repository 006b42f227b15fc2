"""Default sizes shared by the evaluation library and `emocap evaluate`.

Kept apart from the modules that import scikit-learn, so that building the
command line (which imports every command) stays fast.
"""

DEFAULT_BATCH_SIZE = 256
"""Faces per classifier call: large enough to amortise the call, small enough for a laptop's memory."""

DEFAULT_TRAIN_SAMPLE = 2000
"""Train faces in the train-set t-SNE map: enough to show the clusters, few enough for t-SNE on a laptop."""
