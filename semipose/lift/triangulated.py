"""Pseudo-labels from synchronized calibrated views: the views' 2D triangulated (DLT) into 3D, smoothed over
time by a sigma chosen on the labeled views, and each view's labels in its own camera frame."""

from __future__ import annotations

import typing
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..data.cameras import image_coordinates
from ..data.npz3d import Sequence
from ..data.splits import Segment
from ..methods.multiview import triangulate
from .config import SSLConfig

SMOOTHING_CANDIDATES = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0)


def smooth_over_time(poses: np.ndarray, sigma: float) -> np.ndarray:
    """A (T, J, 3) sequence smoothed by a Gaussian of ``sigma`` frames (unchanged for 0)."""
    return gaussian_filter1d(poses, sigma, axis=0, mode="nearest") if sigma > 0 else poses


def synchronized_groups(sequences: list[Sequence]) -> list[list[int]]:
    """Indices of labeled sequences that show the same frames from different cameras, found by their
    3D: the same subject, action and length, and the same world pose in the first frame."""
    groups: dict[tuple, list[int]] = {}
    for i, x in enumerate(sequences):
        if x.camera is None or x.num_frames == 0:
            continue
        root = x.camera.camera_to_world(x.positions_3d[:1, 0].astype(np.float64))[0]
        groups.setdefault((x.subject, x.action, x.num_frames, *np.round(root, 3)), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def choose_smoothing(
    labeled: list[Sequence], outlier_px: float | None = None, candidates: tuple[float, ...] = SMOOTHING_CANDIDATES
) -> tuple[float, dict[str, float]]:
    """The temporal smoothing (sigma, frames) whose triangulated labels of the *labeled* views come
    closest to their true 3D (MPJPE, mm): the training data's own 2D noise decides, the test split is
    never read. Returns the best sigma and the error of every candidate."""
    groups = synchronized_groups(labeled)
    if not groups:
        raise ValueError(
            "choosing ssl.smooth_frames needs labeled sequences seen by two or more views; "
            "set ssl.smooth_frames to a number"
        )
    members = [labeled[i] for g in groups for i in g]
    index = {id(x): k for k, x in enumerate(members)}
    local = [[index[id(labeled[i])] for i in g] for g in groups]
    truth = [x.root_relative_3d() for x in members]
    unsmoothed, _ = triangulated_labels(members, local, outlier_px)
    errors = {}
    for sigma in candidates:
        labels = [smooth_over_time(x, sigma) for x in unsmoothed]
        errors[f"{sigma:g}"] = float(
            np.mean(np.concatenate([np.linalg.norm(a - t, axis=-1).mean(axis=-1) for a, t in zip(labels, truth)]))
            * 1000
        )
    best = min(candidates, key=lambda s: errors[f"{s:g}"])
    return best, errors


def resolve_smoothing(cfg: SSLConfig, labeled: list[Sequence]) -> tuple[float, dict[str, Any]]:
    """``ssl.smooth_frames``, or when null the sigma :func:`choose_smoothing` picks on ``labeled``."""
    if cfg.fusion != "triangulate":
        return 0.0, {}
    if cfg.smooth_frames is not None:
        return cfg.smooth_frames, {"smooth_frames": cfg.smooth_frames, "chosen_on_labeled_data": False}
    sigma, errors = choose_smoothing(labeled, cfg.outlier_px)
    return sigma, {"smooth_frames": sigma, "chosen_on_labeled_data": True, "labeled_triangulation_mpjpe_mm": errors}


def triangulated_labels(
    unlabeled: list[Sequence], view_groups: list[list[int]], outlier_px: float | None = None, smooth_frames: float = 0.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pseudo-labels of every sequence from triangulating its group of views alone (no lifter), each
    smoothed over time by a Gaussian of ``smooth_frames`` frames: each sequence must belong to a
    group of at least two calibrated views."""
    labels: list = [None] * len(unlabeled)
    spreads: list = [None] * len(unlabeled)
    for group in view_groups:
        if len(group) < 2:
            continue
        per_view, uncertainty = triangulate_group([unlabeled[i] for i in group], outlier_px)
        for k, i in enumerate(group):
            labels[i], spreads[i] = smooth_over_time(per_view[k], smooth_frames), uncertainty
    missing = [
        f"{unlabeled[i].subject} {unlabeled[i].action} camera {unlabeled[i].camera_index}"
        for i, lab in enumerate(labels)
        if lab is None
    ]
    if missing:
        raise ValueError(
            f"triangulation needs every sequence seen by two or more synchronized views; "
            f"{len(missing)} are not, e.g. {missing[0]}"
        )
    return labels, spreads


def triangulate_group(views: list[Sequence], outlier_px: float | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Root-relative 3D in each view's camera frame from triangulating the views' 2D keypoints, and
    each frame's uncertainty: the RMS reprojection residual turned into metres at each joint's depth
    (residual / focal * depth), averaged over joints, so it shares units with the ensemble spread."""
    try:
        cams = [v.require_camera(intrinsics=True) for v in views]
    except ValueError as e:
        raise ValueError(f"ssl.fusion=triangulate needs cameras with intrinsics; {e}") from None
    pixels = [image_coordinates(v.keypoints_2d, c.res_w, c.res_h) for v, c in zip(views, cams)]
    tri = triangulate(pixels, [c.projection_matrix() for c in cams], outlier_px)
    per_view, depth = [], []
    for c in cams:
        X = c.world_to_camera(tri.world.astype(np.float64))
        per_view.append((X - X[:, :1]).astype(np.float32))
        depth.append(np.abs(X[..., 2]) / float(np.mean(typing.cast(np.ndarray, c.focal))))
    metres = tri.residual * np.mean(depth, axis=0)
    return per_view, metres.mean(axis=1).astype(np.float32)


def view_groups(sequences: list[Sequence], segments: list[Segment]) -> list[list[int]]:
    """Indices of the segments that show the same frames of one recording from different cameras."""
    groups: dict[tuple, list[int]] = {}
    for i, seg in enumerate(segments):
        s = sequences[seg.index]
        groups.setdefault((s.subject, s.action, seg.start, seg.stop), []).append(i)
    return list(groups.values())
