"""VideoPose3D's temporal convolutional network (Pavllo et al., CVPR 2019).

Two forms share one set of weights (and VideoPose3D's parameter names, so its checkpoints load):

* :class:`TemporalModel` applies dilated convolutions and lifts a whole sequence in one pass.
* :class:`TemporalModelStrided` replaces dilation by stride and computes only the one output
  frame of a receptive-field window, the fast way to train. It runs its convolutions as matrix
  products in a channels-last layout, which is faster on CPU than ``conv1d`` for these shapes.

Inputs are (batch, frames, joints, 2); outputs (batch, frames - receptive_field + 1, joints_out, 3).
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import POSITIVE, PROBABILITY, ConfigError, checked
from .common import fast_dropout


class _TemporalBase(nn.Module):
    def __init__(
        self,
        num_joints_in: int,
        in_features: int,
        num_joints_out: int,
        filter_widths: Sequence[int],
        causal: bool = False,
        dropout: float = 0.25,
        channels: int = 1024,
    ):
        super().__init__()
        for fw in filter_widths:
            if fw % 2 == 0:
                raise ValueError(f"filter widths must be odd, got {list(filter_widths)}")
        self.num_joints_in, self.in_features = num_joints_in, in_features
        self.num_joints_out = num_joints_out
        self.filter_widths = list(filter_widths)
        self.causal = causal
        self.channels = channels
        self.dropout = dropout
        self.relu = nn.ReLU(inplace=True)
        self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, filter_widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        convs, bns = [], []
        dilation = filter_widths[0]
        for fw in filter_widths[1:]:
            convs.append(nn.Conv1d(channels, channels, fw, dilation=dilation, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            convs.append(nn.Conv1d(channels, channels, 1, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=0.1))
            dilation *= fw
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)

    @property
    def receptive_field(self) -> int:
        frames = 1
        for fw in self.filter_widths:
            frames *= fw
        return frames

    def set_bn_momentum(self, momentum: float) -> None:
        for bn in [self.expand_bn, *self.layers_bn]:
            typing.cast(nn.BatchNorm1d, bn).momentum = momentum

    def drop(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.dropout, self.training)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[-2:] != (self.num_joints_in, self.in_features):
            raise ValueError(
                f"expected input (batch, frames, {self.num_joints_in}, {self.in_features}), got {tuple(x.shape)}"
            )


class TemporalModel(_TemporalBase):
    """Dilated temporal model: lifts any sequence of at least ``receptive_field`` frames."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        b, t = x.shape[:2]
        x = x.reshape(b, t, -1).permute(0, 2, 1)
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        dilation = self.filter_widths[0]
        for i, fw in enumerate(self.filter_widths[1:]):
            pad = (fw - 1) * dilation // 2
            shift = pad if self.causal else 0
            res = x[:, :, pad + shift : x.shape[2] - pad + shift]
            x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))
            dilation *= fw
        x = self.shrink(x).permute(0, 2, 1)
        return x.reshape(b, -1, self.num_joints_out, 3)


