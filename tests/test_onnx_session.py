"""The ONNX Runtime seam: sessions with the shared options, and the CPU's instruction sets."""

import numpy as np

from emocap.classifier import BUILTIN_MODEL
from emocap.onnx_session import CpuFeatures, cpu_features, open_session


def test_cpu_features_name_the_sets_that_decide_int8_kernels():
    features = cpu_features()
    assert features.model
    described = features.describe()
    assert described.startswith(features.model)
    for present, name in ((features.avx2, "AVX2"), (features.avx512, "AVX-512"), (features.vnni, "VNNI"), (features.bf16, "BF16")):
        assert (f"no {name}" in described) != present


def test_cpu_features_describe_a_cpu_without_vnni():
    haswell = CpuFeatures("Haswell", avx2=True, avx512=False, vnni=False)
    assert haswell.describe() == "Haswell (AVX2, no AVX-512, no VNNI, no BF16)"


def test_open_session_runs_a_model_with_the_thread_cap():
    session = open_session(BUILTIN_MODEL, threads=1)
    faces = np.zeros((2, 1, 48, 48), np.float32)
    logits = session.run(["logits"], {"faces": faces})[0]
    assert logits.shape == (2, 7) and np.isfinite(logits).all()
