"""The 2D task's config: data, model and training sections, and the config a finished run wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..config import POSITIVE, ConfigError, checked, load_config
from ..data.transforms2d import AUGMENTATIONS
from ..engine import TrainConfig
from ..engine.memory_format import MEMORY_FORMATS
from ..models.heatmap_net import Pose2DModelConfig


@dataclass
class Pose2DDataConfig:
    train_ann: str = "data/synthpose/annotations/person_keypoints_train.json"
    train_images: str = "data/synthpose/train"
    val_ann: str = "data/synthpose/annotations/person_keypoints_val.json"
    val_images: str = "data/synthpose/val"
    input_size: list[int] = checked(default_factory=lambda: [128, 128], **POSITIVE)  # w, h
    sigma: float = checked(2.0, **POSITIVE)
    # targets centred at the exact sub-pixel position and DARK decoding (MMPose's ``unbiased=True``); false: the
    # reference code's targets on the nearest heatmap pixel and the quarter-pixel shift
    unbiased: bool = False
    augmentation: str = checked("weak", choices=AUGMENTATIONS)
    format: str = "coco"  # coco (any COCO-format keypoint json) | mpii (MMPose's MPII json)

    def validate(self) -> None:
        if self.format not in ("coco", "mpii"):
            raise ConfigError(f"data.format must be coco or mpii, got {self.format!r}")


@dataclass
class Pose2DTrainConfig(TrainConfig):
    """The common training settings with the 2D recipes' defaults (plain Adam, as SimpleBaseline)."""

    # lifting keys that 2D configs carried before they had their own section, without effect there
    RETIRED: ClassVar[frozenset[str]] = frozenset(
        {"bn_momentum", "bn_momentum_final", "bn_decay_epochs", "flip_augment", "val_fraction", "val_every", "patience"}
    )
    epochs: int = checked(10, **POSITIVE)
    batch_size: int = checked(32, **POSITIVE)
    lr_final: float | None = checked(1e-5, **POSITIVE)
    amsgrad: bool = False
    # the weights' layout: auto measures contiguous against channels_last here (engine/memory_format.py)
    memory_format: str = checked("auto", choices=MEMORY_FORMATS)


@dataclass
class Pose2DConfig:
    data: Pose2DDataConfig = field(default_factory=Pose2DDataConfig)
    model: Pose2DModelConfig = field(default_factory=Pose2DModelConfig)
    train: Pose2DTrainConfig = field(default_factory=Pose2DTrainConfig)


def load_pose2d_config(path=None, overrides: list[str] | None = None) -> Pose2DConfig:
    return load_config(Pose2DConfig, path, overrides)


# the sections a `pose2d ssl` run's config adds to Pose2DConfig (pose2d.ssl.SSL2DConfig; a test keeps them in step)
SSL_SECTIONS = ("ssl", "method", "collapse")


def load_run_config(path: Path, overrides: list[str] | None = None) -> Pose2DConfig:
    """The config a 2D run wrote, ``pose2d train``'s or ``pose2d ssl``'s, as far as evaluating, predicting
    with and exporting its model need it (data, model, train)."""
    return load_config(Pose2DConfig, path, overrides, ignore=SSL_SECTIONS)
