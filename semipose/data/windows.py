"""Receptive-field windows over 2D keypoint sequences, for training batches and whole-sequence inference.

Every sequence is edge-padded once and all of them are concatenated into one tensor, so a training
batch is a single gather (no Python loop per sample). Horizontal flip augmentation is a second,
mirrored copy of the same tensor: an augmented epoch visits every window once in each copy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from ..skeletons import Skeleton
from .errors import DataError


def pad_amounts(receptive_field: int, causal: bool) -> tuple[int, int]:
    """Frames of edge padding (left, right) so that every frame gets a full window."""
    pad = (receptive_field - 1) // 2
    shift = pad if causal else 0
    return pad + shift, pad - shift


def pad_sequence(kp: np.ndarray, receptive_field: int, causal: bool) -> np.ndarray:
    left, right = pad_amounts(receptive_field, causal)
    return np.pad(kp, ((left, right), (0, 0), (0, 0)), mode="edge")


def flip_2d(kp: np.ndarray | torch.Tensor, skeleton: Skeleton):
    """Mirror normalised 2D keypoints horizontally and swap left and right joints."""
    out = kp.clone() if isinstance(kp, torch.Tensor) else kp.copy()
    out[..., 0] *= -1
    return out[..., skeleton.flip_permutation(), :]


def flip_3d(pos: np.ndarray | torch.Tensor, skeleton: Skeleton):
    """Mirror camera-space 3D poses (negate x) and swap left and right joints."""
    return flip_2d(pos, skeleton)


@dataclass
class WindowBatch:
    inputs: torch.Tensor  # (B, receptive_field, J, 2)
    targets: torch.Tensor  # (B, 1, J, 3)
    index: torch.Tensor  # (B,) frame index into the concatenated (unflipped) data
    aux: torch.Tensor | None = None  # (B, ...) per-frame extras (trajectory, camera), flipped with the copy


class WindowSampler:
    """Shuffled batches of (window of 2D, centre-frame 3D) pairs over many sequences."""

    def __init__(self, inputs_2d: list[np.ndarray], targets_3d: list[np.ndarray], receptive_field: int,
                 skeleton: Skeleton, causal: bool = False, flip: bool = True,
                 weights: list[np.ndarray] | None = None, aux: list[np.ndarray] | None = None,
                 aux_flip: Callable[[np.ndarray], np.ndarray] | None = None):
        """``aux``: optional per-frame arrays (T, ...) that travel with each sample, such as the root
        trajectory or the camera intrinsics; ``aux_flip`` mirrors them for the flipped copy."""
        if len(inputs_2d) != len(targets_3d):
            raise ValueError("inputs and targets must have the same number of sequences")
        if not sum(int(kp.shape[0]) for kp in inputs_2d):
            raise DataError("no training frames: the selected subjects, actions and splits leave none (check "
                            "data.subjects_train, data.actions, train.val_fraction)")
        self.receptive_field = receptive_field
        self.flip = flip
        padded, starts, offset = [], [], 0
        for kp, tgt in zip(inputs_2d, targets_3d):
            if kp.shape[0] != tgt.shape[0]:
                raise ValueError(f"sequence with {kp.shape[0]} 2D frames and {tgt.shape[0]} 3D frames")
            p = pad_sequence(kp, receptive_field, causal)
            padded.append(p)
            starts.append(offset + np.arange(kp.shape[0]))
            offset += p.shape[0]
        x = np.concatenate(padded).astype(np.float32)
        y = np.concatenate(targets_3d).astype(np.float32)
        copies_x, copies_y = [x], [y]
        if flip:
            copies_x.append(flip_2d(x, skeleton))
            copies_y.append(flip_3d(y, skeleton))
        self._x = torch.from_numpy(np.stack(copies_x))  # (copies, frames_padded, J, 2)
        self._y = torch.from_numpy(np.stack(copies_y))  # (copies, frames, J, 3)
        w = np.concatenate(weights).astype(np.float32) if weights is not None else np.ones(len(y), np.float32)
        self._w = torch.from_numpy(w)
        self._aux = None
        if aux is not None:
            a = np.concatenate(aux).astype(np.float32)
            copies = [a] + ([aux_flip(a) if aux_flip else a] if flip else [])
            self._aux = torch.from_numpy(np.stack(copies))
        self._starts = torch.from_numpy(np.concatenate(starts))
        self._offsets = torch.arange(receptive_field)

    @property
    def num_frames(self) -> int:
        return int(self._y.shape[1])

    def __len__(self) -> int:
        """Samples in one epoch (frames times copies)."""
        return self.num_frames * self._y.shape[0]


    def gather(self, sample: torch.Tensor) -> WindowBatch:
        """Batch for sample ids in [0, len): id // frames picks the copy, id % frames the frame."""
        copy, frame = sample // self.num_frames, sample % self.num_frames
        start = self._starts[frame]
        windows = self._x[copy[:, None], start[:, None] + self._offsets]
        aux = self._aux[copy, frame] if self._aux is not None else None
        return WindowBatch(windows, self._y[copy, frame][:, None], frame, aux)

    def weights(self, frame: torch.Tensor) -> torch.Tensor:
        return self._w[frame]

    def batches(self, batch_size: int, rng: np.random.Generator) -> Iterator[WindowBatch]:
        order = torch.from_numpy(rng.permutation(len(self)))
        for i in range(0, len(order), batch_size):
            yield self.gather(order[i:i + batch_size])
