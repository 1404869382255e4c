"""Whole sequences through a lifting model, and its metrics on a config's test subjects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import dump_yaml
from ..data.npz3d import Sequence
from ..data.windows import flip_2d, flip_3d, pad_sequence
from ..engine import prepare_run_dir, set_threads
from ..metrics.mpjpe import evaluate_sequences
from ..models.tcn import TemporalModel
from ..reports import write_lifting_metrics
from ..skeletons import Skeleton
from .config import load_lift_config
from .data import load_split
from .model_file import load_model


def length_batches(lengths: list[int], max_frames: int = 8192) -> list[list[int]]:
    """Indices of sequences grouped by similar length so that a group padded to its longest member
    holds at most ``max_frames`` frames (a longer sequence goes alone)."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if groups and (len(groups[-1]) + 1) * lengths[i] <= max_frames:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


@torch.no_grad()
def predict_sequences(
    model: TemporalModel,
    keypoints: list[np.ndarray],
    skeleton: Skeleton,
    flip: bool = True,
    device: torch.device | None = None,
) -> list[np.ndarray]:
    """Lift whole sequences (normalised 2D, (T, J, 2)) to root-relative 3D.

    With ``flip``, the mirrored input is lifted too and its mirrored output averaged in. Sequences of
    similar length go through the model together (many short held-out runs would otherwise cost a
    pass each): each is edge-padded as alone, then repeated at its end to the group's length, which
    changes no output frame of its own.
    """
    device = device or next(model.parameters()).device
    model.eval()
    out: list[np.ndarray] = [np.empty(0)] * len(keypoints)
    for group in length_batches([len(kp) for kp in keypoints]):
        padded = [pad_sequence(keypoints[i], model.receptive_field, model.causal) for i in group]
        longest = max(len(p) for p in padded)
        x = torch.from_numpy(
            np.stack([np.pad(p, ((0, longest - len(p)), (0, 0), (0, 0)), mode="edge") for p in padded])
        ).to(device)
        if flip:
            x = torch.cat([x, flip_2d(x, skeleton)])
        y = model(x).float()
        if flip:
            y = (y[: len(group)] + flip_3d(y[len(group) :], skeleton)) / 2
        y_np = y.cpu().numpy()
        for row, i in enumerate(group):
            out[i] = y_np[row, : len(keypoints[i])]
    return out


def evaluate_model(
    model: TemporalModel, sequences: list[Sequence], skeleton: Skeleton, flip: bool = True
) -> dict[str, Any]:
    preds = predict_sequences(model, [s.keypoints_2d for s in sequences], skeleton, flip)
    return evaluate_sequences(
        preds,
        [s.root_relative_3d() for s in sequences],
        [s.subject for s in sequences],
        [s.action_name for s in sequences],
    )


def evaluate(
    model_path: str | Path,
    overrides: list[str] | None = None,
    config: str | Path | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics of a lifting model (a run directory, ``model.pt`` or ``checkpoint.pt``) on the test subjects of
    ``config`` (default: the run's ``config.yaml``) with ``overrides``; written to ``out_dir`` (default:
    ``<run>/evaluation``) as ``metrics.{json,md,csv}``."""
    model_path = Path(model_path)
    run_dir = model_path if model_path.is_dir() else model_path.parent
    cfg_file = Path(config) if config else run_dir / "config.yaml"
    cfg = load_lift_config(cfg_file if config or cfg_file.is_file() else None, overrides)
    set_threads(cfg.train.threads)
    model, skel = load_model(model_path, cfg.train.device)
    test_seqs, data_skel = load_split(cfg.data, cfg.data.subjects_test)
    if data_skel.num_joints != skel.num_joints:
        raise ValueError(f"model expects {skel.name} joints, data has {data_skel.name}")
    out = prepare_run_dir(out_dir or run_dir / "evaluation", dump_yaml(cfg), cfg.train.seed, {"model": str(model_path)})
    metrics = evaluate_model(model, test_seqs, skel, cfg.train.test_flip)
    write_lifting_metrics(out, metrics)
    return metrics
