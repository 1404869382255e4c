"""2D pipeline end to end on real COCO images: train a few steps, evaluate, and check our AP against pycocotools."""

import json

import numpy as np
import torch

from semipose.codecs.heatmap import HeatmapCodec
from semipose.data.coco import load_coco_keypoints
from semipose.data.crops import CropDataset
from semipose.methods.supervised_pose2d import predict_people
from semipose.metrics.coco import pycocotools_keypoint_eval
from semipose.models.heatmap_net import build_heatmap_net
from semipose.pose2d.config import load_pose2d_config
from semipose.pose2d.evaluate import evaluate_model
from semipose.pose2d.train import train


def _coco_mini(coco):
    """coco_mini's train and val splits at 64x64 with a narrow hourglass: the overrides the tests share."""
    return [
        f"data.train_ann={coco}/annotations/person_keypoints_train2017.json",
        f"data.train_images={coco}/train2017",
        f"data.val_ann={coco}/annotations/person_keypoints_val2017.json",
        f"data.val_images={coco}/val2017",
        "data.input_size=[64,64]",
        "model.width=16",
    ]


def test_train_and_evaluate_on_coco_mini(shared_data, tmp_path):
    coco = shared_data / "coco_mini"
    cfg = load_pose2d_config(
        None,
        [
            *_coco_mini(coco),
            "train.epochs=2",
            "train.batch_size=16",
            "train.progress=false",
        ],
    )
    metrics = train(cfg, tmp_path / "run")
    for key in ("pck@0.2", "coco_AP", "coco_AR", "train_wall_s"):
        assert key in metrics and np.isfinite(metrics[key])
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 3 and float(log[2].split(",")[2]) < float(log[1].split(",")[2])  # loss fell
    assert json.loads((tmp_path / "run" / "run_info.json").read_text())["train_instances"] == 86
    # the same run directory as a lifting run's: metrics.{json,md,csv} and a training curve
    table = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert table[0] == "metric,value" and f"pck@0.2,{metrics['pck@0.2']:.4f}" in table
    assert "| pck@0.2 |" in (tmp_path / "run" / "metrics.md").read_text()
    assert (tmp_path / "run" / "training_curve.png").stat().st_size > 1000

    # our COCO AP on these predictions is pycocotools' AP
    people, skel, doc = load_coco_keypoints(
        coco / "annotations" / "person_keypoints_val2017.json", coco / "val2017", 1.0
    )
    data = CropDataset(people, skel, HeatmapCodec((64, 64), (16, 16)), "none")
    torch.manual_seed(0)
    model = build_heatmap_net(cfg.model, 17)
    model.load_state_dict(torch.load(tmp_path / "run" / "model.pt", weights_only=True)["model"])
    ours = evaluate_model(model, data, doc)
    kp, sc = predict_people(model, data)
    results = [
        {
            "image_id": p.image_id,
            "category_id": 1,
            "keypoints": np.column_stack([k, s]).ravel().tolist(),
            "score": float(s[s > 0.2].mean()) if (s > 0.2).any() else 0.0,
        }
        for p, k, s in zip(people, kp, sc)
    ]
    ref = pycocotools_keypoint_eval(doc, results)
    assert abs(ours["coco_AP"] - ref["AP"]) < 1e-4 and abs(ours["coco_AR"] - ref["AR"]) < 1e-4


def test_cli_train_and_evaluate(shared_data, tmp_path, capsys):
    from semipose.cli import main

    coco = shared_data / "coco_mini"
    common = [
        *_coco_mini(coco),
        "train.epochs=1",
        "train.batch_size=16",
        "train.progress=false",
        "train.precision=fp32",
    ]
    assert main(["pose2d", "train", "-o", str(tmp_path / "run"), *common]) == 0
    assert main(["pose2d", "evaluate", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "evaluation" / "metrics.json").read_text())
    assert 0.0 <= saved["pck@0.2"] <= 1.0 and "coco_AP" in saved
    assert (tmp_path / "run" / "evaluation" / "metrics.csv").read_text().startswith("metric,value\n")
    assert "pck@0.2" in capsys.readouterr().out


def test_cli_pose2d_resume_equals_an_uninterrupted_run_and_refuses_a_corrupt_checkpoint(shared_data, tmp_path, capsys):
    import torch

    from semipose.cli import main

    coco = shared_data / "coco_mini"
    common = [
        *_coco_mini(coco),
        "train.batch_size=16",
        "train.progress=false",
        "train.precision=fp32",
        "train.threads=1",
        "train.memory_format=channels_last",  # checkpoints of channels-last weights resume exactly too
    ]
    assert main(["pose2d", "train", "-o", str(tmp_path / "full"), "train.epochs=2", *common]) == 0
    assert json.loads((tmp_path / "full" / "run_info.json").read_text())["memory_format"]["used"] == "channels_last"
    assert main(["pose2d", "train", "-o", str(tmp_path / "cut"), "train.epochs=1", *common]) == 0
    assert main(["pose2d", "train", "-o", str(tmp_path / "cut"), "--resume", "train.epochs=2"]) == 0
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    capsys.readouterr()
    assert main(["pose2d", "train", "-o", str(tmp_path / "cut"), "--resume", "train.epochs=3"]) == 2
    assert "checkpoint.pt: not a readable model or checkpoint file" in capsys.readouterr().err


