"""Which 2D heatmap network to build and how big: the config of the Stacked Hourglass and SimpleBaseline
models and their one builder, as :class:`semipose.models.tcn.TCNConfig` is the lifter's."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import POSITIVE, ConfigError, checked
from ..data.npz3d import expand_path
from .hourglass import StackedHourglass
from .simplebaseline import RESNETS, SimpleBaseline, load_resnet_weights

NETS = ("hourglass", "simplebaseline")


@dataclass
class Pose2DModelConfig:
    name: str = "hourglass"  # hourglass | simplebaseline
    stacks: int = checked(1, ge=1, le=8)
    width: int = checked(128, **POSITIVE)
    unit: str = checked("residual", choices=("residual", "hru"))
    upsample: str = checked("nearest", choices=("nearest", "deconv"))
    resnet_depth: int = checked(18, choices=tuple(RESNETS))
    pretrained: str | None = None  # a local torchvision-named ResNet state dict

    def validate(self) -> None:
        if self.name not in NETS:
            raise ConfigError(f"model.name must be one of {NETS}, got {self.name!r}")


def build_heatmap_net(cfg: Pose2DModelConfig, num_joints: int) -> torch.nn.Module:
    """The network ``cfg`` names, with ``num_joints`` heatmaps; SimpleBaseline's backbone from
    ``cfg.pretrained`` when given (a local file; nothing is downloaded)."""
    if cfg.name == "hourglass":
        return StackedHourglass(num_joints, cfg.stacks, cfg.width, unit=cfg.unit, upsample=cfg.upsample)
    model = SimpleBaseline(num_joints, cfg.resnet_depth)
    if cfg.pretrained:
        load_resnet_weights(model, expand_path(cfg.pretrained))
    return model
