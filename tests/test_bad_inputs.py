"""Careless use: bad inputs get one clear line and exit status 2, and nothing a user has is changed."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import lift_train

from semipose.cli import main


def _tree_hash(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny lifting run on synthetic data, and the data."""
    tmp = tmp_path_factory.mktemp("bad")
    data = tmp / "data"
    assert main(["data", "synth3d", "-o", str(data), "--frames", "40"]) == 0
    run = tmp / "run"
    assert lift_train(run, data, "model.channels=16", "train.epochs=1") == 0
    return data, run


def _fails(argv, capsys, *expected: str, status: int = 2) -> str:
    capsys.readouterr()
    assert main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") <= 2, err
    for text in expected:
        assert text in err, err
    return err


def test_a_finished_run_is_not_overwritten(trained, capsys):
    data, run = trained
    before = _tree_hash(run)
    _fails(
        ["lift", "train", "-c", "synthetic", "-o", str(run), f"data.root={data}", "train.epochs=1"],
        capsys,
        f"{run}: the run directory is not empty",
        "--resume",
        "--overwrite",
    )
    assert _tree_hash(run) == before


def test_resume_with_an_override_that_changes_the_model_writes_nothing(trained, capsys):
    _, run = trained
    before = _tree_hash(run)
    _fails(
        ["lift", "train", "-o", str(run), "--resume", "model.channels=32"],
        capsys,
        "config.yaml: resuming would change model.channels: 16 -> 32",
    )
    assert _tree_hash(run) == before


def test_resume_and_overwrite_need_what_they_name(tmp_path, capsys):
    _fails(["lift", "train", "-o", str(tmp_path / "none"), "--resume"], capsys, "nothing to resume")
    _fails(["lift", "train", "--resume"], capsys, "--resume needs -o")
    assert not (tmp_path / "none").exists()


def test_a_failed_overwrite_restores_the_old_run(trained, tmp_path, capsys):
    data, run = trained
    copy = tmp_path / "run"
    import shutil

    shutil.copytree(run, copy)
    before = _tree_hash(copy)
    # the config is valid, the data folder is not: the failure comes after the old run was moved aside
    _fails(
        ["lift", "train", "-c", "synthetic", "-o", str(copy), "--overwrite", f"data.root={tmp_path / 'nowhere'}"],
        capsys,
        "file not found",
        "was restored",
    )
    assert _tree_hash(copy) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing left aside
    assert lift_train(copy, data, "--overwrite", "model.channels=8", "train.epochs=1") == 0
    assert "channels: 8" in (copy / "config.yaml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the replaced run is gone once the new one finished


@pytest.mark.parametrize(
    "override,field",
    [
        ("model.dropout=1.5", "model.dropout: 1.5 is not allowed"),
        ("model.channels=0", "model.channels: 0 is not allowed"),
        ("train.epochs=-5", "train.epochs: -5 is not allowed"),
        ("train.batch_size=0", "train.batch_size: 0 is not allowed"),
    ],
)
def test_out_of_range_config_values_are_refused_before_anything_is_written(tmp_path, capsys, override, field):
    _fails(["lift", "train", "-c", "synthetic", "-o", str(tmp_path / "r"), override], capsys, field)
    assert not (tmp_path / "r").exists()


def _keypoints(tmp_path: Path, name: str, kp, **extra) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"keypoints": kp, "image_size": [640, 480], **extra}))
    return path


def test_predict_refuses_to_overwrite_its_input(trained, tmp_path, capsys):
    _, run = trained
    src = _keypoints(tmp_path, "clip.json", np.full((30, 15, 2), 300.0).tolist())
    before = src.read_bytes()
    _fails(
        ["lift", "predict", str(run), str(src), "-o", str(tmp_path / "clip")],
        capsys,
        "clip.json: the output would replace an input",
    )
    assert src.read_bytes() == before and not (tmp_path / "clip.npz").exists()


def test_predict_fills_missing_keypoints_and_says_how_many(trained, tmp_path, capsys):
    _, run = trained
    rng = np.random.default_rng(0)
    kp = 300 + 50 * rng.standard_normal((30, 15, 2))
    kp[3, 4] = np.nan
    kp[10:12, 7, 0] = np.inf
    path = tmp_path / "holes.npz"
    np.savez(path, keypoints=kp, image_size=np.array([640, 480]))
    capsys.readouterr()
    assert main(["lift", "predict", str(run), str(path), "-o", str(tmp_path / "out")]) == 0
    assert "filled 3 missing" in capsys.readouterr().out
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["filled_keypoints"] == 3 and np.isfinite(np.array(doc["poses_3d"])).all()


