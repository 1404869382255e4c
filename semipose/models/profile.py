"""Parameter counts, sizes and FLOPs of a model, by forward hooks on its convolutions and linears."""

from __future__ import annotations

import typing

import torch
import torch.nn as nn


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates x 2 of one forward pass on a zero input of ``input_shape`` (batch included)."""
    macs = [0]

    def conv_hook(m: nn.Module, inp, out) -> None:
        w = typing.cast(torch.Tensor, m.weight)
        if isinstance(m, nn.ConvTranspose2d):  # every input pixel spreads over the kernel
            macs[0] += inp[0].numel() * w.shape[1] * w.shape[2] * w.shape[3]
        else:
            macs[0] += out.numel() * (w.shape[1] * int(torch.tensor(w.shape[2:]).prod()))

    def linear_hook(m: nn.Module, inp, out) -> None:
        macs[0] += out.numel() * typing.cast(nn.Linear, m).in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return 2 * macs[0]


def describe(model: nn.Module, input_shape: tuple[int, ...]) -> str:
    n = count_parameters(model)
    return (
        f"{type(model).__name__}: {n / 1e6:.2f} M parameters ({n * 4 / 2**20:.1f} MiB fp32), "
        f"{count_flops(model, input_shape) / 1e9:.2f} GFLOPs per {tuple(input_shape)} input"
    )
