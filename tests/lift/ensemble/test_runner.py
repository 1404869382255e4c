"""Ensembles: subsets, statistics, uncertainty measures, and the execution backends."""

import json
import os

import numpy as np
import pytest
import torch
from helpers import tiny_ensemble, tiny_sequences

from semipose.data.splits import cut, split_labeled
from semipose.engine import load_checkpoint
from semipose.lift.ensemble.aggregate import ensemble_mean, ensemble_spread
from semipose.lift.ensemble.runner import load_members, member_path, train_ensemble
from semipose.lift.ensemble.subsets import draw_subsets
from semipose.metrics.uncertainty import calibration, rank_correlation, sparsification


def test_ensemble_statistics_hand_computed():
    preds = np.zeros((2, 1, 2, 3))
    preds[1, 0, 0] = [2.0, 0, 0]  # joint 0: members at 0 and 2 on x
    preds[0, 0, 1] = [0, 3.0, 0]  # joint 1: members at (0,3,0) and (0,-1,0)
    preds[1, 0, 1] = [0, -1.0, 0]
    np.testing.assert_allclose(ensemble_mean(preds)[0], [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(ensemble_spread(preds)[0], [1.0, 2.0])


def test_subsets_disjoint_overlap_bootstrap():
    frames = [100, 50, 80, 120, 60, 90, 70, 30]
    d = draw_subsets(frames, 3, "disjoint", seed=1)
    flat = [g for s in d for g in s]
    assert len(flat) == len(set(flat))  # no recording in two members
    assert all(sum(frames[g] for g in s) >= sum(frames) // 3 - max(frames) for s in d)
    o = draw_subsets(frames, 4, "overlap", fraction=0.5, seed=1)
    assert all(len(set(s)) == len(s) and sum(frames[g] for g in s) >= 300 for s in o)
    b = draw_subsets(frames, 4, "bootstrap", seed=2)
    assert any(len(set(s)) < len(s) for s in b)  # drawn with replacement
    assert draw_subsets(frames, 2, "full") == [list(range(8))] * 2
    assert draw_subsets(frames, 3, "disjoint", seed=1) == d  # deterministic
    with pytest.raises(ValueError, match="exceed"):
        draw_subsets(frames, 3, "disjoint", frames=300)


def test_rank_correlation_and_sparsification_hand_computed():
    e = np.array([4.0, 3.0, 2.0, 1.0])
    assert rank_correlation(e, e) == pytest.approx(1.0)
    assert sparsification(e, e, steps=4)["ause"] == pytest.approx(0.0)
    worst = sparsification(-e, e, steps=4)
    np.testing.assert_allclose(worst["curve"], [2.5, 3.0, 3.5, 4.0])
    np.testing.assert_allclose(worst["oracle"], [2.5, 2.0, 1.5, 1.0])
    assert worst["ause"] == pytest.approx(0.45)


def test_calibration_of_a_true_gaussian():
    rng = np.random.default_rng(0)
    u = rng.uniform(0.5, 2.0, size=200_000)
    err = np.linalg.norm(rng.normal(size=(u.size, 3)) * (u / np.sqrt(3))[:, None], axis=1)
    cal = calibration(u, err)
    assert cal["error"] < 0.01
    over = calibration(u * 3, err)  # claims too much uncertainty
    assert (over["observed"] > over["expected"]).all()


def test_split_labeled_is_contiguous_and_shared_by_cameras(tmp_path):
    seqs = tiny_sequences(tmp_path)
    labeled, unlabeled = split_labeled(seqs, 0.25, seed=0)
    assert len(labeled) == len(seqs)
    by_rec = {}
    for seg in labeled:
        s = seqs[seg.index]
        by_rec.setdefault((s.subject, s.action), set()).add((seg.start, seg.stop))
        assert seg.stop - seg.start == 10
    assert all(len(v) == 1 for v in by_rec.values())  # same frames in every camera
    total = sum(s.stop - s.start for s in labeled + unlabeled)
    assert total == sum(s.num_frames for s in seqs)
    pieces = cut(seqs, labeled)
    first = labeled[0]
    np.testing.assert_array_equal(pieces[0].keypoints_2d, seqs[first.index].keypoints_2d[first.start : first.stop])


# --- backends ------------------------------------------------------------------------------------------


def _weights(run_dir, i):
    return load_checkpoint(member_path(run_dir, i))["model"]


def test_local_pool_equals_in_process_and_members_differ(tmp_path):
    # fp32: train.precision=auto measures in each worker, at once, and a near tie could differ between them
    cfg1, data = tiny_ensemble(tmp_path, "ensemble.workers=1", "train.precision=fp32")
    cfg2, _ = tiny_ensemble(tmp_path, "ensemble.workers=2", "train.precision=fp32")
    torch.set_num_threads(1)
    from semipose import pool

    # same seeds, same threads per member -> the same members, whichever way they run
    original = pool.LocalPool.threads_per_job
    pool.LocalPool.threads_per_job = lambda self, n: 1  # type: ignore[method-assign]
    try:
        s1 = train_ensemble(cfg1, tmp_path / "one", data, progress=False)
        s2 = train_ensemble(cfg2, tmp_path / "two", data, progress=False)
    finally:
        pool.LocalPool.threads_per_job = original  # type: ignore[method-assign]
    assert [m["status"] for m in s1["members"]] == ["done"] * 3 == [m["status"] for m in s2["members"]]
    for i in range(3):
        for k, v in _weights(tmp_path / "one", i).items():
            torch.testing.assert_close(_weights(tmp_path / "two", i)[k], v, rtol=0, atol=0)
    assert not torch.equal(
        _weights(tmp_path / "one", 0)["shrink.weight"], _weights(tmp_path / "one", 1)["shrink.weight"]
    )
    groups = [m["groups"] for m in s1["members"]]
    assert len({g for gs in groups for g in gs}) == sum(len(g) for g in groups)  # disjoint


@pytest.mark.parametrize("workers", [1, 2])
def test_retry_once_succeeds_and_always_failing_member_is_reported(tmp_path, workers):
    cfg, data = tiny_ensemble(tmp_path, f"ensemble.workers={workers}", "ensemble.max_retries=1")
    marker = tmp_path / "failed-once"
    status = train_ensemble(cfg, tmp_path / "run", data, faults={0: f"once:{marker}", 2: "always"}, progress=False)
    states = [m["status"] for m in status["members"]]
    assert states == ["done", "done", "failed"]
    assert marker.exists()
    failed = status["members"][2]
    assert "injected failure" in failed["error"] and "Traceback" in failed["traceback"] and failed["attempts"] == 2
    saved = json.loads((tmp_path / "run" / "ensemble.json").read_text())
    assert saved["members"][2]["status"] == "failed"
    assert member_path(tmp_path / "run", 1).is_file() and not member_path(tmp_path / "run", 2).is_file()
    # each member's record says how it ran: threads follow the worker count (results differ at the bit level)
    done = saved["members"][1]
    assert done["threads"] == max(1, (os.cpu_count() or 1) // workers)
    assert done["precision"]["requested"] == "auto" and done["precision"]["used"] in ("fp32", "bf16")
    assert load_checkpoint(member_path(tmp_path / "run", 1))["record"]["threads"] == done["threads"]


def test_resume_trains_only_unfinished_members(tmp_path):
    cfg, data = tiny_ensemble(tmp_path)
    first = train_ensemble(cfg, tmp_path / "run", data, faults={1: "always"}, progress=False)
    assert [m["status"] for m in first["members"]] == ["done", "failed", "done"]
    before = member_path(tmp_path / "run", 0).stat().st_mtime_ns
    second = train_ensemble(cfg, tmp_path / "run", data, resume=True, progress=False)
    assert [m["status"] for m in second["members"]] == ["done (earlier run)", "done", "done (earlier run)"]
    assert member_path(tmp_path / "run", 0).stat().st_mtime_ns == before
    # a changed member definition is not mistaken for a finished one
    cfg2, _ = tiny_ensemble(tmp_path, "train.lr=0.01")
    third = train_ensemble(cfg2, tmp_path / "run", data, resume=True, progress=False)
    assert [m["status"] for m in third["members"]] == ["done"] * 3
    from semipose.skeletons import HUMANEVA15

    assert len(load_members(tmp_path / "run", cfg2, HUMANEVA15)) == 3


def test_resume_retrains_members_when_the_data_changes(tmp_path):
    cfg, data = tiny_ensemble(tmp_path, "ensemble.members=2", "ensemble.subset=full")
    train_ensemble(cfg, tmp_path / "run", data, progress=False)
    data.targets_3d = [t + 0.01 for t in data.targets_3d]  # e.g. new pseudo-labels
    again = train_ensemble(cfg, tmp_path / "run", data, resume=True, progress=False)
    assert [m["status"] for m in again["members"]] == ["done", "done"]


def test_members_can_start_from_given_weights(tmp_path):
    from semipose.lift.ensemble.runner import member_weights

    cfg, data = tiny_ensemble(tmp_path, "ensemble.members=1", "ensemble.subset=full")
    train_ensemble(cfg, tmp_path / "teacher", data, progress=False)
    init = member_weights(tmp_path / "teacher")
    # a learning rate of almost nothing: the student ends where it started
    still, _ = tiny_ensemble(tmp_path, "ensemble.members=1", "ensemble.subset=full", "train.lr=1e-12", "train.seed=99")
    train_ensemble(still, tmp_path / "student", data, progress=False, init=init)
    for k, v in _weights(tmp_path / "teacher", 0).items():
        if "running" not in k and v.is_floating_point():  # BatchNorm statistics move without a learning rate
            torch.testing.assert_close(_weights(tmp_path / "student", 0)[k], v, rtol=0, atol=1e-6)
    scratch, _ = tiny_ensemble(
        tmp_path, "ensemble.members=1", "ensemble.subset=full", "train.lr=1e-12", "train.seed=99"
    )
    train_ensemble(scratch, tmp_path / "scratch", data, progress=False)
    assert not torch.equal(
        _weights(tmp_path / "scratch", 0)["shrink.weight"], _weights(tmp_path / "teacher", 0)["shrink.weight"]
    )
    # the starting point is part of what a member is
    from semipose.lift.ensemble.runner import make_tasks

    assert make_tasks(still, data)[0].key() != make_tasks(still, data, init=init)[0].key()
