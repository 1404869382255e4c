"""Semi-supervised lifting: back-projection conventions and runs, pseudo-label rounds, ensemble CLI, studies."""

import json

import numpy as np
import torch

from semipose.cli import main
from semipose.data.splits import cut, split_labeled
from semipose.data.windows import flip_2d, flip_3d
from semipose.lift.backprojection import train_backprojection
from semipose.lift.config import LiftConfig, load_lift_config, load_ssl_config
from semipose.lift.data import load_split
from semipose.lift.pseudo_labels import run_pseudo_label_rounds
from semipose.methods.backprojection import flip_intrinsics, project_linear
from semipose.skeletons import HUMANEVA15


def test_reprojection_matches_the_real_2d(shared_data):
    """Camera-space 3D through the normalised intrinsics gives VideoPose3D's normalised 2D."""
    cfg = LiftConfig()
    cfg.data.root = str(shared_data / "humaneva")
    seqs, _ = load_split(cfg.data, ["Validate/S1", "Train/S2"])
    for s in seqs:
        cam = torch.from_numpy(np.repeat(s.camera.intrinsics_normalized()[None], s.num_frames, 0))
        proj = project_linear(torch.from_numpy(s.positions_3d)[:, None], cam)[:, 0].numpy()
        err_px = np.linalg.norm(proj - s.keypoints_2d, axis=-1) * 320  # normalised units -> pixels
        # the intrinsics are a least-squares estimate from the Train split: good to a few pixels
        assert np.median(err_px) < 3.0, (s.subject, s.action, s.camera_index)
        # the flipped copy stays consistent: mirrored 3D through mirrored intrinsics = mirrored 2D
        fcam = torch.from_numpy(flip_intrinsics(cam.numpy()))
        fproj = project_linear(torch.from_numpy(flip_3d(s.positions_3d, HUMANEVA15))[:, None], fcam)[:, 0].numpy()
        np.testing.assert_allclose(fproj, flip_2d(proj, HUMANEVA15), atol=1e-5)


def test_projection_hand_computed():
    pts = torch.tensor([[[[1.0, -2.0, 4.0], [1.0, 0.0, 0.001]]]])
    cam = torch.tensor([[2.0, 3.0, 0.1, -0.2]])
    out = project_linear(pts, cam)[0, 0].numpy()
    np.testing.assert_allclose(out[0], [2 * 0.25 + 0.1, 3 * -0.5 - 0.2])
    np.testing.assert_allclose(out[1], [2 * 1.0 + 0.1, -0.2])  # x/z clamped to 1 near zero depth


def _synthetic(tmp_path):
    assert main(["data", "synth3d", "-o", str(tmp_path / "data"), "--frames", "80"]) == 0
    return tmp_path / "data"


TINY = [
    "model.channels=32",
    "model.filter_widths=[3,3]",
    "train.batch_size=64",
    "train.lr=3e-3",
    "train.progress=false",
]


def test_backprojection_short_run(tmp_path):
    data = _synthetic(tmp_path)
    cfg = load_lift_config(None, [f"data.root={data}", "train.epochs=3", *TINY])
    train, skel = load_split(cfg.data, cfg.data.subjects_train)
    test, _ = load_split(cfg.data, cfg.data.subjects_test)
    lab, unl = split_labeled(train, 0.2)
    metrics = train_backprojection(
        cfg, cut(train, lab), cut(train, unl), test, skel, tmp_path / "bp", warmup_fraction=0.34
    )
    assert np.isfinite(metrics["p_mpjpe_mm"])
    log = (tmp_path / "bp" / "log.csv").read_text().splitlines()
    header = log[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in log[1:]]
    assert rows[0]["loss_2d"] == "" and float(rows[1]["loss_2d"]) > 0 and float(rows[2]["loss_bones"]) >= 0
    assert float(rows[2]["loss_3d"]) < float(rows[0]["loss_3d"])


