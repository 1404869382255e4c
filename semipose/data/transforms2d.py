"""Top-down 2D transforms: the affine crop of a person (scale, rotation, horizontal flip), half-body
crops, colour jitter, and warps of heatmaps between two views of the same person.

A *view* is the affine map from image pixels to the network input; :class:`ViewParams` draws one
from a named parameter set (``AUGMENTATIONS``: ``none``, ``weak``, ``strong``, ``hard``...), so the
semi-supervised methods can ask for an easy and a hard view of the same image and map predictions
between them with :func:`view_to_view` and :func:`warp_heatmaps`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance


@dataclass(frozen=True)
class Augmentation:
    scale: float = 0.0  # scale factor drawn from [1 - scale, 1 + scale]
    rotation: float = 0.0  # degrees, drawn from [-rotation, rotation]
    rotation_prob: float = 1.0
    flip_prob: float = 0.0
    half_body_prob: float = 0.0
    color: float = 0.0  # brightness, contrast, saturation drawn from [1 - color, 1 + color]
    # 0: scale and rotation uniform over their ranges; a > 0: from a symmetric Beta(a, a) stretched over the
    # same ranges (a < 1 favours the extremes, a > 1 the centre), as the denoised paper's strong policy
    beta: float = 0.0

    def draw(self, rng: np.random.Generator, low: float, high: float) -> float:
        """A value in [low, high]: uniform, or Beta(beta, beta) stretched over the interval."""
        if self.beta > 0:
            return low + (high - low) * rng.beta(self.beta, self.beta)
        return rng.uniform(low, high)


AUGMENTATIONS: dict[str, Augmentation] = {
    "none": Augmentation(),
    # the usual supervised training augmentation (SimpleBaseline / MMPose defaults)
    "weak": Augmentation(scale=0.25, rotation=30, rotation_prob=0.6, flip_prob=0.5, half_body_prob=0.3),
    # weak without the mirror: for data whose left and right differ in appearance only (SynthPose
    # version 2's red left and blue right), where a mirrored crop would teach the opposite colours
    "weak_noflip": Augmentation(scale=0.25, rotation=30, rotation_prob=0.6, half_body_prob=0.3),
    "affine30": Augmentation(scale=0.25, rotation=30),
    "affine60": Augmentation(scale=0.25, rotation=60),
    "strong": Augmentation(scale=0.25, rotation=60, color=0.4),
    # affine60 with Beta(0.5, 0.5) draws: more of the extreme rotations and scales. The paper's Beta
    # parameters are not in our copy of its text (the numbers were lost): 0.5 is our choice.
    "affine60_beta": Augmentation(scale=0.25, rotation=60, beta=0.5),
}


@dataclass(frozen=True)
class View:
    """The map from image pixels to the input crop (2x3), its joint order, and its colour factors."""

    matrix: np.ndarray
    flipped: bool
    output_size: tuple[int, int]  # (w, h)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def inverse(self) -> np.ndarray:
        return invert_affine(self.matrix)


def affine_matrix(center: np.ndarray, scale: np.ndarray, rotation: float, output_size: tuple[int, int],
                  flip: bool = False) -> np.ndarray:
    """2x3 map: the box (``center``, ``scale`` = w, h in pixels) turned by ``rotation`` degrees (counter-
    clockwise in the image) onto the ``output_size`` crop, mirrored when ``flip``."""
    w, h = output_size
    t = np.deg2rad(rotation)
    c, s = np.cos(t), np.sin(t)
    to_origin = np.array([[1, 0, -center[0]], [0, 1, -center[1]], [0, 0, 1.0]])
    rotate = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1.0]])
    resize = np.diag([w / scale[0], h / scale[1], 1.0])
    to_crop = np.array([[1, 0, w * 0.5], [0, 1, h * 0.5], [0, 0, 1.0]])
    m = to_crop @ resize @ rotate @ to_origin
    if flip:
        m = np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1.0]]) @ m
    return m[:2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    full = np.vstack([m, [0, 0, 1.0]])
    return np.linalg.inv(full)[:2]


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 map that applies ``b`` then ``a``."""
    return (np.vstack([a, [0, 0, 1.0]]) @ np.vstack([b, [0, 0, 1.0]]))[:2]


def warp_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    return (points[..., :2] @ m[:, :2].T + m[:, 2]).astype(np.float32)