def test_cli_predict_and_evaluate_with_detections(shared_data, tmp_path):
    """Predict on real images (whole images, and boxes from MMPose's real COCO detection json), overlays
    written; AP with detected boxes through our evaluator equals pycocotools on the same results."""
    from PIL import Image

    from semipose.cli import main
    from semipose.metrics.coco import pycocotools_keypoint_eval

    coco, fix = shared_data / "coco_mini", shared_data / "mmpose_fixtures" / "coco"
    assert (
        main(
            [
                "pose2d",
                "train",
                "-o",
                str(tmp_path / "run"),
                f"data.train_ann={coco}/annotations/person_keypoints_train2017.json",
                f"data.train_images={coco}/train2017",
                f"data.val_ann={fix}/test_coco.json",
                f"data.val_images={fix}",
                "data.input_size=[64,64]",
                "model.width=16",
                "train.epochs=1",
                "train.batch_size=16",
                "train.progress=false",
                "train.precision=fp32",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "pose2d",
                "predict",
                str(tmp_path / "run"),
                "--images",
                str(coco / "val2017"),
                "-o",
                str(tmp_path / "whole"),
            ]
        )
        == 0
    )
    results = json.loads((tmp_path / "whole" / "keypoints.json").read_text())
    images = sorted((coco / "val2017").glob("*.jpg"))
    assert len(results) == len(images) and {r["image_id"] for r in results} == {int(p.stem) for p in images}
    assert all(len(r["keypoints"]) == 51 for r in results)
    overlay = Image.open(tmp_path / "whole" / "overlays" / f"{images[0].stem}.png")
    assert overlay.size == Image.open(images[0]).size
    assert (tmp_path / "whole" / "run_info.json").is_file()
    # predictions never land in the image folder or over the run (nothing there would be replaced)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / images[0].name).write_bytes(images[0].read_bytes())
    (tmp_path / "imgs" / "keypoints.json").write_text("mine")
    assert (
        main(
            [
                "pose2d",
                "predict",
                str(tmp_path / "run"),
                "--images",
                str(tmp_path / "imgs"),
                "-o",
                str(tmp_path / "imgs"),
            ]
        )
        == 2
    )
    assert (tmp_path / "imgs" / "keypoints.json").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "imgs").iterdir()) == sorted([images[0].name, "keypoints.json"])

    det = fix / "test_coco_det_AP_H_56.json"
    assert (
        main(
            [
                "pose2d",
                "predict",
                str(tmp_path / "run"),
                "--images",
                str(fix),
                "--detections",
                str(det),
                "--image-info",
                str(fix / "test_coco.json"),
                "-o",
                str(tmp_path / "det"),
            ]
        )
        == 0
    )
    det_results = json.loads((tmp_path / "det" / "keypoints.json").read_text())
    assert 0 < len(det_results) <= 118 and len(list((tmp_path / "det" / "overlays").glob("*.png"))) == 4

    assert main(["pose2d", "evaluate", str(tmp_path / "run"), "--detections", str(det)]) == 0
    out = tmp_path / "run" / "evaluation_detections"
    ours = json.loads((out / "metrics.json").read_text())
    ref = pycocotools_keypoint_eval(
        json.loads((fix / "test_coco.json").read_text()), json.loads((out / "keypoints.json").read_text())
    )
    assert abs(ours["coco_AP"] - ref["AP"]) < 1e-4 and abs(ours["coco_AR"] - ref["AR"]) < 1e-4


def test_oks_nms_hand_case():
    from semipose.metrics.coco import oks
    from semipose.pose2d.predict import oks_nms

    sigmas = np.full(2, 0.1)
    a = np.array([[10.0, 10.0], [20.0, 20.0]])
    # OKS by the formula: exp(-d^2 / (2 * area * (2 sigma)^2)) averaged; d = 1 px, area 100: exp(-1/8)
    assert abs(oks(a, a + [1.0, 0.0], 100.0, sigmas) - np.exp(-1 / 8)) < 1e-9
    pose = lambda p, s, img=1: {
        "image_id": img,
        "keypoints": np.column_stack([p, [1, 1]]).ravel().tolist(),
        "score": s,
        "area": 100.0,
    }
    results = [pose(a, 0.5), pose(a + 0.5, 0.9), pose(a + 30, 0.7), pose(a, 0.1, img=2)]
    # the near-duplicate with the lower score goes; a far pose and another image's pose stay
    assert oks_nms(results, sigmas, 0.9) == [1, 2, 3]


