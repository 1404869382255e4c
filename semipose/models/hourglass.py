"""Stacked Hourglass (Newell et al., ECCV 2016), after the Princeton reference code, with two variants
from the hourglass-variants study: the multi-branch HRU residual unit (Chu et al., CVPR 2017) and
transposed-convolution upsampling.

Output: (batch, stacks, joints, H/4, W/4), one heatmap set per stack for intermediate supervision.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _bn_relu_conv(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, k, padding=k // 2))


class Residual(nn.Module):
    """The original unit: pre-activated 1x1 -> 3x3 -> 1x1 bottleneck plus a skip (1x1 when widths differ)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = max(1, cout // 2)
        self.branch = nn.Sequential(_bn_relu_conv(cin, mid, 1), _bn_relu_conv(mid, mid, 3), _bn_relu_conv(mid, cout, 1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.branch(x)


class HRU(Residual):
    """Hourglass Residual Unit: the original unit plus a branch of 2x2 max-pooling, two 3x3 convolutions
    and upsampling, which widens the receptive field (10x10 instead of 3x3)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(cin, cout)
        mid = max(1, cout // 2)
        self.wide = nn.Sequential(
            nn.MaxPool2d(2, ceil_mode=True), _bn_relu_conv(cin, mid, 3), _bn_relu_conv(mid, cout, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide = F.interpolate(self.wide(x), size=x.shape[-2:], mode="nearest")
        return self.skip(x) + self.branch(x) + wide


UNITS = {"residual": Residual, "hru": HRU}


class Hourglass(nn.Module):
    def __init__(self, depth: int, width: int, unit: type[Residual], upsample: str):
        super().__init__()
        self.up1 = unit(width, width)
        self.low1 = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), unit(width, width))
        self.low2 = Hourglass(depth - 1, width, unit, upsample) if depth > 1 else unit(width, width)
        self.low3 = unit(width, width)
        if upsample == "deconv":
            self.up2: nn.Module = nn.ConvTranspose2d(width, width, 3, stride=2, padding=1, output_padding=1)
        elif upsample == "nearest":
            self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        else:
            raise ValueError(f"upsample must be nearest or deconv, got {upsample!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.up2(self.low3(self.low2(self.low1(x))))
        if low.shape[-2:] != x.shape[-2:]:  # odd sizes on the way down: back to this level's size
            low = F.interpolate(low, size=x.shape[-2:], mode="nearest")
        return self.up1(x) + low


class StackedHourglass(nn.Module):
    def __init__(
        self,
        num_joints: int,
        stacks: int = 2,
        width: int = 256,
        depth: int = 4,
        unit: str = "residual",
        upsample: str = "nearest",
    ):
        super().__init__()
        if not 1 <= stacks <= 8:
            raise ValueError(f"stacks must be 1 to 8, got {stacks}")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {sorted(UNITS)}, got {unit!r}")
        U = UNITS[unit]
        self.stacks = stacks
        self.pre = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            U(64, 128),
            nn.MaxPool2d(2),
            U(128, 128),
            U(128, width),
        )
        self.hourglasses = nn.ModuleList(Hourglass(depth, width, U, upsample) for _ in range(stacks))
        self.features = nn.ModuleList(
            nn.Sequential(U(width, width), nn.Conv2d(width, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
            for _ in range(stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(width, num_joints, 1) for _ in range(stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(stacks - 1))
        self.merge_preds = nn.ModuleList(nn.Conv2d(num_joints, width, 1) for _ in range(stacks - 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.pre(images)
        outputs = []
        for i in range(self.stacks):
            feature = self.features[i](self.hourglasses[i](x))
            preds = self.heads[i](feature)
            outputs.append(preds)
            if i < self.stacks - 1:
                x = x + self.merge_preds[i](preds) + self.merge_features[i](feature)
        return torch.stack(outputs, dim=1)
