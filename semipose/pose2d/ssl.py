"""Semi-supervised 2D training: protocols, semi-supervised batches, and the run.

Protocols (``ssl.protocol``):

* ``partial``: the first ``ssl.labeled`` person instances of the training set are labeled, the rest
  unlabeled (their labels are never read): COCO-Partial;
* ``additional``: the whole training set is labeled and a second dataset (``ssl.unlabeled_ann``,
  ``ssl.unlabeled_images``; its keypoints are never read) is unlabeled: COCO-Additional.

An epoch visits every unlabeled instance once (:class:`semipose.data.crops.SemiBatches`); the methods
are in :mod:`semipose.methods.ssl2d`, the offline pseudo-labels in :mod:`semipose.methods.pseudo_pose2d`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import POSITIVE, ConfigError, checked, dump_yaml, load_config
from ..data.coco import PersonInstance, load_coco_keypoints
from ..data.crops import CropDataset, SemiBatches
from ..data.npz3d import expand_path
from ..engine import fit_run, prepare_run_dir, resolve_device, set_threads
from ..engine.memory_format import memory_format_for_run
from ..engine.precision import precision_for_run
from ..engine.saved import model_record
from ..io import atomic_torch_save
from ..methods.base import Schedule
from ..methods.pseudo_pose2d import pseudo_label_people
from ..methods.ssl2d import CollapseConfig, MethodConfig, SemiSupervisedPose2D
from ..models.heatmap_net import build_heatmap_net
from ..models.profile import count_parameters, describe
from ..plots import POSE2D_CURVES, plot_collapse, plot_training_curve
from ..reports import write_metrics
from ..skeletons import Skeleton
from .config import Pose2DConfig
from .data import image_example, load_people, make_codec
from .evaluate import evaluate_model
from .model_file import load_model


@dataclass
class SSLDataConfig:
    protocol: str = "partial"  # partial | additional
    labeled: int = checked(500, **POSITIVE)  # partial: the first N person instances are labeled
    unlabeled_ann: str | None = None  # additional: a COCO-format json of the unlabeled people (boxes)
    unlabeled_images: str | None = None
    max_unlabeled: int | None = checked(None, **POSITIVE)  # use only the first this many unlabeled instances

    def validate(self) -> None:
        if self.protocol not in ("partial", "additional"):
            raise ConfigError(f"ssl.protocol must be partial or additional, got {self.protocol!r}")
        if self.protocol == "additional" and not (self.unlabeled_ann and self.unlabeled_images):
            raise ConfigError("ssl.protocol=additional needs ssl.unlabeled_ann and ssl.unlabeled_images")
        if self.labeled < 1:
            raise ConfigError(f"ssl.labeled must be at least 1, got {self.labeled}")


@dataclass
class SSL2DConfig(Pose2DConfig):
    ssl: SSLDataConfig = field(default_factory=SSLDataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    collapse: CollapseConfig = field(default_factory=CollapseConfig)


def load_ssl2d_config(path=None, overrides: list[str] | None = None) -> SSL2DConfig:
    return load_config(SSL2DConfig, path, overrides)


def split_protocol(cfg: SSL2DConfig) -> tuple[list[PersonInstance], list[PersonInstance], Any]:
    """Labeled and unlabeled person instances, and the skeleton."""
    people, skel, _ = load_people(cfg.data, "train")
    s = cfg.ssl
    if s.protocol == "partial":
        if s.labeled >= len(people):
            raise ConfigError(
                f"ssl.labeled={s.labeled} leaves no unlabeled instance of the {len(people)} in {cfg.data.train_ann}"
            )
        labeled, unlabeled = people[: s.labeled], people[s.labeled :]
    else:
        aspect = cfg.data.input_size[0] / cfg.data.input_size[1]
        labeled = people
        assert s.unlabeled_ann and s.unlabeled_images  # checked by SSLDataConfig.validate
        unlabeled, _, _ = load_coco_keypoints(expand_path(s.unlabeled_ann), expand_path(s.unlabeled_images), aspect)
    if s.max_unlabeled is not None:
        unlabeled = unlabeled[: s.max_unlabeled]
    # the unlabeled instances' labels are never read: drop them so that no code path can
    unlabeled = [dataclasses.replace(p, keypoints=np.zeros_like(p.keypoints)) for p in unlabeled]
    return labeled, unlabeled, skel


def _teacher(cfg: SSL2DConfig, run_dir: Path, skeleton: Skeleton, progress: bool) -> torch.nn.Module:
    """The pseudo-label teacher: ``method.teacher``'s model, else a supervised run of this config trained
    (or resumed, or read back) in ``<run>/teacher``."""
    path = cfg.method.teacher
    if path is None:
        teacher_dir = run_dir / "teacher"
        if not (teacher_dir / "model.pt").is_file():
            teacher_cfg = dataclasses.replace(cfg, method=dataclasses.replace(cfg.method, name="supervised"))
            train_ssl(teacher_cfg, teacher_dir, resume=True, progress=progress)
        path = str(teacher_dir / "model.pt")
    model, teacher_skeleton = load_model(path)
    if teacher_skeleton.joints != skeleton.joints:
        raise ConfigError(
            f"method.teacher={path}: its model predicts the joints of skeleton {teacher_skeleton.name!r} "
            f"({teacher_skeleton.num_joints}); the data has {skeleton.name!r} ({skeleton.num_joints})"
        )
    return model


def train_ssl(
    cfg: SSL2DConfig, run_dir: str | Path, resume: bool = False, progress: bool | None = None
) -> dict[str, Any]:
    """Train ``cfg.method`` under ``cfg.ssl``; writes the run directory (log, checkpoints, model, metrics,
    collapse plot). Returns the final metrics (the ensemble's for two networks, and each network's)."""
    run_dir = Path(run_dir)
    set_threads(cfg.train.threads)
    device = resolve_device(cfg.train.device)
    d, t, m = cfg.data, cfg.train, cfg.method
    progress = t.progress if progress is None else progress
    codec = make_codec(d)
    labeled_people, unlabeled_people, skel = split_protocol(cfg)
    val_people, _, val_doc = load_people(d, "val")
    labeled = CropDataset(labeled_people, skel, codec, d.augmentation)
    unlabeled = CropDataset(unlabeled_people, skel, codec, "none")
    val = CropDataset(val_people, skel, codec, "none")
    info: dict[str, Any] = {
        "labeled_instances": len(labeled),
        "unlabeled_instances": len(unlabeled),
        "val_instances": len(val),
        "device": str(device),
    }
    pseudo = None
    if m.name == "pseudo_label":
        teacher = _teacher(cfg, run_dir, skel, progress).to(device)
        people, stats = pseudo_label_people(teacher, unlabeled, m.pseudo_threshold, t.test_flip)
        pseudo = CropDataset(people, skel, codec, d.augmentation)
        info.update(stats)
    torch.manual_seed(t.seed)
    nets = [build_heatmap_net(cfg.model, skel.num_joints) for _ in range(2 if m.dual else 1)]
    batches = SemiBatches(labeled, unlabeled, m.unlabeled_views(), t.batch_size, pseudo)
    epochs = t.epochs_for(len(batches))
    example = image_example(d, t.batch_size)
    choice = precision_for_run(t.precision, device, nets[0], example, progress)
    layout = memory_format_for_run(t.memory_format, device, nets, example, choice.used, progress)
    recipe = SemiSupervisedPose2D(
        nets,
        m,
        cfg.collapse,
        Schedule.from_train(t, epochs),
        batches,
        len(batches),
        lambda net: evaluate_model(net, val, val_doc, t.test_flip),
        device,
        d.sigma,
        (d.input_size[0], d.input_size[1]),
        choice.used,
        t.seed,
        t.amsgrad,
        skel.flip_permutation().tolist(),
    )
    prepare_run_dir(
        run_dir,
        dump_yaml(cfg),
        t.seed,
        info
        | {"parameters": count_parameters(nets[0]), "precision": choice.record(), "memory_format": layout.record()},
    )
    if progress:
        print(f"{len(nets)} x {describe(nets[0], (1, 3, d.input_size[1], d.input_size[0]))}")
    history, metrics = fit_run(recipe, run_dir, epochs, t, choice.used, resume, progress)
    metrics.update(
        epochs_run=len(history),
        collapsed_at=recipe.monitor.collapsed_at,
        **{k: v for k, v in info.items() if k.startswith("pseudo")},
    )
    net_weights = {f"net{i + 1}": n.state_dict() for i, n in enumerate(recipe.nets)}  # the first is the model
    record = model_record("pose2d", net_weights["net1"], dataclasses.asdict(cfg.model), skel, **net_weights)
    atomic_torch_save(record, run_dir / "model.pt")
    write_metrics(run_dir, metrics)
    plot_training_curve(
        run_dir / "log.csv", run_dir / "training_curve.png", POSE2D_CURVES, ("training loss", 1.0), "validation"
    )
    if m.name != "supervised":
        plot_collapse(run_dir / "log.csv", run_dir / "collapse.png")
    return metrics
