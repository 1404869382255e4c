"""Supervised 3D lifting recipe (VideoPose3D): MPJPE loss on single-frame windows, strided model.

Adam (amsgrad) with a per-epoch exponential learning-rate decay and VideoPose3D's BatchNorm
momentum decay; evaluation copies the weights into the dilated model and lifts whole sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from ..data.windows import WindowBatch, WindowSampler
from ..metrics.mpjpe import weighted_mpjpe_torch
from ..models.tcn import TemporalModel, TemporalModelStrided
from .base import EarlyStopping, RecipeBase, Schedule, autocast

__all__ = ["Schedule", "SupervisedLifting", "autocast"]


class SupervisedLifting(RecipeBase):
    """Recipe for :func:`semipose.engine.fit`."""

    def __init__(
        self,
        model: TemporalModelStrided,
        eval_model: TemporalModel,
        sampler: WindowSampler,
        schedule: Schedule,
        batch_size: int,
        evaluate_fn: Callable[[TemporalModel], dict[str, Any]],
        device: torch.device,
        precision: str = "fp32",
        amsgrad: bool = True,
        early_stopping: EarlyStopping | None = None,
    ):
        super().__init__({"model": model}, schedule, evaluate_fn, device, amsgrad, early_stopping)
        self.model, self.eval_model = model, eval_model.to(device)  # (RecipeBase moved the model)
        self.sampler, self.batch_size, self.precision = sampler, batch_size, precision

    def num_samples(self) -> int:
        return len(self.sampler)

    def start_epoch(self, epoch: int, num_epochs: int) -> dict[str, float]:
        lr = self.set_learning_rate(epoch)
        momentum = self.schedule.bn_momentum_at(epoch)
        self.model.set_bn_momentum(momentum)
        self.model.train()
        return {"lr": lr, "bn_momentum": momentum}

    def set_progress(self, fraction: float) -> dict[str, float]:
        momentum = self.schedule.bn_momentum_at_fraction(fraction)
        self.model.set_bn_momentum(momentum)
        return {**super().set_progress(fraction), "bn_momentum": momentum}

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

    def evaluation_model(self) -> torch.nn.Module:
        """The dilated model with the trained weights: it lifts whole sequences in one pass."""
        self.eval_model.load_state_dict(self.model.state_dict())
        return self.eval_model
