"""End to end: real HumanEva-I training lowers the error; the CLI trains, resumes, evaluates, predicts."""

import json

import numpy as np
import torch
import yaml
from helpers import lift_train

from semipose.cli import main
from semipose.data.cameras import image_coordinates
from semipose.lift.config import load_lift_config
from semipose.lift.data import load_split
from semipose.lift.evaluate import evaluate_model
from semipose.lift.train import train
from semipose.models.tcn import TCNConfig, build_tcn


def test_short_training_on_real_humaneva_lowers_error(shared_data, tmp_path):
    cfg = load_lift_config(
        None,
        [
            f"data.root={shared_data / 'humaneva'}",
            "model.channels=128",
            "train.epochs=5",
            "train.batch_size=256",
            "train.lr=3e-3",
            "train.progress=false",
        ],
    )
    test_seqs, skel = load_split(cfg.data, cfg.data.subjects_test)
    torch.manual_seed(cfg.train.seed)
    untrained = build_tcn(TCNConfig([3, 3, 3], channels=128), 15)
    before = evaluate_model(untrained, test_seqs, skel)
    after = train(cfg, tmp_path / "run")
    assert after["mpjpe_mm"] < 0.5 * before["mpjpe_mm"]
    assert after["p_mpjpe_mm"] < 0.7 * before["p_mpjpe_mm"]
    assert after["p_mpjpe_mm"] < 90.0
    assert len(after["cells"]) == 9  # 3 actions x 3 subjects
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "cells"):
        assert key in saved
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["seed"] == cfg.train.seed and info["packages"]["torch"] and info["git_commit"]
    assert info["train_frames"] == 10041


def test_cli_train_resume_evaluate_predict(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["data", "synth3d", "-o", str(data), "--frames", "60"]) == 0
    run = tmp_path / "run"
    common = [f"data.root={data}", "model.channels=32", "train.progress=false", "train.eval_every=1"]
    assert main(["lift", "train", "-c", "synthetic", "-o", str(run), "train.epochs=2", *common]) == 0
    for name in (
        "config.yaml",
        "run_info.json",
        "log.csv",
        "checkpoint.pt",
        "model.pt",
        "metrics.json",
        "metrics.md",
        "metrics.csv",
    ):
        assert (run / name).is_file(), name
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 2

    # resume to 3 epochs: only the third is trained
    assert main(["lift", "train", "-o", str(run), "--resume", "train.epochs=3"]) == 0
    log = (run / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1", "2", "3"]

    assert main(["lift", "evaluate", str(run)]) == 0
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert np.isfinite(metrics["p_mpjpe_mm"])

    # predict from JSON and from npz (pixels), with the image size in the file or on the command line
    seqs, _ = load_split(load_lift_config(run / "config.yaml").data, ["Validate/S1"])
    px = image_coordinates(seqs[0].keypoints_2d, 640, 480)
    (tmp_path / "kp.json").write_text(json.dumps({"keypoints": px.tolist(), "image_size": [640, 480]}))
    assert main(["lift", "predict", str(run), str(tmp_path / "kp.json"), "-o", str(tmp_path / "out.json")]) == 0
    out = np.load(tmp_path / "out.npz")["poses_3d"]
    assert out.shape == (60, 15, 3)
    doc = json.loads((tmp_path / "out.json").read_text())
    assert len(doc["poses_3d"]) == 60 and doc["skeleton"] == "humaneva15"
    np.savez(tmp_path / "kp.npz", keypoints=px)
    assert (
        main(
            [
                "lift",
                "predict",
                str(run / "model.pt"),
                str(tmp_path / "kp.npz"),
                "-o",
                str(tmp_path / "o2"),
                "--width",
                "640",
                "--height",
                "480",
            ]
        )
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "o2.npz")["poses_3d"], out, atol=1e-5)

    # bad input: a clear error naming the file and what was expected
    np.savez(tmp_path / "bad.npz", points=px)
    capsys.readouterr()
    assert main(["lift", "predict", str(run), str(tmp_path / "bad.npz"), "-o", str(tmp_path / "o3")]) == 2
    assert "bad.npz: missing key 'keypoints'" in capsys.readouterr().err
    assert main(["lift", "predict", str(run), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "o3")]) == 2
    assert "pass --width and --height" in capsys.readouterr().err
    assert main(["lift", "train", "-c", "synthetic", "-o", str(tmp_path / "r2"), "train.epochs=zero"]) == 2
    assert "train.epochs: expected an integer" in capsys.readouterr().err


def test_demo_runs(tmp_path, capsys):
    assert (
        main(
            [
                "demo",
                "-o",
                str(tmp_path),
                "train.samples=2000",
                "model.channels=16",
                "train.progress=false",
                "ensemble.members=2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| stage |" in out and "pseudo-label error" in out and "Results in" in out
    for name in (
        "rounds.md",
        "rounds.csv",
        "rounds.png",
        "poses.png",
        "config.yaml",
        "run_info.json",
        "ensemble_labeled/uncertainty.png",
        "ensemble_labeled/metrics.md",
        "round_1/ensemble.json",
    ):
        assert (tmp_path / name).is_file(), name


def test_cli_train_under_a_time_budget_finishes_and_evaluates(tmp_path):
    data = tmp_path / "data"
    assert main(["data", "synth3d", "-o", str(data), "--frames", "60"]) == 0
    run = tmp_path / "run"
    budget_min = 0.03  # 1.8 s of training
    assert lift_train(run, data, "model.channels=32", "train.epochs=500", f"train.minutes={budget_min}") == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(metrics["p_mpjpe_mm"]) and metrics["budget_minutes"] == budget_min
    # training stopped at the budget (plus the step under way), long before the 500 planned epochs
    assert budget_min * 60 <= metrics["train_wall_s"] < budget_min * 60 + 10.0
    assert metrics["eval_wall_s"] > 0 and metrics["epochs"] < 500
    log = (run / "log.csv").read_text().splitlines()
    assert "budget_fraction" in log[0] and len(log) - 1 == metrics["epochs"]
    info = json.loads((run / "run_info.json").read_text())
    assert info["precision"]["requested"] == "fp32" and info["precision"]["used"] == "fp32"
    assert info["precision"]["reason"] == "forced by train.precision"
    # resumed, a spent budget trains no further and the run stays finished
    before = (run / "log.csv").read_text()
    assert main(["lift", "train", "-o", str(run), "--resume"]) == 0
    assert (run / "log.csv").read_text() == before
