"""The ssl-3d study end to end at toy size: every arm, both 2D conditions, paired rows, resume."""

import json

import numpy as np

from semipose.data.synthetic import write_synthetic_humaneva
from semipose.studies import ssl_3d


def test_ssl3d_study_runs_every_arm_in_both_conditions(tmp_path):
    root = write_synthetic_humaneva(tmp_path / "data", frames=60, seed=0)
    cfg = ssl_3d.load(
        None,
        "quick",
        [
            f"data.root={root}",
            "model.channels=16",
            "model.filter_widths=[3,3]",
            "train.samples=3000",
            "train.batch_size=64",
            "train.progress=false",
            "train.precision=fp32",
            "ensemble.members=2",
            "ensemble.subset=full",  # as humaneva_ssl: every member sees all labeled frames
            "ensemble.workers=1",
            "ssl.labeled_fraction=0.3",
            "study.seeds=[0]",
            "study.conditions=[gt,detector]",
            "backprojection.warmup_fraction=0.3",
            f"study.arms=[{','.join(ssl_3d.ARMS)}]",
        ],
    )
    out = tmp_path / "study"
    result = ssl_3d.run(cfg, out, progress=False)
    rows = result["rows"]
    assert len(rows) == 2 * len(ssl_3d.ARMS)
    assert {r["condition"] for r in rows} == {"gt", "detector"}  # rows keep ids; the tables show labels
    for r in rows:
        assert np.isfinite(r["p_mpjpe_mean"]) and r["seeds_ahead"] in ("0/1", "1/1")
    lo = [r for r in rows if r["method"] == "labeled_only"]
    assert all(r["gain_vs_labeled_only_mean"] == 0.0 for r in lo)
    al = [r for r in rows if r["method"] in ("all_labeled", "all_labeled_from_teacher")]
    assert len(al) == 4 and all(abs(r["gap_closed"] - 1.0) < 1e-9 for r in al)  # a bound closes its own gap
    # students that start from the teacher are paired with the labeled-only run that starts there too
    for r in rows:
        from_teacher = r["method"].endswith("from_teacher")
        assert r["paired_with"] == ("labeled_only_from_teacher" if from_teacher else "labeled_only"), r
    # labeled-only is the teacher's first member (same data, seed and config): reused, not trained twice
    seed_dir = out / "gt" / "seed0"
    reused = seed_dir / "labeled_only/members/member_00.pt"
    assert reused.read_bytes() == (seed_dir / "teacher/members/member_00.pt").read_bytes()
    status = json.loads((seed_dir / "labeled_only/ensemble.json").read_text())
    assert status["members"][0]["status"] == "done (earlier run)"
    lo_ft = [r for r in rows if r["method"] == "labeled_only_from_teacher"]
    assert len(lo_ft) == 2 and all(r["gain_vs_labeled_only_mean"] == 0.0 for r in lo_ft)
    table = (out / "ssl_3d.md").read_text()
    assert "| ground-truth 2D | labeled only, from the teacher (baseline of the from-teacher arms) |" in table
    for name in (
        "ssl_3d.md",
        "ssl_3d.csv",
        "ssl_3d.json",
        "ssl_3d.png",
        "ssl_3d_validation_gt.png",
        "ssl_3d_validation_detector.png",
        "config.yaml",
        "run_info.json",
    ):
        assert (out / name).is_file(), name
    info = result["per_seed"]["gt"][0]["info"]
    assert info["pseudo_label_fused"]["p_mpjpe_mm"] > 0 and info["validation_frames"] > 0
    assert len(info["pseudo_label_fused_sparsification"]["error_mm"]) == 50
    # the synthetic 2D are exact projections: triangulation recovers the 3D, and no smoothing is chosen
    assert info["pseudo_label_triangulated"]["mpjpe_mm"] < 5.0
    assert info["triangulation"]["smooth_frames"] == 0.0 and info["triangulation"]["chosen_on_labeled_data"]
    det_info = result["per_seed"]["detector"][0]["info"]
    assert det_info["pseudo_label_triangulated"]["mpjpe_mm"] > info["pseudo_label_triangulated"]["mpjpe_mm"]
    # detector-like 2D changes every arm's input, so results differ between conditions
    gt, det = result["per_seed"]["gt"][0]["arms"], result["per_seed"]["detector"][0]["arms"]
    assert gt["labeled_only"]["p_mpjpe_mm"] != det["labeled_only"]["p_mpjpe_mm"]
    curves = ssl_3d.validation_curves(out / "gt" / "seed0", list(ssl_3d.ARMS))
    assert set(curves) == set(ssl_3d.ARMS) and all(pts[-1][0] == 1.0 for pts in curves.values())
    # a second run reads every finished arm back instead of training it again
    stamp = (out / "gt" / "seed0" / "labeled_only" / "metrics.json").stat().st_mtime_ns
    again = ssl_3d.run(cfg, out, progress=False)
    assert (out / "gt" / "seed0" / "labeled_only" / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "ssl_3d.json").read_text())["rows"] == again["rows"]


def test_every_arm_is_declared_with_rules_the_runner_knows():
    """The arms are data: each names a known rule for its unlabeled frames, its recipe and its start, and pairs
    with arms of the study."""
    rules = {"none", "truth", "mono", "fused", "fused_weighted", "noisy_fused", "triangulated"}
    for name, arm in ssl_3d.ARMS.items():
        assert arm.unlabeled in rules and arm.recipe in ("supervised", "backprojection"), name
        assert arm.init in ("scratch", "teacher") and {arm.baseline, arm.bound} <= set(ssl_3d.ARMS), name
        assert (arm.init == "teacher") == name.endswith("from_teacher"), name
