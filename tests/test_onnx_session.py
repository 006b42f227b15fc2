"""The ONNX Runtime seam: sessions with the shared options, and the CPU's instruction sets."""

import os

import numpy as np
import pytest

from fer_fixtures import smooth_faces

from emocap.classifier import BUILTIN_MODEL, EmotionClassifier
from emocap.onnx_session import CpuFeatures, cpu_features, open_session, session_options, usable_cores, with_nodes_edited


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


def test_without_mirror_the_builtin_model_sees_the_face_alone():
    """The built-in model (its graph edited by `with_nodes_edited`) averages a face with its mirror image; mirror=False runs the same weights on the
    face alone: the two views then differ, and their mean is what the mirror-averaging graph gives."""
    faces = smooth_faces(4, seed=5)
    flipped = np.ascontiguousarray(faces[:, :, ::-1])
    averaged, alone = EmotionClassifier(threads=1), EmotionClassifier(threads=1, mirror=False)
    assert averaged.mirrored and not alone.mirrored
    np.testing.assert_array_equal(averaged.logits(faces), averaged.logits(flipped))
    assert np.abs(alone.logits(faces) - alone.logits(flipped)).max() > 0.01
    # within the int8 graph's rounding of the averaged embedding (its logits span about +-2)
    np.testing.assert_allclose((alone.logits(faces) + alone.logits(flipped)) / 2, averaged.logits(faces), atol=0.06)
    assert alone.labels == averaged.labels and alone.calibration == averaged.calibration


def test_a_graph_read_and_written_unedited_keeps_its_weights_and_metadata():
    original, rewritten = open_session(BUILTIN_MODEL, 1), open_session(with_nodes_edited(BUILTIN_MODEL.read_bytes(), lambda nodes: None), 1)
    faces = {"faces": np.linspace(-1, 1, 2 * 48 * 48, dtype=np.float32).reshape(2, 1, 48, 48)}
    np.testing.assert_array_equal(original.run(None, faces)[0], rewritten.run(None, faces)[0])
    assert original.get_modelmeta().custom_metadata_map == rewritten.get_modelmeta().custom_metadata_map


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="the system cannot say which cores a process may use")
def test_with_no_thread_cap_a_network_runs_one_thread_a_core_this_process_may_use():
    assert usable_cores() == len(os.sched_getaffinity(0)) >= 1
    assert session_options(None).intra_op_num_threads == usable_cores()
    assert session_options(3).intra_op_num_threads == 3
