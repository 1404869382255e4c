"""Detector-like 2D: what a 2D detector's keypoints look like next to motion-capture projections.

Users lift the output of a 2D detector, not clean projections. This model turns clean 2D into
detector-like 2D, seeded and identical for every method compared:

- **jitter**: per joint and frame a Gaussian offset whose standard deviation (per axis) is
  ``jitter x kappa_j x s``, where ``kappa_j = 2 sigma_j`` is the joint's COCO OKS constant and ``s`` the
  person's size (square root of the area of the frame's 2D keypoint box). OKS scores an error ``d``
  as ``exp(-d^2 / (2 s^2 kappa_j^2))``, so ``jitter = 0.5`` puts a joint's expected OKS near 0.8;
- **outliers**: with probability ``outlier_rate`` a joint lands anywhere in its person's box grown
  by ``outlier_box`` (a detection on the wrong limb or the background);
- **swaps**: with probability ``swap_rate`` a frame's left and right joints trade places (the
  classic left/right confusion of detectors).

Works in any units (pixels or VideoPose3D's normalised screen coordinates): the person's size comes
from the same coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import POSITIVE, PROBABILITY, checked
from ..skeletons import Skeleton

# COCO's per-keypoint OKS sigmas (pycocotools), by joint name. Joints COCO does not label take the
# sigma of the COCO joints they are built from: pelvis and spine from the hips, thorax and neck from
# the shoulders, head and head_top from the ears.
_COCO_SIGMA = {"nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035, "right_ear": 0.035,
               "shoulder": 0.079, "elbow": 0.072, "wrist": 0.062, "hip": 0.107, "knee": 0.087, "ankle": 0.089}
_DERIVED = {"pelvis": "hip", "spine": "hip", "thorax": "shoulder", "neck": "shoulder", "head": "left_ear",
            "head_top": "left_ear", "foot": "ankle"}


def joint_sigmas(skeleton: Skeleton) -> np.ndarray:
    """COCO OKS sigma of each joint of ``skeleton`` (the skeleton's own when it has them)."""
    if skeleton.oks_sigmas is not None:
        return np.asarray(skeleton.oks_sigmas, dtype=np.float64)
    out = []
    for name in skeleton.joints:
        if name in _COCO_SIGMA:
            out.append(_COCO_SIGMA[name])
            continue
        part = name.split("_", 1)[-1] if name.startswith(("left_", "right_")) else name
        part = _DERIVED.get(part, part)
        if part not in _COCO_SIGMA:
            raise ValueError(f"skeleton {skeleton.name}: no OKS sigma known for joint {name!r}")
        out.append(_COCO_SIGMA[part])
    return np.asarray(out, dtype=np.float64)


@dataclass
class DetectorNoiseConfig:
    enabled: bool = False
    jitter: float = checked(0.5, ge=0)  # standard deviation per axis in units of kappa_j x person size
    outlier_rate: float = checked(0.01, **PROBABILITY)  # share of joints placed anywhere in the grown person box
    outlier_box: float = checked(1.2, **POSITIVE)  # the box outliers are drawn from, relative to the person's box
    swap_rate: float = checked(0.02, **PROBABILITY)  # share of frames with left and right swapped
    seed: int = 0


def person_size(keypoints: np.ndarray) -> np.ndarray:
    """sqrt(area) of each frame's keypoint box, (T,) from (T, J, 2)."""
    extent = keypoints.max(axis=1) - keypoints.min(axis=1)
    return np.sqrt(np.maximum(extent[:, 0] * extent[:, 1], 1e-12))


def detector_like(keypoints: np.ndarray, skeleton: Skeleton, cfg: DetectorNoiseConfig,
                  rng: np.random.Generator) -> np.ndarray:
    """Detector-like copy of clean 2D ``keypoints`` (T, J, 2); see the module docstring."""
    kp = np.asarray(keypoints, dtype=np.float64)
    T, J, _ = kp.shape
    size = person_size(kp)
    std = cfg.jitter * 2.0 * joint_sigmas(skeleton)[None, :] * size[:, None]  # (T, J)
    out = kp + rng.standard_normal((T, J, 2)) * std[..., None]
    if cfg.outlier_rate > 0:
        lo, hi = kp.min(axis=1), kp.max(axis=1)
        centre, half = (lo + hi) / 2, (hi - lo) / 2 * cfg.outlier_box
        hit = rng.random((T, J)) < cfg.outlier_rate
        anywhere = centre[:, None] + (rng.random((T, J, 2)) * 2 - 1) * half[:, None]
        out = np.where(hit[..., None], anywhere, out)
    if cfg.swap_rate > 0:
        swapped = rng.random(T) < cfg.swap_rate
        out[swapped] = out[swapped][:, skeleton.flip_permutation()]
    return out.astype(np.float32)


def noisy_sequences_2d(keypoints: list[np.ndarray], keys: list[str], skeleton: Skeleton,
                       cfg: DetectorNoiseConfig) -> list[np.ndarray]:
    """Detector-like 2D for several sequences; each one's noise depends only on ``cfg.seed`` and
    its key (e.g. 'subject/action/camera'), so every method and every split sees the same noise."""
    import zlib

    return [detector_like(kp, skeleton, cfg, np.random.default_rng([cfg.seed, zlib.crc32(k.encode())]))
            for kp, k in zip(keypoints, keys)]
