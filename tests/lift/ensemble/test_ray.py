"""The Ray backend on a local Ray instance: same members as the local backend, retries, failures kept apart."""

import os

import pytest
import torch
from helpers import tiny_ensemble

from semipose import pool
from semipose.engine import load_checkpoint
from semipose.lift.ensemble.runner import member_path, train_ensemble

try:
    import ray
except ImportError:  # CI installs semipose[ray]: there a missing Ray is a failure, not a skip
    if os.environ.get("CI"):
        raise
    pytest.skip("Ray is not installed (pip install 'semipose[ray]')", allow_module_level=True)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_members_equal_local_members(tmp_path, local_ray):
    # fp32: train.precision=auto measures in each worker, at once, and a near tie could differ between them
    cfg_ray, data = tiny_ensemble(tmp_path, "ensemble.backend=ray", "ensemble.num_cpus=1", "train.precision=fp32")
    cfg_local, _ = tiny_ensemble(tmp_path, "ensemble.workers=2", "train.precision=fp32")
    s_ray = train_ensemble(cfg_ray, tmp_path / "ray", data, progress=False)
    s_local = train_ensemble(cfg_local, tmp_path / "local", data, progress=False)
    assert s_ray["backend"] == "ray" and [m["status"] for m in s_ray["members"]] == ["done"] * 3
    assert [m["key"] for m in s_ray["members"]] == [m["key"] for m in s_local["members"]]
    for i in range(3):
        a = load_checkpoint(member_path(tmp_path / "ray", i))["model"]
        b = load_checkpoint(member_path(tmp_path / "local", i))["model"]
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_ray_retries_and_reports_failures(tmp_path, local_ray):
    cfg, data = tiny_ensemble(tmp_path, "ensemble.backend=ray", "ensemble.num_cpus=1", "ensemble.max_retries=1")
    marker = tmp_path / "failed-once"
    status = train_ensemble(cfg, tmp_path / "run", data, faults={1: f"once:{marker}", 2: "always"}, progress=False)
    assert [m["status"] for m in status["members"]] == ["done", "done", "failed"]
    assert marker.exists()
    failed = status["members"][2]
    assert failed["error"].startswith("RuntimeError") and "injected failure" in failed["traceback"]
    assert member_path(tmp_path / "run", 0).is_file() and not member_path(tmp_path / "run", 2).is_file()


def test_ray_backend_reuses_a_running_instance(tmp_path, local_ray):
    """The backend trains on the instance it finds and leaves it running (it shuts down only one it started)."""
    job = ray.get_runtime_context().get_job_id()
    cfg, data = tiny_ensemble(tmp_path, "ensemble.backend=ray", "ensemble.num_cpus=1")
    status = train_ensemble(cfg, tmp_path / "run", data, progress=False)
    assert [m["status"] for m in status["members"]] == ["done"] * 3
    assert ray.is_initialized() and ray.get_runtime_context().get_job_id() == job  # the same driver session
    assert pool.RayPool(num_cpus=1).threads_per_job(4) == 1