def _rounds(tmp_path, *overrides):
    """Pseudo-label rounds on synthetic motion: 2 tiny members, 30% labeled, plus ``overrides``."""
    cfg = load_ssl_config(
        None, [f"data.root={_synthetic(tmp_path)}", *TINY, "ensemble.members=2", "ssl.labeled_fraction=0.3", *overrides]
    )
    return run_pseudo_label_rounds(cfg, tmp_path / "ssl", progress=False)


def test_pseudo_label_rounds_small(tmp_path):
    out = _rounds(
        tmp_path,
        "train.samples=3000",
        "ensemble.subset=disjoint",
        "ssl.rounds=[0.5,1.0]",
        "ssl.order=uncertainty",
        "ssl.recompute=true",
    )
    assert [r["id"] for r in out["rows"]] == ["labeled_only", "ensemble_labeled", "round_1", "round_2", "all_labeled"]
    assert "id" not in (tmp_path / "ssl" / "rounds.csv").read_text().splitlines()[0].split(",")
    stages = [r["stage"] for r in out["rows"]]
    assert stages[0] == "single model, labeled only" and stages[1].startswith("ensemble of 2")
    assert (
        stages[2].startswith("round 1")
        and stages[3].startswith("round 2")
        and stages[-1].startswith("single model, all")
    )
    assert len(out["pseudo_label_error"]) == 2 and out["pseudo_label_error"][0]["mpjpe_mm"] > 0
    assert out["labeled_frames"] + out["unlabeled_frames"] == 3 * 3 * 3 * 80
    assert np.isfinite(out["gap_closed_p_mpjpe"])
    assert (tmp_path / "ssl" / "rounds.md").is_file() and (tmp_path / "ssl" / "round_2" / "members").is_dir()


def test_ensemble_cli_and_size_study(tmp_path, capsys):
    data = _synthetic(tmp_path)
    common = [f"data.root={data}", "train.epochs=1", *TINY, "ensemble.members=2", "ensemble.subset=overlap"]
    assert main(["ensemble", "train", "-o", str(tmp_path / "ens"), "--workers", "1", *common]) == 0
    metrics = json.loads((tmp_path / "ens" / "metrics.json").read_text())
    assert metrics["num_members"] == 2 and len(metrics["members"]) == 2
    assert set(metrics["uncertainty"]) >= {"spearman", "ause", "calibration_error"}
    assert (tmp_path / "ens" / "uncertainty.png").is_file()
    assert main(["ensemble", "evaluate", str(tmp_path / "ens")]) == 0
    capsys.readouterr()
    assert main(["study", "ensemble-size", "-o", str(tmp_path / "study"), *common]) == 0
    out = capsys.readouterr().out
    assert "| members |" in out
    rows = json.loads((tmp_path / "study" / "ensemble_size.json").read_text())["rows"]
    assert [r["members"] for r in rows] == [1, 2]
    assert (tmp_path / "study" / "ensemble_size.png").is_file()


def test_students_from_the_teacher_are_compared_with_baselines_from_the_teacher(tmp_path):
    """A student that starts from the teacher trains twice; its baselines must too, or the second
    training counts as the unlabeled data's gain (the demo's former +30%)."""
    import torch

    from semipose.lift.ensemble.runner import member_path

    out = _rounds(
        tmp_path,
        "train.samples=2000",
        "ensemble.subset=full",
        "ssl.rounds=[1.0]",
        "ssl.fusion=triangulate",
        "ssl.student_init=teacher",
    )
    stages = [r["stage"] for r in out["rows"]]
    assert stages[0] == "single model, labeled only, from the teacher"
    assert stages[-1] == "single model, all labeled (true 3D), from the teacher"
    assert out["pseudo_labels"] == "the views' 2D triangulated" and out["pseudo_label_error"][0]["mpjpe_mm"] < 5
    teacher = torch.load(member_path(tmp_path / "ssl" / "ensemble_labeled", 0), weights_only=True)["key"]
    baseline = torch.load(member_path(tmp_path / "ssl" / "labeled_only", 0), weights_only=True)["key"]
    assert teacher != baseline  # the baseline is a second training, not the teacher read back
    status = json.loads((tmp_path / "ssl" / "labeled_only" / "ensemble.json").read_text())
    assert status["members"][0]["status"] == "done"
