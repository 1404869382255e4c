"""`semipose ensemble predict`: every member lifts the user's 2D; the file holds their mean and each joint's
spread, and each member's poses are what `lift predict` gives with that member's file."""

import json

import numpy as np
from helpers import tiny_ensemble

from semipose.cli import main
from semipose.config import dump_yaml
from semipose.io import atomic_write_text
from semipose.lift.ensemble.runner import member_path, train_ensemble


def test_ensemble_predict_gives_mean_and_spread_of_the_members(tmp_path, capsys):
    cfg, data = tiny_ensemble(tmp_path, "ensemble.workers=1")
    run = tmp_path / "run"
    train_ensemble(cfg, run, data, progress=False)
    atomic_write_text(run / "config.yaml", dump_yaml(cfg))
    rng = np.random.default_rng(0)
    coco = rng.uniform(100, 500, (1, 17, 2)) + np.cumsum(rng.normal(0, 2, (25, 17, 2)), axis=0)
    results = [{"image_id": t, "keypoints": np.column_stack([k, np.ones(17)]).ravel().tolist(), "score": 1.0}
               for t, k in enumerate(coco)]  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(results))
    argv = ["ensemble", "predict", str(run), str(tmp_path / "results.json"), "-o", str(tmp_path / "out")]
    assert main([*argv, "--width", "640", "--height", "480"]) == 0
    assert "3 members; joint spread" in capsys.readouterr().out
    out = np.load(tmp_path / "out.npz")
    members, mean, spread = out["members"], out["poses_3d"], out["spread"]
    assert members.shape == (3, 25, 15, 3) and spread.shape == (25, 15) and (spread > 0).all()
    np.testing.assert_allclose(mean, members.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(spread, np.sqrt(((members - mean) ** 2).sum(-1).mean(0)), atol=1e-6)
    doc = json.loads((tmp_path / "out.json").read_text())
    assert len(doc["spread"]) == 25 and "members" not in doc and doc["input"]["members"] == 3
    one = ["lift", "predict", str(member_path(run, 1)), str(tmp_path / "results.json"), "-o", str(tmp_path / "m1")]
    assert main([*one, "--width", "640", "--height", "480"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "m1.npz")["poses_3d"], members[1], atol=1e-5)
