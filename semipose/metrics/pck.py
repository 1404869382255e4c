"""PCK: the share of visible joints within a distance threshold, per joint and on average.

* :func:`pck`: the threshold is ``alpha`` times a per-instance size, the larger side of its box by
  default (MMPose's ``PCKAccuracy`` with ``norm_item='bbox'``).
* :func:`pckh`: MPII's PCKh: the size is the head size, 0.6 times the diagonal of the head box, and
  the mean leaves out pelvis and thorax, weighting the other joints by how often they are visible.
"""

from __future__ import annotations

import numpy as np

MPII_HEAD_SIZE_FACTOR = 0.6


def _within(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, size: np.ndarray, alpha: float) -> np.ndarray:
    if pred.shape != gt.shape or pred.shape[-1] != 2:
        raise ValueError(f"expected (N, K, 2) predictions and ground truth, got {pred.shape} and {gt.shape}")
    dist = np.linalg.norm(pred - gt, axis=-1) / np.maximum(size[:, None], 1e-12)
    return np.where(visible > 0, dist <= alpha, np.nan)


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, boxes: np.ndarray, alpha: float = 0.2) -> dict:
    """``boxes`` (N, 4) as x, y, w, h. Returns the per-joint PCK and their mean over visible joints."""
    hits = _within(pred, gt, visible, np.max(np.asarray(boxes)[:, 2:4], axis=1), alpha)
    counts = np.sum(visible > 0, axis=0)
    per_joint = np.where(counts > 0, np.nansum(hits, axis=0) / np.maximum(counts, 1), np.nan)
    mean = float(np.nansum(hits) / counts.sum()) if counts.sum() else float("nan")
    return {"per_joint": per_joint, "mean": mean, "alpha": alpha}


def pckh(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    head_boxes: np.ndarray,
    threshold: float = 0.5,
    excluded: tuple[int, ...] = (6, 7),
) -> dict:
    """``head_boxes`` (N, 2, 2): top-left and bottom-right corners. ``excluded``: MPII's pelvis, thorax."""
    head = np.linalg.norm(head_boxes[:, 1] - head_boxes[:, 0], axis=-1) * MPII_HEAD_SIZE_FACTOR
    hits = _within(pred, gt, visible, head, threshold)
    counts = np.sum(visible > 0, axis=0).astype(float)
    per_joint = np.nansum(hits, axis=0) / np.maximum(counts, 1)
    keep = np.ones(len(counts), bool)
    keep[list(excluded)] = False
    weights = counts * keep
    mean = float(np.sum(per_joint * weights) / weights.sum()) if weights.sum() else float("nan")
    return {"per_joint": per_joint, "mean": mean, "threshold": threshold}
