"""Semi-supervised 2D training: protocols, semi-supervised batches, and the run.

Protocols (``ssl.protocol``):

* ``partial``: the first ``ssl.labeled`` person instances of the training set are labeled, the rest
  unlabeled (their labels are never read): COCO-Partial;
* ``additional``: the whole training set is labeled and a second dataset (``ssl.unlabeled_ann``,
  ``ssl.unlabeled_images``; its keypoints are never read) is unlabeled: COCO-Additional.

An epoch visits every unlabeled instance once; each batch holds ``train.batch_size`` labeled and as
many unlabeled instances, the labeled set resampled (shuffled copies, cut) to the unlabeled set's length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import POSITIVE, ConfigError, checked, dump_yaml, load_config
from .data.coco import PersonInstance, load_coco_keypoints
from .data.npz3d import expand_path
from .data.transforms2d import randaugment, sample_view, view_to_view
from .engine import fit, prepare_run_dir, resolve_device, run_summary, set_threads
from .engine.precision import precision_for_run
from .engine.saved import model_record, read_model
from .io import atomic_torch_save, atomic_write_json
from .methods.base import Schedule
from .methods.ssl2d import CollapseConfig, MethodConfig, SemiSupervisedPose2D
from .models.profile import count_parameters, describe
from .plots import plot_collapse
from .pose2d import (
    CropDataset,
    Pose2DConfig,
    build_model,
    evaluate_pose2d,
    image_example,
    load_people,
    make_codec,
    predict_people,
)


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


class SemiBatches:
    """Builds the batches of an epoch: labeled crops with targets, unlabeled views for the method."""

    def __init__(
        self,
        labeled: CropDataset,
        unlabeled: CropDataset,
        method: MethodConfig,
        batch_size: int,
        pseudo: CropDataset | None = None,
    ):
        self.labeled, self.unlabeled, self.method, self.batch_size, self.pseudo = (
            labeled,
            unlabeled,
            method,
            batch_size,
            pseudo,
        )
        self.stride = float(labeled.codec.stride[0])

    def __len__(self) -> int:
        return len(self.unlabeled)

    def __call__(self, epoch: int, rng: np.random.Generator) -> Iterator[dict[str, Any]]:
        n = len(self.unlabeled)
        reps = -(-n // len(self.labeled))
        lab_order = np.concatenate([rng.permutation(len(self.labeled)) for _ in range(reps)])[:n]
        unl_order = rng.permutation(n)
        B = self.batch_size
        for s in range(0, n, B):
            if n - s == 1 and s > 0:
                break  # a lone last sample: BatchNorm cannot train on one 1x1 map
            lab = [self.labeled.sample(int(i), self.labeled.view(int(i), rng)) for i in lab_order[s : s + B]]
            batch: dict[str, Any] = {"labeled": tuple(torch.from_numpy(np.stack(x)) for x in zip(*lab))}
            if self.method.name != "supervised":
                batch["unlabeled"] = self._unlabeled([int(i) for i in unl_order[s : s + B]], rng)
            yield batch

    def _unlabeled(self, idx: list[int], rng: np.random.Generator) -> dict[str, Any]:
        m = self.method
        if m.name == "pseudo_label":
            assert self.pseudo is not None  # the pseudo-labeled people come with this method
            items = [self.pseudo.sample(i, self.pseudo.view(i, rng)) for i in idx]
            images, targets, weights = (torch.from_numpy(np.stack(x)) for x in zip(*items))
            return {"hard": images, "targets": targets, "target_weights": weights}
        data = self.unlabeled
        photometric = (
            (lambda im: randaugment(im, rng, m.randaugment_ops, m.randaugment_magnitude)) if m.randaugment else None
        )
        easy, hard, maps, views, view_maps = [], [], [], [], []
        for i in idx:
            p = data.people[i]
            size = data.codec.input_size
            v_easy = sample_view(p.center, p.scale, size, m.easy, rng)
            v_hard = sample_view(p.center, p.scale, size, m.hard, rng)
            easy.append(data.image(i, v_easy))
            hard.append(data.image(i, v_hard, photometric))
            maps.append(view_to_view(v_easy, v_hard, self.stride))
            if m.name == "denoised":
                extra = [sample_view(p.center, p.scale, size, m.easy, rng) for _ in range(m.weak_views - 1)]
                extra += [sample_view(p.center, p.scale, size, m.strong, rng) for _ in range(m.strong_views)]
                views.append([easy[-1]] + [data.image(i, v) for v in extra])
                view_maps.append([maps[-1]] + [view_to_view(v, v_hard, self.stride) for v in extra])
        out = {
            "easy": torch.from_numpy(np.stack(easy)),
            "hard": torch.from_numpy(np.stack(hard)),
            "easy_to_hard": torch.from_numpy(np.stack(maps)).float(),
        }
        if views:
            out["views"] = torch.from_numpy(np.stack(views, axis=1))  # (V, B, 3, H, W)
            out["views_to_hard"] = torch.from_numpy(np.stack(view_maps, axis=1)).float()
        return out


def pseudo_label_people(
    model: torch.nn.Module, unlabeled: CropDataset, threshold: float, flip_test: bool = True
) -> tuple[list[PersonInstance], dict[str, float]]:
    """The unlabeled people with a teacher's keypoints as labels: visible (2) where its maximum response
    exceeds ``threshold``, unlabeled (0) elsewhere; and the share of joints kept."""
    kp, sc = predict_people(model, unlabeled, flip_test)
    out = []
    for p, k, s in zip(unlabeled.people, kp, sc):
        vis = np.where(s > threshold, 2.0, 0.0)
        out.append(dataclasses.replace(p, keypoints=np.column_stack([k, vis]).astype(np.float32)))
    kept = float((sc > threshold).mean()) if len(sc) else 0.0
    return out, {"pseudo_joints_kept": kept, "pseudo_mean_score": float(sc.mean()) if len(sc) else 0.0}


def train_ssl2d(
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
        teacher_cfg = dataclasses.replace(cfg, method=dataclasses.replace(m, name="supervised"))
        teacher_dir = run_dir / "teacher"
        if not (teacher_dir / "model.pt").is_file():
            train_ssl2d(teacher_cfg, teacher_dir, resume=True, progress=progress)
        teacher = build_model(cfg.model, skel.num_joints).to(device)
        teacher.load_state_dict(read_model(teacher_dir / "model.pt", "pose2d")["model"])
        people, stats = pseudo_label_people(teacher, unlabeled, m.pseudo_threshold, t.test_flip)
        pseudo = CropDataset(people, skel, codec, d.augmentation)
        info.update(stats)
    torch.manual_seed(t.seed)
    nets = [build_model(cfg.model, skel.num_joints) for _ in range(2 if m.dual else 1)]
    batches = SemiBatches(labeled, unlabeled, m, t.batch_size, pseudo)
    epochs = t.epochs_for(len(batches))
    choice = precision_for_run(t.precision, device, nets[0], image_example(d, t.batch_size), progress)
    recipe = SemiSupervisedPose2D(
        nets,
        m,
        cfg.collapse,
        Schedule.from_train(t, epochs),
        batches,
        len(batches),
        lambda net: evaluate_pose2d(net, val, val_doc, t.test_flip),
        device,
        d.sigma,
        (d.input_size[0], d.input_size[1]),
        choice.used,
        t.seed,
        t.amsgrad,
    )
    prepare_run_dir(
        run_dir, dump_yaml(cfg), t.seed, info | {"parameters": count_parameters(nets[0]), "precision": choice.record()}
    )
    if progress:
        print(f"{len(nets)} x {describe(nets[0], (1, 3, d.input_size[1], d.input_size[0]))}")
    history = fit(recipe, run_dir, epochs, t.seed, t.eval_every, resume, progress, t.minutes)
    if recipe.last_metrics is None:
        recipe.evaluate()
    assert recipe.last_metrics is not None
    metrics = dict(recipe.last_metrics)
    metrics.update(run_summary(history, epochs, t.minutes, choice.used))
    metrics.update(
        epochs_run=len(history),
        collapsed_at=recipe.monitor.collapsed_at,
        **{k: v for k, v in info.items() if k.startswith("pseudo")},
    )
    net_weights = {f"net{i + 1}": n.state_dict() for i, n in enumerate(recipe.nets)}  # the first is the model
    record = model_record("pose2d", net_weights["net1"], dataclasses.asdict(cfg.model), skel, **net_weights)
    atomic_torch_save(record, run_dir / "model.pt")
    atomic_write_json(run_dir / "metrics.json", metrics)
    if m.name != "supervised":
        plot_collapse(run_dir / "log.csv", run_dir / "collapse.png")
    return metrics
