"""PCK, PCKh and COCO AP of a 2D model on a validation set (optional flip test), and of a finished run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import dump_yaml
from ..data.coco import PersonInstance
from ..data.crops import CropDataset
from ..engine import prepare_run_dir
from ..methods.supervised_pose2d import predict_people
from ..metrics.coco import coco_keypoint_eval
from ..metrics.pck import pck, pckh
from ..reports import write_metrics
from .data import load_people, make_codec
from .model_file import load_run


def coco_results(people: list[PersonInstance], kp: np.ndarray, sc: np.ndarray) -> list[dict]:
    """COCO keypoint results of one prediction per person (its box was given): a person's score is the
    mean of its joints' scores above 0.2, as the top-down reference code rescores."""
    return [
        {
            "image_id": p.image_id,
            "category_id": 1,
            "keypoints": np.column_stack([k, s]).ravel().tolist(),
            "score": float(s[s > 0.2].mean()) if (s > 0.2).any() else 0.0,
        }
        for p, k, s in zip(people, kp, sc)
    ]


def evaluate_model(model: torch.nn.Module, data: CropDataset, gt_doc: dict | None, flip_test: bool = True) -> dict:
    kp, sc = predict_people(model, data, flip_test)
    gt = np.stack([p.keypoints for p in data.people])
    boxes = np.stack([p.bbox for p in data.people])
    at02 = pck(kp, gt[..., :2], gt[..., 2], boxes, 0.2)
    out: dict[str, Any] = {
        "pck@0.2": at02["mean"],
        "pck@0.1": pck(kp, gt[..., :2], gt[..., 2], boxes, 0.1)["mean"],
        "pck_per_joint@0.2": at02["per_joint"].tolist(),
    }
    if all(p.headbox is not None for p in data.people) and data.people:
        heads = np.stack([p.headbox for p in data.people if p.headbox is not None])
        at05 = pckh(kp, gt[..., :2], gt[..., 2], heads, 0.5)
        out.update({"pckh@0.5": at05["mean"], "pckh_per_joint@0.5": at05["per_joint"].tolist()})
    if gt_doc is not None:
        stats = coco_keypoint_eval(gt_doc, coco_results(data.people, kp, sc))
        out.update({f"coco_{k}": v for k, v in stats.items()})
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def evaluate(run_dir: Path, overrides: list[str] | None = None, flip_test: bool | None = None) -> dict[str, Any]:
    """Evaluate a run's ``model.pt`` on its config's validation set, with a flip test as the run's
    ``train.test_flip`` unless ``flip_test`` says; writes ``<run>/evaluation/metrics.{json,md,csv}``."""
    model, cfg, _ = load_run(run_dir, overrides)
    flip_test = cfg.train.test_flip if flip_test is None else flip_test
    people, skel, doc = load_people(cfg.data, "val")
    data = CropDataset(people, skel, make_codec(cfg.data), "none")
    metrics = evaluate_model(model, data, doc, flip_test)
    prepare_run_dir(run_dir / "evaluation", dump_yaml(cfg), cfg.train.seed, {"model": str(run_dir / "model.pt")})
    write_metrics(run_dir / "evaluation", metrics)
    return metrics