def test_fill_interpolates_linearly_by_hand():
    from semipose.lift.predict import fill_missing_keypoints

    kp = np.zeros((5, 1, 2), np.float32)
    kp[:, 0, 0] = [0, np.nan, np.nan, 6, np.nan]
    kp[:, 0, 1] = 1
    filled, n = fill_missing_keypoints(kp)
    assert n == 3
    np.testing.assert_allclose(filled[:, 0, 0], [0, 2, 4, 6, 6])  # inside: linear; at the end: the nearest
    np.testing.assert_allclose(filled[:, 0, 1], 1)


@pytest.mark.parametrize(
    "content,expected",
    [
        ({"keypoints": np.full((30, 15, 2), np.nan).tolist()}, "joint 0 is missing (non-finite) in every frame"),
        ({"keypoints": []}, "field 'keypoints' has shape (0,)"),
        ({"keypoints": [[[1, 2]] * 15] * 3, "image_size": [0, 480]}, "image size 0x480"),
        ({"keypoints": [[[1, 2]] * 9] * 3}, "has 9 joints, the model expects 15"),
        ({"keypoints": [[["a", "b"]] * 15]}, "field 'keypoints' is not an array of numbers"),
        ({"keypoints": [[[1, 2]] * 15, [[1, 2]] * 14]}, "field 'keypoints' is not an array of numbers"),
        ({"points": []}, "expected an object with field 'keypoints'"),
    ],
)
def test_bad_keypoint_files_name_the_field(trained, tmp_path, capsys, content, expected):
    _, run = trained
    content.setdefault("image_size", [640, 480])
    path = tmp_path / "in.json"
    path.write_text(json.dumps(content).replace("NaN", "NaN"))
    _fails(["lift", "predict", str(run), str(path), "-o", str(tmp_path / "o")], capsys, str(path), expected)
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "o.json").exists()


def test_truncated_and_foreign_model_files_are_refused(trained, tmp_path, capsys):
    _, run = trained
    kp = _keypoints(tmp_path, "kp.json", np.full((10, 15, 2), 300.0).tolist())
    truncated = tmp_path / "model.pt"
    truncated.write_bytes((run / "model.pt").read_bytes()[:2000])
    _fails(
        ["lift", "predict", str(truncated), str(kp), "-o", str(tmp_path / "o")],
        capsys,
        "model.pt: not a readable model or checkpoint file",
    )
    import torch

    from semipose.engine.saved import model_record
    from semipose.skeletons import COCO17

    foreign = tmp_path / "pose2d.pt"
    torch.save(model_record("pose2d", {}, {"name": "hourglass", "stacks": 1}, COCO17), foreign)
    _fails(
        ["lift", "predict", str(foreign), str(kp), "-o", str(tmp_path / "o")],
        capsys,
        "pose2d.pt: a 2D heatmap model, not a 3D lifting model",
    )
    old = tmp_path / "old.pt"  # a model file of before the format
    torch.save({"model": {}, "model_config": {"name": "hourglass", "stacks": 1}, "skeleton": "coco17"}, old)
    _fails(
        ["lift", "predict", str(old), str(kp), "-o", str(tmp_path / "o")],
        capsys,
        "old.pt: not a semipose model file of this version",
        "train it again",
    )
    (tmp_path / "junk.npz").write_bytes(b"\x00" * 100)
    _fails(
        ["lift", "predict", str(run), str(tmp_path / "junk.npz"), "-o", str(tmp_path / "o")],
        capsys,
        "junk.npz: not a readable .npz",
    )
    assert not (tmp_path / "o.npz").exists()


def test_a_yaml_syntax_error_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  epochs: [1,\n")
    _fails(["lift", "train", "-c", str(cfg), "-o", str(tmp_path / "r")], capsys, "c.yaml: not valid YAML")


def test_atomic_writes_keep_the_usual_mode_and_clean_up(tmp_path):
    import os
    import time

    from semipose.io import STALE_TMP_S, atomic_write, atomic_write_text

    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # as open() would make it, not mkstemp's 0600
    stale = tmp_path / ".a.txt.abc123.tmp"
    stale.write_text("left by a killed writer")
    os.utime(stale, (time.time() - STALE_TMP_S - 5,) * 2)
    fresh = tmp_path / ".a.txt.def456.tmp"
    fresh.write_text("another writer, still writing")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "a.txt", boom)
    assert (tmp_path / "a.txt").read_text() == "x"  # the old content survives a failed write
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.txt.def456.tmp", "a.txt"]


