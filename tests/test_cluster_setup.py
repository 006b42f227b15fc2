"""What a Ray run sends its workers: nothing on a Ray started here (its workers are this machine's
processes, and the driver's model file is theirs), emocap's package and the --model file for a cluster.
No Ray is started here (tests/test_cluster.py runs both kinds end to end)."""

from __future__ import annotations

import os

import pytest

from emocap.chunking import ModelOnWorkers
from emocap.cluster import CARRIED_MODEL, PACKAGE, ClusterSettings, carried_model, runtime_env

LOCAL, REMOTE = ClusterSettings(workers=2), ClusterSettings(address="10.0.0.5:6379")


def test_a_local_ray_gets_no_runtime_environment_a_cluster_gets_the_package_and_the_model(tmp_path):
    assert runtime_env(LOCAL, None) == {}
    assert runtime_env(REMOTE, None)["py_modules"] == [str(PACKAGE)] and "working_dir" not in runtime_env(REMOTE, None)
    assert runtime_env(REMOTE, tmp_path)["working_dir"] == str(tmp_path)


def test_local_workers_read_a_named_model_where_it_is(tmp_path, monkeypatch):
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"an onnx file")
    monkeypatch.chdir(tmp_path)
    with carried_model("mine.onnx", local=True) as (on_workers, folder):
        assert folder is None and on_workers == ModelOnWorkers(at=str(model))
        monkeypatch.chdir(PACKAGE)  # a worker's folder is not the driver's: the path is absolute
        assert on_workers.path() == str(model)


def test_a_cluster_gets_a_named_model_in_a_folder_of_its_own_and_finds_a_built_in_one_in_the_package(tmp_path):
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"an onnx file")
    with carried_model(str(model)) as (on_workers, folder):
        assert on_workers == ModelOnWorkers(carried=CARRIED_MODEL)
        assert (folder / CARRIED_MODEL).read_bytes() == b"an onnx file"
    assert not folder.exists()  # gone once Ray has it
    built_in = next((PACKAGE / "models").glob("emotion*.onnx"))
    with carried_model(str(built_in)) as (on_workers, folder):
        assert folder is None and on_workers.path() == str(built_in)
    with carried_model(None, local=True) as (on_workers, folder):
        assert folder is None and on_workers.path() is None  # the built-in default


def test_local_workers_import_the_drivers_emocap(monkeypatch):
    pytest.importorskip("ray")
    from emocap.cluster import import_ray

    for key in ("RAY_AUTH_TOKEN", "RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
                "RAY_DISABLE_FAILURE_SIGNAL_HANDLER"):
        monkeypatch.delenv(key, raising=False)  # what import_ray sets is undone after the test
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    import_ray(local=True)
    import_ray(local=True)
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(PACKAGE.parent), "/elsewhere"]
    monkeypatch.delenv("PYTHONPATH")
    import_ray(local=True)
    assert os.environ["PYTHONPATH"] == str(PACKAGE.parent)