def test_detection_reader_errors(shared_data, tmp_path):
    import pytest

    from semipose.data.errors import DataError
    from semipose.pose2d.predict import instances_from_detections

    fix = shared_data / "mmpose_fixtures" / "coco"
    bad = tmp_path / "dets.json"
    bad.write_text(json.dumps([{"image_id": 785, "bbox": [0, 0, 10, 10]}]))
    with pytest.raises(DataError, match=r"dets.json: detection 0 lacks 'score'"):
        instances_from_detections(bad, fix / "test_coco.json", fix, 17, 1.0)
    bad.write_text(json.dumps([{"image_id": 12345, "bbox": [0, 0, 10, 10], "score": 1.0}]))
    with pytest.raises(DataError, match="image_id 12345"):
        instances_from_detections(bad, fix / "test_coco.json", fix, 17, 1.0)
    bad.write_text(json.dumps([{"image_id": 785, "bbox": [0, 0, -1, 10], "score": 1.0}]))
    with pytest.raises(DataError, match="positive size"):
        instances_from_detections(bad, fix / "test_coco.json", fix, 17, 1.0)
    people, scores = instances_from_detections(
        fix / "test_coco_det_AP_H_56.json", fix / "test_coco.json", fix, 17, 0.75, min_score=0.5
    )
    assert people and all(s >= 0.5 for s in scores)
    assert all(abs(p.scale[0] / p.scale[1] - 0.75) < 1e-5 for p in people)


def test_train_on_mpii_layout_with_pckh(shared_data, tmp_path):
    """MPII's json (joints, joints_vis, center, scale) trains and evaluates; with head boxes, PCKh@0.5."""
    mpii = shared_data / "mmpose_fixtures" / "mpii"
    entries = json.loads((mpii / "test_mpii.json").read_text())
    for e in entries:  # a head box around upper neck (8) and head top (9), as MPII's annotators drew them
        top, neck = np.asarray(e["joints"][9]), np.asarray(e["joints"][8])
        half = np.linalg.norm(top - neck) / 2 + 1
        mid = (top + neck) / 2
        e["headbox"] = [(mid - half).tolist(), (mid + half).tolist()]
    ann = tmp_path / "mpii_heads.json"
    ann.write_text(json.dumps(entries))
    cfg = load_pose2d_config(
        None,
        [
            "data.format=mpii",
            f"data.train_ann={mpii}/test_mpii.json",
            f"data.train_images={mpii}",
            f"data.val_ann={ann}",
            f"data.val_images={mpii}",
            "data.input_size=[64,64]",
            "model.width=16",
            "train.epochs=1",
            "train.batch_size=4",
            "train.progress=false",
            "train.precision=fp32",
        ],
    )
    metrics = train(cfg, tmp_path / "run")
    assert 0.0 <= metrics["pckh@0.5"] <= 1.0 and len(metrics["pckh_per_joint@0.5"]) == 16
    assert "coco_AP" not in metrics
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert saved["skeleton"]["name"] == "mpii16" or len(saved["skeleton"]["joints"]) == 16


def test_2d_train_keys_reach_the_optimizer_and_old_configs_still_load(shared_data, tmp_path):
    """amsgrad, lr and lr_final act on the 2D optimizer; the lifting-only keys that 2D configs once
    carried (without effect) are gone from the 2D section, read from old files and refused as overrides."""
    import pytest

    from semipose.config import ConfigError, to_dict
    from semipose.engine import load_checkpoint

    coco = shared_data / "coco_mini"
    cfg = load_pose2d_config(
        None,
        [
            *_coco_mini(coco),
            "train.epochs=2",
            "train.batch_size=32",
            "train.progress=false",
            "train.precision=fp32",
            "train.amsgrad=true",
            "train.lr=2e-3",
            "train.lr_final=4e-4",
        ],
    )
    train(cfg, tmp_path / "run")
    group = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["recipe"]["optimizer"]["param_groups"][0]
    assert group["amsgrad"] is True and group["lr"] == pytest.approx(4e-4)
    assert load_pose2d_config(None, []).train.amsgrad is False  # the 2D default: plain Adam, as before

    lifting_only = {
        "bn_momentum",
        "bn_momentum_final",
        "bn_decay_epochs",
        "flip_augment",
        "val_fraction",
        "val_every",
        "patience",
    }
    assert not lifting_only & set(to_dict(cfg)["train"])
    old = tmp_path / "old.yaml"
    old.write_text("train:\n  epochs: 3\n  bn_momentum: 0.1\n  flip_augment: true\n  patience: 0\n")
    assert load_pose2d_config(old, []).train.epochs == 3
    with pytest.raises(ConfigError, match="bn_momentum"):
        load_pose2d_config(None, ["train.bn_momentum=0.2"])
