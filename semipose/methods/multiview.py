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

- ``triangulate`` (:func:`triangulate`): no lifter at all; the views' 2D keypoints and the cameras'
  projection matrices give each joint's world position by linear triangulation (DLT), the
  label source of multi-view self-supervision (EpipolarPose, Kocabas et al. 2019). Exact where the
  2D is exact; under detector noise its error depends on the 2D, not on the monocular lifter.

Besides the fused pose, the cross-view disagreement (root-mean-square distance of the views' means
from the fused pose) says how far the views agree: an uncertainty that, unlike the ensemble spread,
does not share the monocular lifter's blind spots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FUSION_METHODS = ("mean", "spread", "median")  # of members' predictions; triangulate() takes the 2D instead


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


def fuse_views(
    predictions: list[np.ndarray], rotations: list[np.ndarray], method: str = "spread", eps: float = 0.005
) -> FusedPose:
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
        weights = 1.0 / (spreads**2 + eps**2)
        fused = (weights[..., None] * means).sum(axis=0) / weights.sum(axis=0)[..., None]
    disagreement = np.sqrt(((means - fused) ** 2).sum(-1).mean(axis=0))
    per_view = [world_to_camera_rotation(fused, R).astype(np.float32) for R in rotations]
    return FusedPose(
        fused.astype(np.float32), per_view, disagreement.astype(np.float32), spreads.mean(axis=0).astype(np.float32)
    )


@dataclass
class Triangulated:
    world: np.ndarray  # (T, J, 3) joint positions in world coordinates
    residual: np.ndarray  # (T, J) RMS reprojection residual over the views used, pixels
    views_used: np.ndarray  # (T, J) how many views each joint was triangulated from


def _dlt(points: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """Linear triangulation: ``points`` (V, ..., 2) pixels, ``projections`` (V, 3, 4) -> (..., 3)."""
    rows = []
    for p, P in zip(points, projections):
        rows += [p[..., :1] * P[2] - P[0], p[..., 1:2] * P[2] - P[1]]
    A = np.stack(rows, axis=-2)  # (..., 2V, 4)
    A = A / np.maximum(np.linalg.norm(A, axis=-1, keepdims=True), 1e-12)  # rows of equal weight
    X = np.linalg.svd(A)[2][..., -1, :]
    w = X[..., 3:]
    return X[..., :3] / np.where(np.abs(w) < 1e-12, 1e-12, w)


def _reprojection_residual(X: np.ndarray, points: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """(V, ...) pixel distance of each view's 2D point from the projection of ``X`` (..., 3)."""
    Xh = np.concatenate([X, np.ones_like(X[..., :1])], axis=-1)
    out = []
    for p, P in zip(points, projections):
        x = Xh @ P.T
        z = np.where(np.abs(x[..., 2:]) < 1e-12, 1e-12, x[..., 2:])
        out.append(np.linalg.norm(x[..., :2] / z - p, axis=-1))
    return np.stack(out)


def triangulate(
    points: list[np.ndarray], projections: list[np.ndarray], outlier_px: float | None = None
) -> Triangulated:
    """World positions of keypoints seen by calibrated views.

    ``points[v]`` is view ``v``'s (T, J, 2) keypoints in pixels, ``projections[v]`` its 3x4 matrix
    mapping homogeneous world points to homogeneous pixels. Every joint is triangulated from all
    views; with three or more views and ``outlier_px`` set, a joint whose worst view misses the
    reprojection by more than ``outlier_px`` pixels is triangulated again without each view in turn,
    and a subset wins only when it lowers the residuals of *all* views truncated at ``outlier_px``
    (one wrong view, such as a detector's left/right swap or outlier, is dropped; plain jitter keeps
    every view). The residual reported is over the views kept."""
    if len(points) != len(projections) or len(points) < 2:
        raise ValueError(
            f"triangulation needs at least two views with one projection each, got "
            f"{len(points)} views and {len(projections)} projections"
        )
    shapes = {np.shape(p) for p in points}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[-1] != 2:
        raise ValueError(f"views must share one (frames, joints, 2) shape, got {sorted(shapes)}")
    pts = np.stack([np.asarray(p, np.float64) for p in points])
    Ps = np.stack([np.asarray(P, np.float64) for P in projections])
    if Ps.shape[1:] != (3, 4):
        raise ValueError(f"projection matrices must be 3x4, got {Ps.shape[1:]}")
    V = len(pts)
    X = _dlt(pts, Ps)
    res = _reprojection_residual(X, pts, Ps)  # (V, T, J)
    rms = np.sqrt((res**2).mean(axis=0))
    used = np.full(rms.shape, V)
    if V >= 3 and outlier_px is not None:
        # RANSAC-style score: squared residuals truncated at outlier_px over *all* views, so leaving a
        # view out wins only when that view is an outlier, not because two views always fit better
        def cost(r: np.ndarray) -> np.ndarray:
            return (np.minimum(r, outlier_px) ** 2).sum(axis=0)

        bad = res.max(axis=0) > outlier_px
        if bad.any():
            sub_pts = pts[:, bad]
            best_X, best_cost, best_used = X[bad], cost(res[:, bad]), used[bad]
            for drop in range(V):
                keep = [v for v in range(V) if v != drop]
                Xs = _dlt(sub_pts[keep], Ps[keep])
                c = cost(_reprojection_residual(Xs, sub_pts, Ps))
                better = c < best_cost
                best_X[better], best_cost[better], best_used[better] = Xs[better], c[better], V - 1
            X[bad], used[bad] = best_X, best_used
            res = _reprojection_residual(X, pts, Ps)
            inlier = res <= np.where(used == V, np.inf, outlier_px)[None]
            rms = np.sqrt((np.where(inlier, res, 0) ** 2).sum(axis=0) / np.maximum(inlier.sum(axis=0), 1))
    return Triangulated(X.astype(np.float32), rms.astype(np.float32), used)
