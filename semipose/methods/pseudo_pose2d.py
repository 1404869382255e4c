"""Offline 2D pseudo-labels: a trained teacher's keypoints on unlabeled people, kept per joint where its
maximum response passes a threshold; the students then train on them like labels (method
``pseudo_label`` of :mod:`semipose.methods.ssl2d`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..data.coco import PersonInstance
from ..data.crops import CropDataset
from .supervised_pose2d import predict_people


def pseudo_label_people(
    model: torch.nn.Module, unlabeled: CropDataset, threshold: float, flip_test: bool = True
) -> tuple[list[PersonInstance], dict[str, float]]:
    """The unlabeled people with a teacher's keypoints as labels: visible (2) where its maximum response
    exceeds ``threshold``, unlabeled (0) elsewhere; and the share of joints kept."""
    kp, sc = predict_people(model, unlabeled, flip_test)
    out = []
    for p, k, s in zip(unlabeled.people, kp, sc):
        vis = np.where(s > threshold, 2.0, 0.0)
        out.append(dataclasses.replace(p, keypoints=np.column_stack([k, vis]).astype(np.float32)))
    kept = float((sc > threshold).mean()) if len(sc) else 0.0
    return out, {"pseudo_joints_kept": kept, "pseudo_mean_score": float(sc.mean()) if len(sc) else 0.0}
