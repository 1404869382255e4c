"""3D pose errors as VideoPose3D defines them (inputs in any unit; outputs in the same unit).

Arrays are (..., joints, 3). MPJPE is the mean Euclidean joint error; P-MPJPE the error after a
per-frame similarity (Procrustes) alignment, rotations kept proper (no reflection); N-MPJPE after
a per-frame scale; MPJVE the error of the first differences along the time axis (axis 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    _same_shape(pred, target)
    return float(np.mean(np.linalg.norm(pred - target, axis=-1)))


def mpjpe_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Differentiable MPJPE, the training loss."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def weighted_mpjpe_torch(pred: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """MPJPE with one weight per sample (first axis), normalised by the weights' sum."""
    err = torch.linalg.vector_norm(pred - target, dim=-1).reshape(pred.shape[0], -1).mean(dim=1)
    return (err * w).sum() / w.sum().clamp_min(1e-12)


def procrustes_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Align each frame of ``pred`` to ``target`` by scale, proper rotation and translation."""
    _same_shape(pred, target)
    shape = pred.shape
    P = pred.reshape(-1, shape[-2], 3).astype(np.float64)
    X = target.reshape(-1, shape[-2], 3).astype(np.float64)
    mu_x, mu_p = X.mean(axis=1, keepdims=True), P.mean(axis=1, keepdims=True)
    X0, P0 = X - mu_x, P - mu_p
    norm_x = np.sqrt((X0**2).sum(axis=(1, 2), keepdims=True))
    norm_p = np.sqrt((P0**2).sum(axis=(1, 2), keepdims=True))
    norm_x = np.where(norm_x == 0, 1.0, norm_x)
    norm_p = np.where(norm_p == 0, 1.0, norm_p)
    X0, P0 = X0 / norm_x, P0 / norm_p
    H = X0.transpose(0, 2, 1) @ P0
    U, s, Vt = np.linalg.svd(H)
    V = Vt.transpose(0, 2, 1)
    R = V @ U.transpose(0, 2, 1)
    # Reflection fix: flip the last singular direction where det(R) < 0.
    sign = np.sign(np.linalg.det(R))[:, None]
    V[:, :, -1] *= sign
    s[:, -1] *= sign[:, 0]
    R = V @ U.transpose(0, 2, 1)
    scale = s.sum(axis=1)[:, None, None] * norm_x / norm_p
    t = mu_x - scale * (mu_p @ R)
    return (scale * (P @ R) + t).reshape(shape)


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    return mpjpe(procrustes_align(pred, target), target)


def n_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after the per-frame scale that best fits ``pred`` to ``target`` (least squares)."""
    _same_shape(pred, target)
    num = (pred * target).sum(axis=(-1, -2), keepdims=True)
    den = (pred * pred).sum(axis=(-1, -2), keepdims=True)
    scale = num / np.where(den == 0, 1.0, den)
    return mpjpe(scale * pred, target)


def mpjve(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint velocity error over the frames (axis 0) of one sequence."""
    _same_shape(pred, target)
    if pred.shape[0] < 2:
        raise ValueError("MPJVE needs at least two frames")
    return mpjpe(np.diff(pred, axis=0), np.diff(target, axis=0))


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"prediction shape {a.shape} differs from target shape {b.shape}")
    if a.shape[-1] != 3:
        raise ValueError(f"expected (..., joints, 3), got {a.shape}")


METRICS = {"mpjpe": mpjpe, "p_mpjpe": p_mpjpe, "n_mpjpe": n_mpjpe, "mpjve": mpjve}


def evaluate_sequences(
    preds: list[np.ndarray], targets: list[np.ndarray], subjects: list[str], actions: list[str]
) -> dict:
    """VideoPose3D's report: per (action, subject) cell, frame-weighted over its sequences and
    cameras, in millimetres; then the mean over cells (the published figure) and over frames.

    Inputs are in metres; sequences of one frame are left out of MPJVE only.
    """
    cells: dict[tuple[str, str], dict[str, list[float]]] = {}
    for p, t, s, a in zip(preds, targets, subjects, actions):
        c = cells.setdefault((a, s), {k: [] for k in ("frames", "mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "vel_frames")})
        n = p.shape[0]
        c["frames"].append(n)
        for name in ("mpjpe", "p_mpjpe", "n_mpjpe"):
            c[name].append(METRICS[name](p, t) * 1000.0 * n)
        if n >= 2:
            c["mpjve"].append(mpjve(p, t) * 1000.0 * n)
            c["vel_frames"].append(n)
    rows: list[dict[str, Any]] = []
    for (a, s), c in sorted(cells.items()):
        frames, vframes = sum(c["frames"]), sum(c["vel_frames"])
        row = {"action": a, "subject": s, "frames": frames}
        for name in ("mpjpe", "p_mpjpe", "n_mpjpe"):
            row[f"{name}_mm"] = sum(c[name]) / frames
        row["mpjve_mm"] = sum(c["mpjve"]) / vframes if vframes else float("nan")
        rows.append(row)
    keys = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")
    total = sum(r["frames"] for r in rows)
    out: dict = {k: float(np.nanmean([r[k] for r in rows])) for k in keys}
    out["frame_weighted"] = {
        k: float(
            sum(r[k] * r["frames"] for r in rows if not np.isnan(r[k]))
            / max(1, sum(r["frames"] for r in rows if not np.isnan(r[k])))
        )
        for k in keys
    }
    out["frames"] = total
    out["cells"] = rows
    return out