class TemporalModelStrided(_TemporalBase):
    """Strided variant for training on single-frame windows; same weights as :class:`TemporalModel`."""

    def _bn(self, x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        return F.batch_norm(
            x, bn.running_mean, bn.running_var, bn.weight, bn.bias, self.training, float(bn.momentum or 0.0), bn.eps
        )

    @staticmethod
    def _strided_conv(x: torch.Tensor, conv: nn.Conv1d, width: int) -> torch.Tensor:
        """Convolution with kernel == stride as one matrix product: (B, T, C) -> (B, T/width, out)."""
        b, t, c = x.shape
        groups = x.reshape(b, t // width, width, c).transpose(2, 3).reshape(b * (t // width), c * width)
        return F.linear(groups, conv.weight.reshape(conv.out_channels, -1)).reshape(b, t // width, -1)

    def _block(self, y: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        b, t, c = y.shape
        return self.drop(self.relu(self._bn(y.reshape(b * t, c), bn))).reshape(b, t, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        b, t = x.shape[:2]
        if t != self.receptive_field:
            raise ValueError(f"the strided model takes windows of exactly {self.receptive_field} frames, got {t}")
        x = x.reshape(b, t, -1)
        x = self._block(self._strided_conv(x, self.expand_conv, self.filter_widths[0]), self.expand_bn)
        for i, fw in enumerate(self.filter_widths[1:]):
            offset = fw - 1 if self.causal else fw // 2
            res = x[:, offset::fw]
            conv, pointwise = (typing.cast(nn.Conv1d, self.layers_conv[2 * i + k]) for k in (0, 1))
            bn, bn_pointwise = (typing.cast(nn.BatchNorm1d, self.layers_bn[2 * i + k]) for k in (0, 1))
            y = self._block(self._strided_conv(x, conv, fw), bn)
            y = F.linear(y, pointwise.weight[:, :, 0])
            x = res + self._block(y, bn_pointwise)
        x = F.linear(x, self.shrink.weight[:, :, 0], self.shrink.bias)
        return x.reshape(b, -1, self.num_joints_out, 3)


@dataclass
class TCNConfig:
    """The ``model`` section of a lifting config: VideoPose3D's defaults (receptive field 27)."""

    filter_widths: list[int] = field(default_factory=lambda: [3, 3, 3])
    channels: int = checked(1024, **POSITIVE)
    dropout: float = checked(0.25, **PROBABILITY)
    causal: bool = False

    def validate(self) -> None:
        if not self.filter_widths or any(w < 1 or w % 2 == 0 for w in self.filter_widths):
            raise ConfigError(f"model.filter_widths must be odd positive numbers, got {self.filter_widths}")


@typing.overload
def build_tcn(
    cfg: TCNConfig, num_joints: int, *, strided: typing.Literal[False] = ..., num_joints_out: int | None = None
) -> TemporalModel: ...
@typing.overload
def build_tcn(
    cfg: TCNConfig, num_joints: int, *, strided: typing.Literal[True], num_joints_out: int | None = None
) -> TemporalModelStrided: ...
def build_tcn(
    cfg: TCNConfig, num_joints: int, *, strided: bool = False, num_joints_out: int | None = None
) -> _TemporalBase:
    """The dilated model (any sequence length), or with ``strided`` its weight-compatible variant
    for training on windows of exactly the receptive field."""
    cls = TemporalModelStrided if strided else TemporalModel
    return cls(
        num_joints,
        2,
        num_joints_out or num_joints,
        cfg.filter_widths,
        causal=cfg.causal,
        dropout=cfg.dropout,
        channels=cfg.channels,
    )


def tcn_config_from_weights(state: dict[str, torch.Tensor], causal: bool = False) -> tuple[TCNConfig, int, int]:
    """The config, input joints and output joints that a VideoPose3D-named state dict was trained with,
    read off its shapes (causality is not in the weights: say it). ValueError when the names or shapes
    are not a temporal model's."""
    needed = ("expand_conv.weight", "shrink.weight", "shrink.bias")
    missing = [k for k in needed if k not in state]
    if missing:
        raise ValueError(f"not a VideoPose3D temporal model: no {missing[0]!r} among {sorted(state)[:6]}")
    expand = state["expand_conv.weight"]
    channels, in_features, first = expand.shape
    widths = [int(first)]
    i = 0
    while f"layers_conv.{2 * i}.weight" in state:
        w = state[f"layers_conv.{2 * i}.weight"]
        if w.shape[:2] != (channels, channels) or f"layers_conv.{2 * i + 1}.weight" not in state:
            raise ValueError(
                f"layers_conv.{2 * i}.weight has shape {tuple(w.shape)}; expected ({channels}, {channels}, w)"
            )
        widths.append(int(w.shape[2]))
        i += 1
    out = state["shrink.weight"].shape[0]
    if in_features % 2 or out % 3:
        raise ValueError(f"input {in_features} and output {out} channels are not joints x 2 and joints x 3")
    cfg = TCNConfig(filter_widths=widths, channels=int(channels), causal=causal)
    cfg.validate()
    return cfg, int(in_features) // 2, int(out) // 3
