"""Tensor operations of the semi-supervised 2D methods, each small enough to check by hand:
Joint Cutout, aggregation of pseudo-heatmaps over views, threshold-and-refine, the views' uncertainty,
the uncertainty-guided selection between two students, and the maximum responses the collapse monitor
watches. Heatmaps are (B, J, h, w); a stack of views adds a leading V.
"""

from __future__ import annotations

import torch

from ..codecs.heatmap import gaussian_heatmaps


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """MSE of (B, S, J, h, w) predictions, every stack against the same (B, J, h, w) target, joints
    weighted by (B, J) (MMPose's KeypointMSELoss with target weights: 0.5 x mean squared error), summed
    over the stacks (intermediate supervision)."""
    w = weight[:, None, :, None, None]
    return 0.5 * ((pred - target[:, None]) ** 2 * w).mean() * pred.shape[1]


def max_response(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, J) maximum of every heatmap."""
    return heatmaps.flatten(2).amax(dim=2)


def argmax_coords(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, J, 2) x, y of every heatmap's maximum, in heatmap pixels."""
    w = heatmaps.shape[-1]
    idx = heatmaps.flatten(2).argmax(dim=2)
    return torch.stack([idx % w, idx // w], dim=-1).to(heatmaps.dtype)


def aggregate_views(views: torch.Tensor, how: str = "max") -> torch.Tensor:
    """(V, B, J, h, w) -> (B, J, h, w): the pixel-wise maximum (winner takes all) or mean over views."""
    if how == "max":
        return views.amax(dim=0)
    if how == "mean":
        return views.mean(dim=0)
    raise ValueError(f"aggregation must be max or mean, got {how!r}")


def view_uncertainty(views: torch.Tensor) -> torch.Tensor:
    """(V, B, J, h, w) -> (B, J): the maximum over pixels of the pixel-wise standard deviation across
    views (population std; 0 for a single view)."""
    if views.shape[0] < 2:
        return torch.zeros(views.shape[1:3], dtype=views.dtype, device=views.device)
    return views.std(dim=0, unbiased=False).flatten(2).amax(dim=2)


def threshold_and_refine(
    heatmaps: torch.Tensor, tau: float, refine: bool, sigma: float, subpixel: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Joints whose maximum response exceeds ``tau`` are kept (weight 1), the others dropped (weight 0);
    with ``refine`` a kept heatmap becomes a Gaussian (peak 1) at its maximum (``subpixel``: see
    :func:`sharpen_heatmaps`). ``tau <= 0`` keeps all."""
    peak = max_response(heatmaps)
    weights = (peak > tau).to(heatmaps.dtype) if tau > 0 else torch.ones_like(peak)
    if not refine:
        return heatmaps, weights
    keep = (peak > tau)[..., None, None]
    return torch.where(keep, sharpen_heatmaps(heatmaps, sigma, subpixel), heatmaps), weights


def sharpen_heatmaps(heatmaps: torch.Tensor, sigma: float, subpixel: bool = False) -> torch.Tensor:
    """Every heatmap redrawn as a Gaussian of ``sigma`` (peak 1) at its maximum: the shape of a labeled
    target, whatever blur the prediction or a bilinear warp gave it. At the maximum pixel, or with
    ``subpixel`` a quarter pixel from it towards the higher neighbour (where the codec's argmax decoding
    reads the keypoint), so that the redrawn target decodes where the heatmap did."""
    h, w = heatmaps.shape[-2:]
    centers = subpixel_argmax(heatmaps) if subpixel else argmax_coords(heatmaps)
    return gaussian_heatmaps(centers, (w, h), sigma)


def subpixel_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, J, 2) maxima shifted a quarter pixel towards the higher neighbour in x and in y, away from
    the border (the reference code's decoding, as :meth:`HeatmapCodec.decode` with ``argmax``)."""
    h, w = heatmaps.shape[-2:]
    xy = argmax_coords(heatmaps)
    x, y = xy[..., 0].long(), xy[..., 1].long()
    inside = (x > 1) & (x < w - 1) & (y > 1) & (y < h - 1)
    xc, yc = x.clamp(1, w - 2), y.clamp(1, h - 2)
    flat = heatmaps.flatten(2)

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return flat.gather(2, (yy * w + xx)[..., None])[..., 0]

    dx = at(yc, xc + 1) - at(yc, xc - 1)
    dy = at(yc + 1, xc) - at(yc - 1, xc)
    shift = torch.stack([torch.sign(dx), torch.sign(dy)], dim=-1) * 0.25
    return xy + shift * inside[..., None].to(xy.dtype)


def mirror_weights(heatmaps: torch.Tensor, flip_permutation: torch.Tensor, radius: float) -> torch.Tensor:
    """(B, J) weights: 0 for a left or right joint whose mirror joint (``flip_permutation``) peaks within
    ``radius`` heatmap pixels of it, both put on one limb (the left/right confusion), else 1. Joints
    that are their own mirror (nose, pelvis) keep weight 1."""
    xy = argmax_coords(heatmaps)
    perm = flip_permutation.to(heatmaps.device).long()
    near = (xy - xy[:, perm]).norm(dim=-1) <= radius
    paired = perm != torch.arange(len(perm), device=perm.device)
    return (~(near & paired)).to(heatmaps.dtype)


def select_targets(
    own: torch.Tensor,
    other: torch.Tensor,
    u_own: torch.Tensor,
    u_other: torch.Tensor,
    margin: float,
    own_weights: torch.Tensor | None = None,
    other_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per joint, a student keeps its own pseudo-heatmap only when its uncertainty is lower than the
    other's by more than ``margin``; else it takes the other's. Returns targets, weights and the
    (B, J) mask of joints that kept their own."""
    keep_own = u_own < u_other - margin
    targets = torch.where(keep_own[..., None, None], own, other)
    ones = torch.ones_like(u_own)
    weights = torch.where(
        keep_own, own_weights if own_weights is not None else ones, other_weights if other_weights is not None else ones
    )
    return targets, weights, keep_own


def cutout_boxes(
    centers: torch.Tensor,
    image_size: tuple[int, int],
    generator: torch.Generator,
    num_joints: int = 5,
    half_size: tuple[float, float] = (10.0, 20.0),
    jitter: float = 10.0,
) -> torch.Tensor:
    """Joint Cutout boxes (B, n, 4) as x0, y0, x1, y1 (pixel bounds, end exclusive) inside the image:
    for each of ``num_joints`` joints drawn without replacement, a box centred at that joint of
    ``centers`` (B, J, 2) plus N(0, jitter) pixels, of half-size uniform in ``half_size``. Widths clip
    to the image width and heights to its height (the reference code swapped the two)."""
    B, J, _ = centers.shape
    w, h = image_size
    n = min(num_joints, J)
    picks = torch.stack([torch.randperm(J, generator=generator)[:n] for _ in range(B)])
    c = torch.gather(centers.cpu().float(), 1, picks[..., None].expand(B, n, 2))
    c = c + torch.randn(B, n, 2, generator=generator) * jitter
    half = half_size[0] + torch.rand(B, n, 1, generator=generator) * (half_size[1] - half_size[0])
    lo, hi = (c - half).round(), (c + half).round()
    limit = torch.tensor([w, h], dtype=lo.dtype)
    lo = torch.minimum(torch.clamp(lo, min=0), limit)
    hi = torch.minimum(torch.clamp(hi, min=0), limit)
    return torch.cat([lo, hi], dim=-1).long()


def apply_cutout(images: torch.Tensor, boxes: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """A copy of (B, C, H, W) ``images`` with every (B, n, 4) box filled with ``fill``."""
    out = images.clone()
    for b, per_image in enumerate(boxes.tolist()):
        for x0, y0, x1, y1 in per_image:
            out[b, :, y0:y1, x0:x1] = fill
    return out