def half_body(keypoints: np.ndarray, upper: list[int], rng: np.random.Generator, aspect_ratio: float,
              min_joints: int = 8) -> tuple[np.ndarray, np.ndarray] | None:
    """Centre and scale of the upper or the lower body's visible joints (MMPose's half-body crop)."""
    visible = keypoints[:, 2] > 0
    if visible.sum() < min_joints:
        return None
    upper_mask = np.zeros(len(keypoints), bool)
    upper_mask[upper] = True
    pick = upper_mask if rng.random() < 0.5 else ~upper_mask
    pts = keypoints[visible & pick, :2]
    if len(pts) < 2:
        pts = keypoints[visible & ~pick, :2]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(0), pts.max(0)
    center = (lo + hi) / 2
    w, h = hi - lo
    if max(w, h) < 1.0:  # joints on one spot (a weak teacher's pseudo-labels) span no box: keep the person's
        return None
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return center.astype(np.float32), np.array([w, h], np.float32) * 1.5


def sample_view(center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], aug: Augmentation | str,
                rng: np.random.Generator, keypoints: np.ndarray | None = None,
                upper_body: list[int] | None = None) -> View:
    aug = AUGMENTATIONS[aug] if isinstance(aug, str) else aug
    if aug.half_body_prob and keypoints is not None and upper_body and rng.random() < aug.half_body_prob:
        hb = half_body(keypoints, upper_body, rng, output_size[0] / output_size[1])
        if hb is not None:
            center, scale = hb
    s = aug.draw(rng, 1 - aug.scale, 1 + aug.scale) if aug.scale else 1.0
    r = aug.draw(rng, -aug.rotation, aug.rotation) if aug.rotation and rng.random() < aug.rotation_prob else 0.0
    flip = bool(aug.flip_prob and rng.random() < aug.flip_prob)
    color = tuple(rng.uniform(1 - aug.color, 1 + aug.color, size=3)) if aug.color else (1.0, 1.0, 1.0)
    return View(affine_matrix(center, np.asarray(scale) * s, r, output_size, flip), flip, output_size, color)


def crop(image: Image.Image, view: View) -> np.ndarray:
    """The view's crop of an RGB image as (3, h, w) float32 in [0, 1], colour factors applied."""
    inv = view.inverse()  # PIL wants the map from output to input pixels
    out = image.transform(view.output_size, Image.Transform.AFFINE, data=tuple(inv.ravel()),
                          resample=Image.Resampling.BILINEAR)
    b, c, s = view.color
    if (b, c, s) != (1.0, 1.0, 1.0):
        out = ImageEnhance.Color(ImageEnhance.Contrast(ImageEnhance.Brightness(out).enhance(b)).enhance(c)).enhance(s)
    return np.asarray(out, dtype=np.float32).transpose(2, 0, 1) / 255.0


def transform_keypoints(keypoints: np.ndarray, view: View, flip_permutation: np.ndarray) -> np.ndarray:
    """(K, 3) image keypoints into the view (x, y moved; visibility kept; joints swapped when flipped)."""
    out = keypoints.copy()
    out[:, :2] = warp_points(keypoints[:, :2], view.matrix)
    return out[flip_permutation] if view.flipped else out


def view_to_view(src: View, dst: View, stride: float) -> np.ndarray:
    """2x3 map from heatmap pixels of view ``src`` to heatmap pixels of view ``dst``."""
    to_input = np.array([[stride, 0, 0], [0, stride, 0]], dtype=np.float64)
    to_heatmap = np.array([[1 / stride, 0, 0], [0, 1 / stride, 0]], dtype=np.float64)
    return compose(to_heatmap, compose(dst.matrix, compose(src.inverse(), to_input)))


