"""VideoPose3D's semi-supervised back-projection, end to end: its config section, the training run
that wires the pose and trajectory networks, the windows of labeled and unlabeled sequences and the
recipe (:class:`semipose.methods.backprojection.BackProjectionLifting`) into the training loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import dump_yaml
from ..data.npz3d import Sequence
from ..data.windows import WindowSampler
from ..engine import fit_run, prepare_run_dir, resolve_device, set_threads
from ..engine.precision import precision_for_run
from ..methods.backprojection import BackProjectionLifting, flip_intrinsics, flip_trajectory
from ..methods.base import Schedule
from ..models.tcn import build_tcn
from ..reports import write_lifting_metrics
from ..skeletons import Skeleton
from .config import LiftConfig
from .evaluate import evaluate_model
from .train import early_stopping, lift_example, save_lifting_model


def _intrinsics(s: Sequence) -> np.ndarray:
    try:
        return s.require_camera(intrinsics=True).intrinsics_normalized()
    except ValueError as e:
        raise ValueError(f"back-projection needs camera intrinsics: {e}") from None


def train_backprojection(
    cfg: LiftConfig,
    labeled: list[Sequence],
    unlabeled: list[Sequence],
    test: list[Sequence],
    skel: Skeleton,
    run_dir: str | Path,
    warmup_fraction: float = 0.2,
    bone_length_term: bool = True,
    resume: bool = False,
    pseudo_labels: list[np.ndarray] | None = None,
    pseudo_weights: list[np.ndarray] | None = None,
    pseudo_weight: float = 1.0,
    validation: list[Sequence] | None = None,
) -> dict[str, Any]:
    """VideoPose3D's semi-supervised back-projection on labeled and unlabeled sequences (with cameras).

    The first ``warmup_fraction`` of the epochs (at least one) train on labeled data only. With
    ``pseudo_labels`` (root-relative 3D for each unlabeled sequence) the unlabeled windows are also
    fitted to them, weighted by ``pseudo_weight`` times the per-frame ``pseudo_weights``: pseudo-labels
    and back-projection on the same unlabeled sequences. ``validation``: held-out labeled sequences
    for early stopping (``train.val_every``, ``train.patience``)."""
    intrinsics = [_intrinsics(s) for s in unlabeled]  # refuses sequences without cameras before any work
    run_dir = Path(run_dir)
    set_threads(cfg.train.threads)
    device = resolve_device(cfg.train.device)
    t, m = cfg.train, cfg.model
    torch.manual_seed(t.seed)
    pose = build_tcn(cfg.model, skel.num_joints, strided=True)
    traj = build_tcn(m, skel.num_joints, strided=True, num_joints_out=1)
    eval_model = build_tcn(cfg.model, skel.num_joints)
    rf = pose.receptive_field
    lab = WindowSampler(
        [s.keypoints_2d for s in labeled],
        [s.root_relative_3d() for s in labeled],
        rf,
        skel,
        m.causal,
        t.flip_augment,
        aux=[s.positions_3d[:, 0] for s in labeled],
        aux_flip=flip_trajectory,
    )
    unl_targets = pseudo_labels if pseudo_labels is not None else [np.zeros_like(s.positions_3d) for s in unlabeled]
    unl = WindowSampler(
        [s.keypoints_2d for s in unlabeled],
        unl_targets,
        rf,
        skel,
        m.causal,
        t.flip_augment,
        pseudo_weights,
        aux=[np.repeat(k[None], s.num_frames, 0) for k, s in zip(intrinsics, unlabeled)],
        aux_flip=flip_intrinsics,
    )
    epochs = t.epochs_for(len(lab))
    warmup = max(1, int(round(warmup_fraction * epochs)))
    schedule = Schedule.from_train(t, epochs)
    choice = precision_for_run(t.precision, device, pose, lift_example(pose, skel, 2 * t.batch_size), t.progress)
    recipe = BackProjectionLifting(
        pose,
        traj,
        eval_model,
        lab,
        unl,
        list(skel.parents),
        schedule,
        t.batch_size,
        lambda mdl: evaluate_model(mdl, test, skel, t.test_flip),
        device,
        warmup,
        bone_length_term,
        choice.used,
        t.amsgrad,
        pseudo_weight if pseudo_labels is not None else 0.0,
        early_stopping(t, [s.keypoints_2d for s in validation], [s.root_relative_3d() for s in validation], skel)
        if validation
        else None,
    )
    prepare_run_dir(
        run_dir,
        dump_yaml(cfg),
        t.seed,
        {
            "method": "back-projection",
            "warmup": warmup,
            "labeled_frames": lab.num_frames,
            "unlabeled_frames": unl.num_frames,
            "precision": choice.record(),
        },
    )
    _, metrics = fit_run(recipe, run_dir, epochs, t, choice.used, resume)
    save_lifting_model(run_dir / "model.pt", recipe.eval_model, cfg, skel)
    write_lifting_metrics(run_dir, metrics)
    return metrics
