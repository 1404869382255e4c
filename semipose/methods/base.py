"""What every recipe shares: the per-epoch schedules (learning rate, BatchNorm momentum), mixed
precision, and :class:`RecipeBase` (named modules, one Adam optimizer, evaluation into
``last_metrics``, a checkpointable state of each module's weights plus the optimizer's)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Schedule:
    epochs: int
    lr: float = 1e-3
    lr_decay: float = 0.996  # per epoch, VideoPose3D's default ...
    lr_final: float | None = None  # ... unless a final rate is given: then the decay reaches it at the end
    bn_momentum: float = 0.1
    bn_momentum_final: float = 0.001
    bn_decay_epochs: int | None = None  # VideoPose3D decays over its planned epochs
    lr_steps: tuple[float, ...] = ()  # fractions of training where the rate steps down (replaces the decay)
    lr_step_factor: float = 0.1

    @classmethod
    def from_train(cls, t: Any, epochs: int) -> Schedule:
        """The schedule a ``train`` config section describes over ``epochs``; sections without
        BatchNorm momentum keys (2D) keep the defaults, which their recipes do not apply."""
        return cls(
            epochs,
            t.lr,
            t.lr_decay,
            t.lr_final,
            getattr(t, "bn_momentum", 0.1),
            getattr(t, "bn_momentum_final", 0.001),
            getattr(t, "bn_decay_epochs", None),
            tuple(getattr(t, "lr_steps", None) or ()),
            getattr(t, "lr_step_factor", 0.1),
        )

    def _stepped(self, fraction: float) -> float:
        return self.lr * self.lr_step_factor ** sum(fraction >= f for f in self.lr_steps)

    def lr_at(self, epoch: int) -> float:
        if self.lr_steps:
            return self._stepped(epoch / self.epochs)
        if self.lr_final is not None and self.epochs > 1:
            return self.lr * (self.lr_final / self.lr) ** (epoch / (self.epochs - 1))
        return self.lr * self.lr_decay**epoch

    def bn_momentum_at(self, epoch: float) -> float:
        span = self.bn_decay_epochs or self.epochs
        return self.bn_momentum * math.exp(-epoch / span * math.log(self.bn_momentum / self.bn_momentum_final))

    # Under a wall-clock budget the schedules follow the elapsed fraction of the budget instead of the
    # epoch: fraction 0 is the first epoch's value, fraction 1 the last planned epoch's.
    def lr_at_fraction(self, fraction: float) -> float:
        if self.lr_steps:
            return self._stepped(min(max(fraction, 0.0), 1.0))
        final = self.lr_final if self.lr_final is not None else self.lr * self.lr_decay ** max(0, self.epochs - 1)
        return self.lr * (final / self.lr) ** min(max(fraction, 0.0), 1.0)

    def bn_momentum_at_fraction(self, fraction: float) -> float:
        return self.bn_momentum_at(min(max(fraction, 0.0), 1.0) * max(0, self.epochs - 1))


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")


@dataclass
class EarlyStopping:
    """Validation on held-out *training* data (never the test split) every ``every`` epochs.

    ``validate`` scores the evaluation model (lower is better). The best weights are kept and
    restored when training ends; with ``patience > 0`` training stops after that many validations
    without an improvement of more than ``min_delta``."""

    validate: Callable[[Any], float]
    every: int = 1
    patience: int = 0
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    bad: int = 0
    best_state: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad": self.bad, "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad = state["best"], state["best_epoch"], state["bad"]
        self.best_state = state["best_state"]


class RecipeBase:
    """A recipe for :func:`semipose.engine.fit` (see ``engine.loop.Recipe``) with every hook
    implemented: validation and early stopping when given, else no-ops."""

    def __init__(
        self,
        modules: dict[str, torch.nn.Module],
        schedule: Schedule,
        evaluate_fn: Callable[[Any], dict[str, Any]],
        device: torch.device,
        amsgrad: bool = False,
        early_stopping: EarlyStopping | None = None,
    ):
        self.modules = {name: m.to(device) for name, m in modules.items()}
        self.schedule, self.evaluate_fn, self.device = schedule, evaluate_fn, device
        params = [p for m in self.modules.values() for p in m.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=schedule.lr, amsgrad=amsgrad)
        self.last_metrics: dict[str, Any] | None = None
        self.early_stopping = early_stopping

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """Per-epoch statistics for the log: here the validation error when early stopping is on."""
        es = self.early_stopping
        if es is None or (epoch + 1) % max(1, es.every):
            return {}
        score = float(es.validate(self.evaluation_model()))
        if score < es.best - es.min_delta:
            es.best, es.best_epoch, es.bad = score, epoch + 1, 0
            es.best_state = {
                name: {k: v.detach().clone() for k, v in m.state_dict().items()} for name, m in self.modules.items()
            }
        else:
            es.bad += 1
        return {"val_error": score, "val_best": es.best}

    def should_stop(self) -> bool:
        es = self.early_stopping
        return es is not None and es.patience > 0 and es.bad >= es.patience

    def end_training(self) -> None:
        """Before the final evaluation: the best-validated weights replace the last ones."""
        es = self.early_stopping
        if es is not None and es.best_state is not None:
            for name, m in self.modules.items():
                m.load_state_dict(es.best_state[name])

    def set_learning_rate(self, epoch: int) -> float:
        return self._apply_lr(self.schedule.lr_at(epoch))

    def _apply_lr(self, lr: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def set_progress(self, fraction: float) -> dict[str, float]:
        """Schedules at ``fraction`` of a wall-clock budget (the loop calls this before each step)."""
        return {"lr": self._apply_lr(self.schedule.lr_at_fraction(fraction))}

    def evaluation_model(self) -> torch.nn.Module:
        return self.modules["model"]

    def evaluate(self) -> dict[str, float]:
        """The full report stays in ``last_metrics``; the scalars go to the log."""
        self.last_metrics = self.evaluate_fn(self.evaluation_model())
        return {k: v for k, v in self.last_metrics.items() if isinstance(v, float)}

    def state_dict(self) -> dict[str, Any]:
        out = {**{name: m.state_dict() for name, m in self.modules.items()}, "optimizer": self.optimizer.state_dict()}
        if self.early_stopping is not None:
            out["early_stopping"] = self.early_stopping.state_dict()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, m in self.modules.items():
            m.load_state_dict(state[name])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.early_stopping is not None and "early_stopping" in state:
            self.early_stopping.load_state_dict(state["early_stopping"])