def warp_heatmaps(heatmaps: torch.Tensor, m: np.ndarray | torch.Tensor, out_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Resample (B, K, H, W) heatmaps through 2x3 maps ``m`` (B, 2, 3) from their pixels to the
    output's pixels (bilinear, zeros outside); differentiable."""
    B, K, H, W = heatmaps.shape
    oh, ow = out_size[::-1] if out_size else (H, W)
    m = torch.as_tensor(np.asarray(m) if not isinstance(m, torch.Tensor) else m, dtype=heatmaps.dtype,
                        device=heatmaps.device).reshape(-1, 2, 3).expand(B, 2, 3)
    full = torch.cat([m, torch.tensor([[[0, 0, 1.0]]], dtype=m.dtype, device=m.device).expand(B, 1, 3)], dim=1)
    inv = torch.linalg.inv(full)[:, :2]  # output pixel -> input pixel
    ys, xs = torch.meshgrid(torch.arange(oh, dtype=m.dtype, device=m.device),
                            torch.arange(ow, dtype=m.dtype, device=m.device), indexing="ij")
    grid = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(1, -1, 3)
    src = grid @ inv.transpose(1, 2)  # (B, oh*ow, 2) in input pixels
    norm = torch.stack([src[..., 0] / (W - 1) * 2 - 1, src[..., 1] / (H - 1) * 2 - 1], dim=-1)
    return F.grid_sample(heatmaps, norm.reshape(B, oh, ow, 2), mode="bilinear", padding_mode="zeros",
                         align_corners=True)


def _blend(a: np.ndarray, b: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(b + (a - b) * factor, 0.0, 1.0)


def _grey(image: np.ndarray) -> np.ndarray:
    return (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None]


def _equalize(image: np.ndarray) -> np.ndarray:
    out = np.empty_like(image)
    for c in range(3):
        levels = np.round(image[c] * 255).astype(np.int64)
        hist = np.bincount(levels.ravel(), minlength=256)
        cdf = np.cumsum(hist) / levels.size
        out[c] = cdf[levels]
    return out


# photometric operations: pixel values change, the keypoints stay where they are
RANDAUGMENT_OPS = {
    "identity": lambda im, v: im,
    "brightness": lambda im, v: _blend(im, np.zeros_like(im), 1 + v * 0.9),
    "contrast": lambda im, v: _blend(im, np.full_like(im, _grey(im).mean()), 1 + v * 0.9),
    "color": lambda im, v: _blend(im, np.repeat(_grey(im), 3, axis=0), 1 + v * 0.9),
    "solarize": lambda im, v: np.where(im >= 1 - abs(v), 1 - im, im),
    "posterize": lambda im, v: np.floor(im * 255 / 2 ** int(abs(v) * 4)) * 2 ** int(abs(v) * 4) / 255,
    "autocontrast": lambda im, v: (im - im.min(axis=(1, 2), keepdims=True))
    / np.maximum(np.ptp(im, axis=(1, 2), keepdims=True), 1e-6),
    "equalize": lambda im, v: _equalize(im),
}


def _about_centre(m: np.ndarray, w: int, h: int) -> np.ndarray:
    """The 2x2 map ``m`` applied about the crop's centre, as a 2x3 map of crop pixels."""
    c = np.array([w * 0.5, h * 0.5])
    return np.column_stack([m, c - m @ c])


# geometric operations as 2x3 maps of crop pixels (signed magnitude v in [-1, 1]; RandAugment's ranges:
# 30 degrees, shear 0.3, translation 0.45 of the crop): composed into the view's affine map, so the
# keypoints and the warps between views follow them (DualPose's "Affine + RandAug")
RANDAUGMENT_GEOMETRIC = {
    "rotate": lambda v, w, h: _about_centre(
        np.array([[np.cos(np.deg2rad(30 * v)), np.sin(np.deg2rad(30 * v))],
                  [-np.sin(np.deg2rad(30 * v)), np.cos(np.deg2rad(30 * v))]]), w, h),
    "shear_x": lambda v, w, h: _about_centre(np.array([[1.0, 0.3 * v], [0.0, 1.0]]), w, h),
    "shear_y": lambda v, w, h: _about_centre(np.array([[1.0, 0.0], [0.3 * v, 1.0]]), w, h),
    "translate_x": lambda v, w, h: np.array([[1.0, 0.0, 0.45 * v * w], [0.0, 1.0, 0.0]]),
    "translate_y": lambda v, w, h: np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.45 * v * h]]),
}


def draw_randaugment(rng: np.random.Generator, ops: int = 2, magnitude: int = 10,
                     geometric: bool = True) -> list[tuple[str, float]]:
    """RandAugment's draw: ``ops`` operations chosen uniformly (photometric, and geometric unless
    ``geometric=False``), each at ``magnitude`` out of 30 with a random sign."""
    names = list(RANDAUGMENT_OPS) + (list(RANDAUGMENT_GEOMETRIC) if geometric else [])
    return [(str(n), magnitude / 30 * (1 if rng.random() < 0.5 else -1)) for n in rng.choice(names, size=ops)]


def randaugment_view(view: View, draws: list[tuple[str, float]]) -> View:
    """``view`` followed by the draw's geometric operations, in order."""
    m = view.matrix
    for name, v in draws:
        if name in RANDAUGMENT_GEOMETRIC:
            m = compose(RANDAUGMENT_GEOMETRIC[name](v, *view.output_size), m)
    return replace(view, matrix=m)


def randaugment_pixels(image: np.ndarray, draws: list[tuple[str, float]]) -> np.ndarray:
    """The draw's photometric operations, in order, on a (3, h, w) image in [0, 1]."""
    for name, v in draws:
        if name in RANDAUGMENT_OPS:
            image = RANDAUGMENT_OPS[name](image, v).astype(np.float32)
    return image


def randaugment(image: np.ndarray, rng: np.random.Generator, ops: int = 2, magnitude: int = 10) -> np.ndarray:
    """RandAugment's photometric half on a (3, h, w) image in [0, 1] (the geometric half needs the view:
    :func:`randaugment_view`)."""
    return randaugment_pixels(image, draw_randaugment(rng, ops, magnitude, geometric=False))
