"""Live lifting: a causal model predicts each frame's 3D pose as soon as its 2D arrives.

A causal temporal model's output for frame ``t`` depends on frames ``t - R + 1 .. t`` only (R: receptive
field). :class:`StreamingLifter` keeps those frames in a ring buffer, starting from R copies of the first
frame (the edge padding of the offline causal pass), and runs the weight-compatible strided model on the
window: one output frame per call, the same numbers as lifting the whole sequence offline.

    lifter = StreamingLifter(model, skeleton, width=1920, height=1080)
    for keypoints in camera:              # (joints, 2) pixels, NaN where a joint was not found
        pose = lifter.push(keypoints)     # (joints, 3) root-relative, metres
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.cameras import normalize_screen_coordinates
from ..data.windows import flip_2d, flip_3d
from ..models.tcn import TCNConfig, TemporalModel, build_tcn
from ..skeletons import Skeleton


class StreamingLifter:
    """Frame-by-frame lifting with a causal model (see the module docstring). Joints missing in a frame
    (non-finite) keep their last seen position: a live stream has no future to interpolate from."""

    def __init__(self, model: TemporalModel, skeleton: Skeleton, width: int, height: int, flip: bool = True):
        if not model.causal:
            raise ValueError(
                "streaming needs a causal model (trained with model.causal=true): a symmetric one looks ahead"
            )
        cfg = TCNConfig(filter_widths=model.filter_widths, channels=model.channels, dropout=0.0, causal=True)
        self.model = build_tcn(cfg, model.num_joints_in, strided=True, num_joints_out=model.num_joints_out)
        self.model.load_state_dict(model.state_dict())
        device = next(model.parameters()).device
        self.model.to(device).eval()
        self.skeleton, self.width, self.height, self.flip, self.device = skeleton, width, height, flip, device
        self.window: torch.Tensor | None = None  # (R, J, 2) normalised
        self.last_seen: np.ndarray | None = None

    @property
    def receptive_field(self) -> int:
        return self.model.receptive_field

    def reset(self) -> None:
        """Forget the stream (a new video starts)."""
        self.window, self.last_seen = None, None

    @torch.no_grad()
    def push(self, keypoints: np.ndarray) -> np.ndarray:
        """The 3D pose (J, 3) of the frame whose 2D keypoints (J, 2, pixels) just arrived."""
        kp = np.asarray(keypoints, dtype=np.float32)
        if kp.shape != (self.model.num_joints_in, 2):
            raise ValueError(f"expected keypoints ({self.model.num_joints_in}, 2), got {kp.shape}")
        missing = ~np.isfinite(kp).all(axis=1)
        if missing.any():
            if self.last_seen is None or not np.isfinite(self.last_seen[missing]).all():
                if missing.all():
                    raise ValueError("no joint found in the stream's first frame: nothing to lift yet")
                kp[missing] = np.nanmean(kp[~missing], axis=0)  # until seen, at the body's centre
            else:
                kp[missing] = self.last_seen[missing]
        self.last_seen = kp
        frame = torch.from_numpy(normalize_screen_coordinates(kp, self.width, self.height)).to(self.device)
        if self.window is None:
            self.window = frame.expand(self.receptive_field, *frame.shape).clone()
        else:
            self.window = torch.cat([self.window[1:], frame[None]])
        x = self.window[None]
        if self.flip:
            x = torch.cat([x, flip_2d(x, self.skeleton)])
        y = self.model(x).float()[:, 0]
        if self.flip:
            y = (y[:1] + flip_3d(y[1:], self.skeleton)) / 2
        return y[0].cpu().numpy()
