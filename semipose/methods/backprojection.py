"""VideoPose3D's semi-supervised back-projection (Pavllo et al., CVPR 2019, section 4).

Two networks read the same 2D windows: the pose model predicts root-relative 3D, the trajectory
model the root's position in camera space. Labeled batches train both on the truth (the trajectory
loss weighted by 1/depth); after ``warmup`` epochs, each labeled batch is joined by an unlabeled
batch whose predicted pose plus trajectory is projected through the camera intrinsics and compared
with its own 2D input (the centre frame), and a bone-length term asks the unlabeled poses to have the
labeled poses' mean bone lengths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from ..data.windows import WindowBatch, WindowSampler
from ..metrics.mpjpe import mpjpe_torch, weighted_mpjpe_torch
from ..models.tcn import TemporalModel, TemporalModelStrided
from .base import EarlyStopping, RecipeBase, Schedule, autocast


def project_linear(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Pinhole projection of camera-space points (B, T, J, 3) with (fx, fy, cx, cy) per sample (B, 4)
    in normalised screen units, no distortion. As VideoPose3D's ``project_to_2d`` does, x/z and y/z
    are clamped to [-1, 1] (90 degrees of view), so that an untrained trajectory near zero depth
    cannot blow the reprojection loss up."""
    f = intrinsics[:, None, None, :2]
    c = intrinsics[:, None, None, 2:]
    z = points[..., 2:]
    safe_z = torch.where(z.abs() < 1e-6, torch.full_like(z, 1e-6), z)
    return f * (points[..., :2] / safe_z).clamp(-1.0, 1.0) + c


def flip_trajectory(traj: np.ndarray) -> np.ndarray:
    out = traj.copy()
    out[..., 0] *= -1
    return out


def flip_intrinsics(cam: np.ndarray) -> np.ndarray:
    """Mirroring the image negates the principal point's x (normalised coordinates are centred)."""
    out = cam.copy()
    out[..., 2] *= -1
    return out


class BackProjectionLifting(RecipeBase):
    """Recipe for :func:`semipose.engine.fit`; an epoch is one pass over the labeled samples."""

    def __init__(
        self,
        pose: TemporalModelStrided,
        traj: TemporalModelStrided,
        eval_model: TemporalModel,
        labeled: WindowSampler,
        unlabeled: WindowSampler,
        parents: list[int],
        schedule: Schedule,
        batch_size: int,
        evaluate_fn: Callable[[TemporalModel], dict[str, Any]],
        device: torch.device,
        warmup: int = 1,
        bone_length_term: bool = True,
        precision: str = "fp32",
        amsgrad: bool = True,
        pseudo_weight: float = 0.0,
        early_stopping: EarlyStopping | None = None,
    ):
        if labeled._aux is None or unlabeled._aux is None:
            raise ValueError("labeled windows need the root trajectory, unlabeled windows the camera intrinsics")
        super().__init__({"model": pose, "traj": traj}, schedule, evaluate_fn, device, amsgrad, early_stopping)
        self.pose, self.traj, self.eval_model = pose, traj, eval_model.to(device)  # (RecipeBase moved pose, traj)
        self.labeled, self.unlabeled = labeled, unlabeled
        self.parents = torch.tensor(parents[1:])
        self.batch_size, self.warmup, self.bone_length_term, self.precision = (
            batch_size,
            warmup,
            bone_length_term,
            precision,
        )
        self.semi = False
        self.pseudo_weight = pseudo_weight  # > 0: unlabeled windows also carry 3D pseudo-labels as targets

    def num_samples(self) -> int:
        return len(self.labeled)

    def start_epoch(self, epoch: int, num_epochs: int) -> dict[str, float]:
        self.semi = epoch >= self.warmup
        lr = self.set_learning_rate(epoch)
        momentum = self.schedule.bn_momentum_at(epoch)
        for m in (self.pose, self.traj):
            m.set_bn_momentum(momentum)
            m.train()
        return {"lr": lr, "bn_momentum": momentum, "semi_supervised": float(self.semi)}

    def set_progress(self, fraction: float) -> dict[str, float]:
        """Under a time budget the labeled-only warm-up is the same share of the budget as of the epochs."""
        self.semi = fraction >= self.warmup / max(1, self.schedule.epochs)
        momentum = self.schedule.bn_momentum_at_fraction(fraction)
        for m in (self.pose, self.traj):
            m.set_bn_momentum(momentum)
        return {**super().set_progress(fraction), "bn_momentum": momentum, "semi_supervised": float(self.semi)}

    def batches(self, epoch: int, rng: np.random.Generator) -> Iterable[tuple[WindowBatch, WindowBatch]]:
        unl = self.unlabeled.batches(self.batch_size, rng)
        for lab in self.labeled.batches(self.batch_size, rng):
            try:
                u = next(unl)
            except StopIteration:  # fewer unlabeled than labeled samples: go round again
                unl = self.unlabeled.batches(self.batch_size, rng)
                u = next(unl)
            yield lab, u

    def train_step(self, batch: tuple[WindowBatch, WindowBatch]) -> dict[str, float]:
        lab, unl = batch
        n = lab.inputs.shape[0]
        semi = self.semi
        x = torch.cat([lab.inputs, unl.inputs]) if semi else lab.inputs
        x = x.to(self.device)
        y = lab.targets.to(self.device)
        assert lab.aux is not None  # the samplers' aux arrays were checked in __init__
        traj_true = lab.aux.to(self.device)[:, None, None, :]  # (B, 1, 1, 3)
        with autocast(self.device, self.precision):
            pose = self.pose(x)
            traj = self.traj(x)
        pose, traj = pose.float(), traj.float()
        loss_pose = mpjpe_torch(pose[:n], y)
        w = 1.0 / traj_true[..., 2]
        loss_traj = (w * torch.linalg.vector_norm(traj[:n] - traj_true, dim=-1)).mean()
        loss = loss_pose + loss_traj
        out = {"loss_3d": float(loss_pose.detach()), "loss_traj": float(loss_traj.detach())}
        if semi:
            assert unl.aux is not None
            cam = unl.aux.to(self.device)
            centre = unl.inputs.shape[1] // 2 if not self.pose.causal else unl.inputs.shape[1] - 1
            target_2d = unl.inputs[:, centre : centre + 1].to(self.device)
            reprojected = project_linear(pose[n:] + traj[n:], cam)
            loss_2d = mpjpe_torch(reprojected, target_2d)
            loss = loss + loss_2d
            out["loss_2d"] = float(loss_2d.detach())
            if self.pseudo_weight > 0:
                w = self.unlabeled.weights(unl.index).to(self.device)
                loss_pseudo = weighted_mpjpe_torch(pose[n:], unl.targets.to(self.device), w)
                loss = loss + self.pseudo_weight * loss_pseudo
                out["loss_pseudo"] = float(loss_pseudo.detach())
            if self.bone_length_term:
                bones = torch.linalg.vector_norm(pose[:, :, 1:] - pose[:, :, self.parents], dim=-1)
                penalty = (bones[:n].mean(dim=(0, 1)) - bones[n:].mean(dim=(0, 1))).abs().mean()
                loss = loss + penalty
                out["loss_bones"] = float(penalty.detach())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach()), **out, "n": n}

    def evaluation_model(self) -> torch.nn.Module:
        self.eval_model.load_state_dict(self.pose.state_dict())
        return self.eval_model
