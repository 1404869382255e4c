"""The people of a COCO or MPII file as a 2D run's data section names them, and its heatmap codec."""

from __future__ import annotations

import torch

from ..codecs.heatmap import HeatmapCodec
from ..data.coco import PersonInstance, load_coco_keypoints, load_mpii
from ..data.npz3d import expand_path
from ..skeletons import MPII16, Skeleton
from .config import Pose2DDataConfig


def load_people(d: Pose2DDataConfig, split: str) -> tuple[list[PersonInstance], Skeleton, dict | None]:
    """Person instances of the ``train`` or ``val`` split, their skeleton, and the COCO document (None for MPII)."""
    ann, images = (d.train_ann, d.train_images) if split == "train" else (d.val_ann, d.val_images)
    aspect = d.input_size[0] / d.input_size[1]
    if d.format == "mpii":
        return load_mpii(expand_path(ann), expand_path(images), aspect), MPII16, None
    # with ground-truth boxes, crowd and unannotated people are left out of evaluation too (SimpleBaseline's use_gt_bbox)
    return load_coco_keypoints(expand_path(ann), expand_path(images), aspect)


def image_example(d: Pose2DDataConfig, batch_size: int) -> torch.Tensor:
    """A training batch's input shape for the precision micro-benchmark."""
    w, h = d.input_size
    return torch.randn(batch_size, 3, h, w, generator=torch.Generator().manual_seed(0))


def make_codec(d: Pose2DDataConfig) -> HeatmapCodec:
    w, h = d.input_size
    return HeatmapCodec((w, h), (w // 4, h // 4), d.sigma, d.unbiased)
