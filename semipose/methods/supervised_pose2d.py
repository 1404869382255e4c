"""Supervised top-down 2D pose estimation for the one training loop: heatmap regression with intermediate
supervision (every stack's heatmaps against the Gaussian targets), and the inference every 2D path shares
(crops, optional flip test, decoding back into image pixels)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..codecs.heatmap import flip_back
from ..data.crops import CropDataset
from ..data.transforms2d import invert_affine, warp_points
from .base import RecipeBase, Schedule, autocast
from .heatmap_ops import heatmap_loss


class SupervisedPose2D(RecipeBase):
    """Recipe for :func:`semipose.engine.fit`: heatmap regression with intermediate supervision."""

    def __init__(
        self,
        model: torch.nn.Module,
        data: CropDataset,
        schedule: Schedule,
        batch_size: int,
        evaluate_fn: Callable[[torch.nn.Module], dict[str, Any]],
        device: torch.device,
        precision: str = "fp32",
        amsgrad: bool = False,
    ):
        super().__init__({"model": model}, schedule, evaluate_fn, device, amsgrad)
        self.model, self.data, self.batch_size, self.precision = self.modules["model"], data, batch_size, precision

    def num_samples(self) -> int:
        return len(self.data)

    def start_epoch(self, epoch: int, num_epochs: int) -> dict[str, float]:
        lr = self.set_learning_rate(epoch)
        self.model.train()
        return {"lr": lr}

    def batches(self, epoch: int, rng: np.random.Generator):
        return self.data.batches(self.batch_size, rng)

    def train_step(self, batch) -> dict[str, float]:
        images, heatmaps, weights = (t.to(self.device) for t in batch)
        with autocast(self.device, self.precision):
            pred = self.model(images)
        loss = heatmap_loss(pred.float(), heatmaps, weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach()), "n": images.shape[0]}


@torch.no_grad()
def predict_people(
    model: torch.nn.Module, data: CropDataset, flip_test: bool = True, batch_size: int = 64, method: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (N, K, 2) in image pixels and their scores (N, K), from the last stack's heatmaps decoded
    by ``method`` (default: the codec's)."""
    model.eval()
    device = next(model.parameters()).device
    rng = np.random.default_rng(0)
    out_kp, out_sc = [], []
    perm = data.skeleton.flip_permutation()
    for s in range(0, len(data), batch_size):
        idx = range(s, min(len(data), s + batch_size))
        views = [data.view(i, rng, "none") for i in idx]
        images = torch.from_numpy(np.stack([data.image(i, v) for i, v in zip(idx, views)])).to(device)
        hm = model(images)[:, -1].float()
        if flip_test:
            hm_f = model(torch.flip(images, dims=[3]))[:, -1].float().cpu().numpy()
            hm = (hm + torch.from_numpy(flip_back(hm_f, perm)).to(device)) / 2
        for h, v in zip(hm.cpu().numpy(), views):
            kp, sc = data.codec.decode(h, method)
            out_kp.append(warp_points(kp, invert_affine(v.matrix)))
            out_sc.append(sc)
    return np.stack(out_kp), np.stack(out_sc)
