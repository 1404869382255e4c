"""Which memory layout an image network trains in: ``contiguous`` (NCHW), ``channels_last`` (NHWC) or ``auto``.

On CPUs, oneDNN's kernels favour channels-last: on a 2-vCPU AMD EPYC Zen 4 the 2D networks trained 1.1-2.0
times and ran forward passes 1.3-2.7 times faster channels-last, in fp32 and bf16 alike; the plain layout's
bf16 max-pooling is slow (docs/pose2d.md, "Memory layout"). Other machines may differ, so ``auto`` times one training step of the run's own model both ways, in the run's precision, and
takes channels-last only when it measures at least ``MARGIN`` times faster: a near tie keeps the plain
layout, so the choice does not flip with timing noise. Rates are cached with the precision probe's.

Only the model's weights change layout; inputs may come in either (convolutions follow the weights) and the
saved weights load into a model of either layout, so a choice changes speed and rounding, not results'
meaning.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from .precision import StepFn, cached_rates, measure_rates, probe_key, step_probe

MEMORY_FORMATS = ("auto", "contiguous", "channels_last")
MARGIN = 1.1
TORCH_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def set_layout(model: torch.nn.Module, layout: str) -> torch.nn.Module:
    """Put ``model``'s 4-D weights in ``layout`` in place (``Module.to`` takes ``memory_format`` at run time
    though its typed signatures do not say so)."""
    return cast(Any, model).to(memory_format=TORCH_FORMATS[layout])


@dataclass
class LayoutChoice:
    """What layout a run trains in, and why (written to ``run_info.json``)."""

    requested: str
    used: str
    reason: str
    rates: dict[str, float] = field(default_factory=dict)  # measured training samples/s per layout

    def record(self) -> dict[str, Any]:
        return asdict(self)


def layout_probe(model: torch.nn.Module, example: torch.Tensor, device: torch.device, precision: str) -> StepFn:
    """One forward and backward pass of a copy of ``model`` in the given layout (the run's model untouched)."""

    def configure(probe: torch.nn.Module, layout: str) -> str:
        set_layout(probe, layout)
        return precision

    return step_probe(model, example, device, configure)


def resolve_memory_format(
    requested: str,
    device: torch.device,
    model: torch.nn.Module | None = None,
    example: torch.Tensor | None = None,
    precision: str = "fp32",
    cache: Path | None = None,
    step: StepFn | None = None,
) -> LayoutChoice:
    """Turn ``train.memory_format`` into the layout a run uses (see the module's docstring); ``auto``
    measures ``step`` (a layout name -> samples trained) or else a probe of ``model`` on ``example``."""
    if requested not in MEMORY_FORMATS:
        raise ValueError(f"train.memory_format must be one of {', '.join(MEMORY_FORMATS)}, got {requested!r}")
    if requested != "auto":
        return LayoutChoice(requested, requested, "forced by train.memory_format")
    names = ("contiguous", "channels_last")
    if step is not None:
        rates = measure_rates(step, names, device)
    elif model is not None and example is not None:
        key = probe_key(model, example, device, probe="memory_format", precision=precision)
        rates = cached_rates(
            key, lambda: measure_rates(layout_probe(model, example, device, precision), names, device), cache, names
        )
    else:
        return LayoutChoice(requested, "contiguous", "nothing to measure")
    ratio = rates["channels_last"] / rates["contiguous"]
    used = "channels_last" if ratio >= MARGIN else "contiguous"
    return LayoutChoice(requested, used, f"channels_last measured {ratio:.2f}x the rate of contiguous", rates)


def memory_format_for_run(
    requested: str,
    device: torch.device,
    models: list[torch.nn.Module],
    example: torch.Tensor,
    precision: str,
    verbose: bool = True,
) -> LayoutChoice:
    """:func:`resolve_memory_format` for a training run's models (all alike: the first is measured), which
    are put in the chosen layout in place; says what it chose on stderr."""
    choice = resolve_memory_format(requested, device, models[0], example, precision)
    for model in models:
        set_layout(model, choice.used)
    if verbose:
        print(f"memory format: {choice.used} ({choice.reason})", file=sys.stderr)
    return choice
