"""Supervised training of a top-down heatmap model into a run directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..config import dump_yaml
from ..data.crops import CropDataset
from ..engine import fit_run, prepare_run_dir, resolve_device, set_threads
from ..engine.memory_format import memory_format_for_run
from ..engine.precision import precision_for_run
from ..engine.saved import model_record
from ..io import atomic_torch_save
from ..methods.base import Schedule
from ..methods.supervised_pose2d import SupervisedPose2D
from ..models.heatmap_net import build_heatmap_net
from ..models.profile import count_flops, count_parameters, describe
from ..plots import POSE2D_CURVES, plot_training_curve
from ..reports import write_metrics
from .config import Pose2DConfig
from .data import image_example, load_people, make_codec
from .evaluate import evaluate_model


def train(cfg: Pose2DConfig, run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    run_dir = Path(run_dir)
    set_threads(cfg.train.threads)
    device = resolve_device(cfg.train.device)
    d, t = cfg.data, cfg.train
    w, h = d.input_size
    codec = make_codec(d)
    train_people, skel, _ = load_people(d, "train")
    val_people, _, val_doc = load_people(d, "val")
    train_data = CropDataset(train_people, skel, codec, d.augmentation)
    val_data = CropDataset(val_people, skel, codec, "none")
    torch.manual_seed(t.seed)
    model = build_heatmap_net(cfg.model, skel.num_joints)
    epochs = t.epochs_for(len(train_data))
    schedule = Schedule.from_train(t, epochs)
    example = image_example(d, t.batch_size)
    choice = precision_for_run(t.precision, device, model, example, t.progress)
    layout = memory_format_for_run(t.memory_format, device, [model], example, choice.used, t.progress)
    recipe = SupervisedPose2D(
        model,
        train_data,
        schedule,
        t.batch_size,
        lambda m: evaluate_model(m, val_data, val_doc, t.test_flip),
        device,
        choice.used,
        t.amsgrad,
    )
    prepare_run_dir(
        run_dir,
        dump_yaml(cfg),
        t.seed,
        {
            "parameters": count_parameters(model),
            "gflops": count_flops(model, (1, 3, h, w)) / 1e9,
            "train_instances": len(train_data),
            "val_instances": len(val_data),
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "precision": choice.record(),
            "memory_format": layout.record(),
        },
    )
    if t.progress:
        print(describe(model, (1, 3, h, w)))
    _, metrics = fit_run(recipe, run_dir, epochs, t, choice.used, resume)
    atomic_torch_save(
        model_record("pose2d", recipe.model.state_dict(), dataclasses.asdict(cfg.model), skel), run_dir / "model.pt"
    )
    write_metrics(run_dir, metrics)
    plot_training_curve(
        run_dir / "log.csv", run_dir / "training_curve.png", POSE2D_CURVES, ("training loss", 1.0), "validation"
    )
    return metrics