def test_ensemble_evaluate_refuses_a_member_of_another_run(trained, tmp_path, capsys):
    data, _ = trained
    common = [
        "-c",
        "synthetic",
        f"data.root={data}",
        "ensemble.members=2",
        "ensemble.subset=full",
        "model.channels=8",
        "train.epochs=1",
        "train.progress=false",
        "train.precision=fp32",
    ]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["ensemble", "train", "-o", str(a), *common]) == 0
    assert main(["ensemble", "train", "-o", str(b), *common, "train.seed=99"]) == 0
    (a / "members" / "member_01.pt").write_bytes((b / "members" / "member_01.pt").read_bytes())
    before = _tree_hash(a)
    _fails(["ensemble", "evaluate", str(a)], capsys, "member_01.pt: trained for another config or data", "--resume")
    assert _tree_hash(a) == before
    capsys.readouterr()
    assert main(["ensemble", "train", "-o", str(a), "--resume"]) == 0  # the stale member is retrained
    assert main(["ensemble", "evaluate", str(a)]) == 0


@pytest.mark.parametrize(
    "argv,message",
    [
        (["data", "synthpose", "-o", "OUT", "--split", "../outside", "--images", "2"], "expected a plain name"),
        (["data", "synthpose", "-o", "OUT", "--images", "0"], "expected a positive integer, got 0"),
        (["data", "synthpose", "-o", "OUT", "--images", "-5"], "expected a positive integer, got -5"),
        (["data", "synth3d", "-o", "OUT", "--frames", "0"], "expected a positive integer, got 0"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"image_id": 1, "bbox": [10, 10, float("nan"), 50], "score": 0.9}, "'bbox' must be four finite numbers"),
        ({"image_id": 1, "bbox": [10, 10, 40], "score": 0.9}, "'bbox' must be four finite numbers"),
        ({"image_id": 1, "bbox": [10, 10, 40, 50], "score": "high"}, "'score' must be a finite number"),
        ({"image_id": 7, "bbox": [10, 10, 40, 50], "score": 0.9}, "has image_id 7, which"),
        ([1, 2, 3], "detection 0 must be an object"),
    ],
)
def test_bad_detection_entries_name_the_entry_and_field(tmp_path, entry, message):
    from PIL import Image

    from semipose.data.errors import DataError
    from semipose.pose2d.predict import instances_from_detections

    Image.new("RGB", (64, 64)).save(tmp_path / "a.png")
    (tmp_path / "info.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}]}))
    (tmp_path / "det.json").write_text(json.dumps([entry]).replace("NaN", "NaN"))
    with pytest.raises(DataError, match=message) as e:
        instances_from_detections(tmp_path / "det.json", tmp_path / "info.json", tmp_path, 17, 1.0)
    assert "det.json" in str(e.value)


def test_a_corrupt_image_is_a_data_error_naming_it(tmp_path):
    from semipose.data.errors import DataError, open_image

    png = tmp_path / "broken.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(DataError, match="broken.png: not a readable image"):
        open_image(png)


def test_training_curve_skips_an_epoch_without_steps(tmp_path):
    """A time budget can end before an epoch's first step (seen on a loaded machine): its log row has no
    loss, and the curve must still be drawn."""
    from semipose.plots import plot_training_curve

    log = tmp_path / "log.csv"
    log.write_text(
        "epoch,loss,lr,budget_fraction,train_s,mpjpe_mm,p_mpjpe_mm\n"
        "1,0.5,0.001,0.6,1.1,,\n2,,0.00001,1.0,1.8,80.0,60.0\n"
    )
    assert plot_training_curve(log, tmp_path / "curve.png").stat().st_size > 0
    log.write_text("epoch,loss,lr,budget_fraction,train_s,mpjpe_mm,p_mpjpe_mm\n1,,0.00001,1.0,1.8,80.0,60.0\n")
    assert plot_training_curve(log, tmp_path / "curve.png").stat().st_size > 0
