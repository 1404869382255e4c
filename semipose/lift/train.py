"""Train a lifting model into a run directory (supervised, with early stopping on held-out recordings)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import dump_yaml
from ..data.npz3d import Sequence
from ..data.windows import WindowSampler
from ..engine import fit_run, prepare_run_dir, resolve_device, set_threads
from ..engine.precision import precision_for_run
from ..engine.saved import model_record
from ..io import atomic_torch_save
from ..methods.base import EarlyStopping
from ..methods.supervised_lift import Schedule, SupervisedLifting
from ..models.profile import count_parameters
from ..models.tcn import TemporalModel, TemporalModelStrided, build_tcn
from ..plots import plot_training_curve
from ..reports import write_lifting_metrics
from ..skeletons import Skeleton
from .config import LiftConfig, LiftTrainConfig
from .data import load_split
from .evaluate import evaluate_model, predict_sequences


def hold_out(
    sequences: list[Sequence], skel: Skeleton, t: LiftTrainConfig
) -> tuple[list[Sequence], EarlyStopping | None]:
    """With ``train.val_fraction``: the training sequences less a held-out run of each recording, and
    the early stopping that validates on that run (MPJPE in mm, no flip averaging)."""
    if t.val_fraction <= 0:
        return sequences, None
    from ..data.splits import cut, split_labeled

    held, rest = split_labeled(sequences, t.val_fraction, seed=t.seed)
    val = cut(sequences, held)
    return cut(sequences, rest), early_stopping(
        t, [s.keypoints_2d for s in val], [s.root_relative_3d() for s in val], skel
    )


def validation_error(
    model: TemporalModel, inputs: list[np.ndarray], targets: list[np.ndarray], skel: Skeleton
) -> float:
    """MPJPE in mm over all frames of held-out sequences (no flip averaging: validation is frequent)."""
    preds = predict_sequences(model, inputs, skel, flip=False)
    err = np.concatenate([np.linalg.norm(p - t, axis=-1).mean(axis=-1) for p, t in zip(preds, targets)])
    return float(err.mean() * 1000.0)


def early_stopping(
    t: LiftTrainConfig, inputs: list[np.ndarray], targets: list[np.ndarray], skel: Skeleton
) -> EarlyStopping:
    return EarlyStopping(lambda m: validation_error(m, inputs, targets, skel), t.val_every, t.patience)


def lift_example(model: TemporalModel | TemporalModelStrided, skel: Skeleton, batch_size: int) -> torch.Tensor:
    """A training batch's input shape for the precision micro-benchmark (random, from a fixed generator)."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch_size, model.receptive_field, skel.num_joints, 2, generator=g)


def train(cfg: LiftConfig, run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """Train a lifting model into ``run_dir``; returns the final test metrics."""
    run_dir = Path(run_dir)
    if resume and not (run_dir / "checkpoint.pt").is_file():
        raise FileNotFoundError(f"{run_dir}: nothing to resume (no checkpoint.pt)")
    set_threads(cfg.train.threads)
    device = resolve_device(cfg.train.device)
    train_seqs, skel = load_split(cfg.data, cfg.data.subjects_train)
    test_seqs, _ = load_split(cfg.data, cfg.data.subjects_test)
    train_seqs, early = hold_out(train_seqs, skel, cfg.train)
    torch.manual_seed(cfg.train.seed)  # initial weights from the run's seed
    model = build_tcn(cfg.model, skel.num_joints, strided=True)
    eval_model = build_tcn(cfg.model, skel.num_joints)
    sampler = WindowSampler(
        [s.keypoints_2d for s in train_seqs],
        [s.root_relative_3d() for s in train_seqs],
        model.receptive_field,
        skel,
        cfg.model.causal,
        cfg.train.flip_augment,
    )
    t = cfg.train
    epochs = t.epochs_for(len(sampler))
    schedule = Schedule.from_train(t, epochs)
    choice = precision_for_run(t.precision, device, model, lift_example(model, skel, t.batch_size), t.progress)
    recipe = SupervisedLifting(
        model,
        eval_model,
        sampler,
        schedule,
        t.batch_size,
        lambda m: evaluate_model(m, test_seqs, skel, t.test_flip),
        device,
        choice.used,
        t.amsgrad,
        early,
    )
    prepare_run_dir(
        run_dir,
        dump_yaml(cfg),
        t.seed,
        {
            "skeleton": skel.name,
            "parameters": count_parameters(model),
            "receptive_field": model.receptive_field,
            "train_frames": sampler.num_frames,
            "train_samples_per_epoch": len(sampler),
            "test_frames": sum(s.num_frames for s in test_seqs),
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "precision": choice.record(),
        },
    )
    _, metrics = fit_run(recipe, run_dir, epochs, t, choice.used, resume)
    if early is not None:
        metrics.update(
            val_best_mm=early.best, val_best_epoch=early.best_epoch, stopped_early=bool(recipe.should_stop())
        )
    save_lifting_model(run_dir / "model.pt", recipe.eval_model, cfg, skel)
    write_lifting_metrics(run_dir, metrics)
    plot_training_curve(run_dir / "log.csv", run_dir / "training_curve.png")
    return metrics


def save_lifting_model(path: Path, model: TemporalModel, cfg: LiftConfig, skel: Skeleton) -> None:
    atomic_torch_save(model_record("lifting", model.state_dict(), dataclasses.asdict(cfg.model), skel), path)
