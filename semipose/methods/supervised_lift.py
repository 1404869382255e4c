"""Supervised 3D lifting recipe (VideoPose3D): MPJPE loss on single-frame windows, strided model.

Adam (amsgrad) with a per-epoch exponential learning-rate decay and VideoPose3D's BatchNorm
momentum decay; evaluation copies the weights into the dilated model and lifts whole sequences.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import torch

from ..data.windows import WindowBatch, WindowSampler
from ..metrics.mpjpe import weighted_mpjpe_torch
from ..models.tcn import TemporalModel, TemporalModelStrided


@dataclass
class Schedule:
    epochs: int
    lr: float = 1e-3
    lr_decay: float = 0.996  # per epoch, VideoPose3D's default ...
    lr_final: float | None = None  # ... unless a final rate is given: then the decay reaches it at the end
    bn_momentum: float = 0.1
    bn_momentum_final: float = 0.001
    bn_decay_epochs: int | None = None  # VideoPose3D decays over its planned epochs

    def lr_at(self, epoch: int) -> float:
        if self.lr_final is not None and self.epochs > 1:
            return self.lr * (self.lr_final / self.lr) ** (epoch / (self.epochs - 1))
        return self.lr * self.lr_decay ** epoch

    def bn_momentum_at(self, epoch: int) -> float:
        span = self.bn_decay_epochs or self.epochs
        return self.bn_momentum * math.exp(-epoch / span * math.log(self.bn_momentum / self.bn_momentum_final))


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")


class SupervisedLifting:
    """Recipe for :func:`semipose.engine.fit`."""

    def __init__(self, model: TemporalModelStrided, eval_model: TemporalModel, sampler: WindowSampler,
                 schedule: Schedule, batch_size: int, evaluate_fn: Callable[[TemporalModel], dict[str, Any]],
                 device: torch.device, precision: str = "fp32", amsgrad: bool = True):
        self.model, self.eval_model = model.to(device), eval_model.to(device)
        self.sampler, self.schedule, self.batch_size = sampler, schedule, batch_size
        self.evaluate_fn, self.device, self.precision = evaluate_fn, device, precision
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=schedule.lr, amsgrad=amsgrad)
        self.last_metrics: dict[str, Any] | None = None

    def num_samples(self) -> int:
        return len(self.sampler)

    def start_epoch(self, epoch: int, num_epochs: int) -> dict[str, float]:
        lr = self.schedule.lr_at(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        momentum = self.schedule.bn_momentum_at(epoch)
        self.model.set_bn_momentum(momentum)
        self.model.train()
        return {"lr": lr, "bn_momentum": momentum}

    def batches(self, epoch: int, rng: np.random.Generator) -> Iterable[WindowBatch]:
        return self.sampler.batches(self.batch_size, rng)

    def train_step(self, batch: WindowBatch) -> dict[str, float]:
        x = batch.inputs.to(self.device, non_blocking=True)
        y = batch.targets.to(self.device, non_blocking=True)
        w = self.sampler.weights(batch.index).to(self.device)
        with autocast(self.device, self.precision):
            pred = self.model(x)
        loss = weighted_mpjpe_torch(pred.float(), y, w)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach()), "n": x.shape[0]}

    def evaluate(self) -> dict[str, float]:
        """Copy the weights into the dilated model and evaluate it; the full report stays in
        ``last_metrics``, the scalar summary goes to the log."""
        self.eval_model.load_state_dict(self.model.state_dict())
        self.last_metrics = self.evaluate_fn(self.eval_model)
        return {k: v for k, v in self.last_metrics.items() if isinstance(v, float)}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
