"""Multi-view fusion of root-relative 3D predictions from synchronized, calibrated cameras.

A lifter predicts each view's pose in that camera's frame, relative to the root. With the cameras'
camera-to-world rotations ``R_v`` (a world point maps to camera coordinates as ``R^T (X - T)``),
the root-relative pose maps to the world frame as ``P_world = P_cam R_v^T``; the translation cancels
because the pose is relative to the root. The views (and the ensemble's members) then predict the
same world pose, so fusing them averages out errors that are independent between views; the fused
pose maps back into every view as ``P_cam = P_world R_v``.

Fusion rules (``method``):

- ``mean``: the plain mean over views and members;
- ``spread``: per joint and frame, each view's member mean weighted by ``1 / (spread_v^2 + eps^2)``,
  ``spread_v`` the ensemble's spread in that view (with one member: the plain mean over views);
- ``median``: the coordinate-wise median over every view's and member's prediction (robust to one
  view that went wrong, e.g. a left/right swap).

Besides the fused pose, the cross-view disagreement (root-mean-square distance of the views' means
from the fused pose) says how far the views agree: an uncertainty that, unlike the ensemble spread,
does not share the monocular lifter's blind spots.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FUSION_METHODS = ("mean", "spread", "median")


def camera_to_world_rotation(pose_cam: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Root-relative camera-frame pose(s) (..., J, 3) in world axes."""
    return pose_cam @ np.asarray(R).T


def world_to_camera_rotation(pose_world: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Inverse of :func:`camera_to_world_rotation`."""
    return pose_world @ np.asarray(R)


@dataclass
class FusedPose:
    world: np.ndarray  # (T, J, 3) fused root-relative pose in world axes
    per_view: list[np.ndarray]  # (T, J, 3) the fused pose in each view's camera frame
    disagreement: np.ndarray  # (T, J) RMS distance of the views' member means from the fused pose
    spread: np.ndarray  # (T, J) the members' spread, averaged over views (0 with one member)


def fuse_views(predictions: list[np.ndarray], rotations: list[np.ndarray], method: str = "spread",
               eps: float = 0.005) -> FusedPose:
    """Fuse ``predictions[v]`` (members, T, J, 3), root-relative in camera ``v``'s frame, over views
    and members; ``rotations[v]`` is camera ``v``'s camera-to-world rotation; ``eps`` in metres."""
    if method not in FUSION_METHODS:
        raise ValueError(f"fusion method must be one of {FUSION_METHODS}, got {method!r}")
    if len(predictions) != len(rotations) or not predictions:
        raise ValueError(f"{len(predictions)} views of predictions for {len(rotations)} cameras")
    shapes = {p.shape[1:] for p in predictions}
    if len(shapes) != 1:
        raise ValueError(f"views disagree in frames or joints: {sorted(shapes)}")
    world = [camera_to_world_rotation(np.asarray(p, np.float64), R) for p, R in zip(predictions, rotations)]
    means = np.stack([w.mean(axis=0) for w in world])  # (V, T, J, 3)
    spreads = np.stack([np.sqrt(((w - w.mean(axis=0)) ** 2).sum(-1).mean(axis=0)) for w in world])  # (V, T, J)
    if method == "mean":
        fused = np.concatenate(world).mean(axis=0)
    elif method == "median":
        fused = np.median(np.concatenate(world), axis=0)
    else:
        weights = 1.0 / (spreads ** 2 + eps ** 2)
        fused = (weights[..., None] * means).sum(axis=0) / weights.sum(axis=0)[..., None]
    disagreement = np.sqrt(((means - fused) ** 2).sum(-1).mean(axis=0))
    per_view = [world_to_camera_rotation(fused, R).astype(np.float32) for R in rotations]
    return FusedPose(fused.astype(np.float32), per_view, disagreement.astype(np.float32),
                     spreads.mean(axis=0).astype(np.float32))
