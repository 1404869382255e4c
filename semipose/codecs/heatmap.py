"""Gaussian heatmap targets and their decoding, kept apart from the models (as MMPose's codecs are).

Coordinates are in the network's input pixels; heatmap pixel ``i`` sits at input pixel ``i * stride``.

* :meth:`HeatmapCodec.encode`: the usual target (SimpleBaseline / MSRA): a Gaussian of ``sigma``
  centred at ``int(x / stride + 0.5)``, cut to a square of radius ``3 sigma``; weight 0 for invisible
  joints and where that square falls outside the map. ``unbiased=True`` centres the Gaussian at the
  exact sub-pixel position instead (DARK's unbiased encoding).
* :meth:`HeatmapCodec.decode`: ``argmax`` with the quarter-pixel shift toward the higher neighbour,
  or ``dark``: blur, log, and a second-order Taylor step from the maximum (Zhang et al., CVPR 2020);
  by default ``dark`` for an unbiased codec and ``argmax`` otherwise, as MMPose pairs them.
* :func:`gaussian_heatmaps`: the same unbiased Gaussians for a batch of centres in torch, on the
  device (the semi-supervised methods re-encode pseudo-heatmaps with it).
* :func:`flip_back`: heatmaps predicted on a mirrored image, mirrored back with left and right
  swapped (and, as the reference code does, shifted one pixel to the right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class HeatmapCodec:
    input_size: tuple[int, int]  # (width, height) of the network input
    heatmap_size: tuple[int, int]  # (width, height) of its output
    sigma: float = 2.0
    unbiased: bool = False

    @property
    def stride(self) -> np.ndarray:
        return np.array([self.input_size[0] / self.heatmap_size[0], self.input_size[1] / self.heatmap_size[1]])

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K, 2) keypoints and (K,) visibility -> (K, H, W) heatmaps and (K,) target weights."""
        W, H = self.heatmap_size
        K = len(keypoints)
        heatmaps = np.zeros((K, H, W), dtype=np.float32)
        weights = (np.asarray(visible) > 0).astype(np.float32)
        radius = self.sigma * 3
        xs, ys = np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32)
        for k in range(K):
            if weights[k] == 0:
                continue
            mu = keypoints[k] / self.stride
            if not self.unbiased:
                mu = (mu + 0.5).astype(int)
            r = radius if self.unbiased else int(radius)  # a whole-pixel patch of 2r + 1 (sigma 1.5: r = 4)
            ul = (int(mu[0] - r), int(mu[1] - r))
            br = (int(mu[0] + r + 1), int(mu[1] + r + 1))
            if ul[0] >= W or ul[1] >= H or br[0] < 0 or br[1] < 0:
                weights[k] = 0
                continue
            if self.unbiased:
                heatmaps[k] = np.exp(-((xs[None] - mu[0]) ** 2 + (ys[:, None] - mu[1]) ** 2) / (2 * self.sigma**2))
                continue
            size = 2 * r + 1
            g = np.arange(size, dtype=np.float32)
            c = size // 2
            gauss = np.exp(-((g[None] - c) ** 2 + (g[:, None] - c) ** 2) / (2 * self.sigma**2))
            gx = max(0, -ul[0]), min(br[0], W) - ul[0]
            gy = max(0, -ul[1]), min(br[1], H) - ul[1]
            hx, hy = (max(0, ul[0]), min(br[0], W)), (max(0, ul[1]), min(br[1], H))
            heatmaps[k, hy[0] : hy[1], hx[0] : hx[1]] = gauss[gy[0] : gy[1], gx[0] : gx[1]]
        return heatmaps, weights

    def decode(self, heatmaps: np.ndarray, method: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(K, H, W) heatmaps -> (K, 2) keypoints in input pixels and (K,) scores (the maxima)."""
        method = method or ("dark" if self.unbiased else "argmax")
        if method not in ("argmax", "dark"):
            raise ValueError(f"decode method must be argmax or dark, got {method!r}")
        K, H, W = heatmaps.shape
        flat = heatmaps.reshape(K, -1)
        idx = flat.argmax(axis=1)
        scores = flat[np.arange(K), idx]
        coords = np.stack([idx % W, idx // W], axis=1).astype(np.float64)
        if method == "argmax":
            for k in range(K):
                x, y = int(coords[k, 0]), int(coords[k, 1])
                if 1 < x < W - 1 and 1 < y < H - 1:
                    hm = heatmaps[k]
                    diff = np.array([hm[y, x + 1] - hm[y, x - 1], hm[y + 1, x] - hm[y - 1, x]])
                    coords[k] += np.sign(diff) * 0.25
        else:
            coords = self._dark(heatmaps, coords)
        return (coords * self.stride).astype(np.float32), scores.astype(np.float32)

    def _dark(self, heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        for k, hm in enumerate(heatmaps):
            peak = hm.max()
            blurred = gaussian_filter(hm.astype(np.float64), self.sigma, mode="constant", truncate=2.5)
            if blurred.max() > 0:
                blurred *= peak / blurred.max()  # keep the maximum (DARK's modulation)
            lg = np.log(np.maximum(blurred, 1e-10))
            x, y = int(coords[k, 0]), int(coords[k, 1])
            if not (2 <= x < hm.shape[1] - 2 and 2 <= y < hm.shape[0] - 2):
                continue
            dx = 0.5 * (lg[y, x + 1] - lg[y, x - 1])
            dy = 0.5 * (lg[y + 1, x] - lg[y - 1, x])
            dxx = 0.25 * (lg[y, x + 2] - 2 * lg[y, x] + lg[y, x - 2])
            dxy = 0.25 * (lg[y + 1, x + 1] - lg[y - 1, x + 1] - lg[y + 1, x - 1] + lg[y - 1, x - 1])
            dyy = 0.25 * (lg[y + 2, x] - 2 * lg[y, x] + lg[y - 2, x])
            det = dxx * dyy - dxy**2
            if det != 0:
                hessian_inv = np.array([[dyy, -dxy], [-dxy, dxx]]) / det
                out[k] -= hessian_inv @ np.array([dx, dy])
        return out


def gaussian_heatmaps(centers: torch.Tensor, size: tuple[int, int], sigma: float) -> torch.Tensor:
    """(B, J, h, w) unnormalised Gaussians (peak 1) at (B, J, 2) heatmap-pixel centres; ``size`` is (w, h)."""
    w, h = size
    xs = torch.arange(w, dtype=centers.dtype, device=centers.device)
    ys = torch.arange(h, dtype=centers.dtype, device=centers.device)
    dx = (xs[None, None, None, :] - centers[..., 0, None, None]) ** 2
    dy = (ys[None, None, :, None] - centers[..., 1, None, None]) ** 2
    return torch.exp(-(dx + dy) / (2 * sigma**2))


def flip_back(heatmaps: np.ndarray, flip_permutation: np.ndarray, shift: bool = True) -> np.ndarray:
    """Heatmaps (..., K, H, W) of a mirrored input, back in the original's frame and joint order."""
    out = heatmaps[..., flip_permutation, :, ::-1].copy()
    if shift:
        out[..., 1:] = out[..., :-1].copy()
    return out
