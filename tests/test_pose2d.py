"""2D pipeline end to end on real COCO images: train a few steps, evaluate, and check our AP against pycocotools."""
import json

import numpy as np
import torch

from semipose.pose2d import CropDataset, evaluate_pose2d, heatmap_loss, load_pose2d_config, predict_people, train_pose2d
from semipose.codecs.heatmap import HeatmapCodec
from semipose.data.coco import load_coco_keypoints
from semipose.metrics.coco import pycocotools_keypoint_eval


def test_heatmap_loss_weights_joints():
    pred = torch.zeros(1, 2, 2, 4, 4)
    target = torch.ones(1, 2, 4, 4)
    # two stacks, joint 1 weighted out: 0.5 * mean over (2 stacks x 2 joints x 16) of [1 for joint 0] x 2 stacks
    assert float(heatmap_loss(pred, target, torch.tensor([[1.0, 0.0]]))) == 0.5 * 0.5 * 2


def test_train_and_evaluate_on_coco_mini(shared_data, tmp_path):
    coco = shared_data / "coco_mini"
    cfg = load_pose2d_config(None, [
        f"data.train_ann={coco}/annotations/person_keypoints_train2017.json", f"data.train_images={coco}/train2017",
        f"data.val_ann={coco}/annotations/person_keypoints_val2017.json", f"data.val_images={coco}/val2017",
        "data.input_size=[64,64]", "model.width=16", "train.epochs=2", "train.batch_size=16", "train.progress=false"])
    metrics = train_pose2d(cfg, tmp_path / "run")
    for key in ("pck@0.2", "coco_AP", "coco_AR", "train_wall_s"):
        assert key in metrics and np.isfinite(metrics[key])
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 3 and float(log[2].split(",")[2]) < float(log[1].split(",")[2])  # loss fell
    assert json.loads((tmp_path / "run" / "run_info.json").read_text())["train_instances"] == 86

    # our COCO AP on these predictions is pycocotools' AP
    people, skel, doc = load_coco_keypoints(coco / "annotations" / "person_keypoints_val2017.json", coco / "val2017", 1.0)
    data = CropDataset(people, skel, HeatmapCodec((64, 64), (16, 16)), "none")
    from semipose.pose2d import build_model
    torch.manual_seed(0)
    model = build_model(cfg.model, 17)
    model.load_state_dict(torch.load(tmp_path / "run" / "model.pt", weights_only=True)["model"])
    ours = evaluate_pose2d(model, data, doc)
    kp, sc = predict_people(model, data)
    results = [{"image_id": p.image_id, "category_id": 1, "keypoints": np.column_stack([k, s]).ravel().tolist(),
                "score": float(s[s > 0.2].mean()) if (s > 0.2).any() else 0.0} for p, k, s in zip(people, kp, sc)]
    ref = pycocotools_keypoint_eval(doc, results)
    assert abs(ours["coco_AP"] - ref["AP"]) < 1e-4 and abs(ours["coco_AR"] - ref["AR"]) < 1e-4


def test_cli_train_and_evaluate(shared_data, tmp_path, capsys):
    from semipose.cli import main

    coco = shared_data / "coco_mini"
    common = [f"data.train_ann={coco}/annotations/person_keypoints_train2017.json", f"data.train_images={coco}/train2017",
              f"data.val_ann={coco}/annotations/person_keypoints_val2017.json", f"data.val_images={coco}/val2017",
              "data.input_size=[64,64]", "model.width=16", "train.epochs=1", "train.batch_size=16",
              "train.progress=false", "train.precision=fp32"]
    assert main(["pose2d", "train", "-o", str(tmp_path / "run"), *common]) == 0
    assert main(["pose2d", "evaluate", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "evaluation" / "metrics.json").read_text())
    assert 0.0 <= saved["pck@0.2"] <= 1.0 and "coco_AP" in saved
    assert "pck@0.2" in capsys.readouterr().out
