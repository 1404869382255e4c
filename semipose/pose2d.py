"""Top-down 2D heatmap pose estimation, end to end: the config, the people of a COCO or MPII file, a
supervised training run, evaluation (PCK, PCKh, COCO AP; optional flip test) and loading a trained run.
The parts live below: crops in :mod:`semipose.data.crops`, the network in :mod:`semipose.models.heatmap_net`,
the recipe and inference in :mod:`semipose.methods.supervised_pose2d`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from .codecs.heatmap import HeatmapCodec
from .config import POSITIVE, ConfigError, checked, dump_yaml, from_dict, load_config
from .data.coco import PersonInstance, load_coco_keypoints, load_mpii
from .data.crops import CropDataset
from .data.npz3d import expand_path
from .data.transforms2d import AUGMENTATIONS
from .engine import CheckpointError, TrainConfig, fit_run, prepare_run_dir, resolve_device, set_threads
from .engine.memory_format import MEMORY_FORMATS, memory_format_for_run
from .engine.precision import precision_for_run
from .engine.saved import model_record, read_model
from .io import atomic_torch_save, atomic_write_json
from .methods.base import Schedule
from .methods.supervised_pose2d import SupervisedPose2D, predict_people
from .metrics.coco import coco_keypoint_eval
from .metrics.pck import pck, pckh
from .models.heatmap_net import Pose2DModelConfig, build_heatmap_net
from .models.profile import count_flops, count_parameters, describe
from .skeletons import MPII16, Skeleton


@dataclass
class Pose2DDataConfig:
    train_ann: str = "data/synthpose/annotations/person_keypoints_train.json"
    train_images: str = "data/synthpose/train"
    val_ann: str = "data/synthpose/annotations/person_keypoints_val.json"
    val_images: str = "data/synthpose/val"
    input_size: list[int] = checked(default_factory=lambda: [128, 128], **POSITIVE)  # w, h
    sigma: float = checked(2.0, **POSITIVE)
    # targets centred at the exact sub-pixel position and DARK decoding (MMPose's ``unbiased=True``); false: the
    # reference code's targets on the nearest heatmap pixel and the quarter-pixel shift
    unbiased: bool = False
    augmentation: str = checked("weak", choices=AUGMENTATIONS)
    format: str = "coco"  # coco (any COCO-format keypoint json) | mpii (MMPose's MPII json)

    def validate(self) -> None:
        if self.format not in ("coco", "mpii"):
            raise ConfigError(f"data.format must be coco or mpii, got {self.format!r}")


@dataclass
class Pose2DTrainConfig(TrainConfig):
    """The common training settings with the 2D recipes' defaults (plain Adam, as SimpleBaseline)."""

    # lifting keys that 2D configs carried before they had their own section, without effect there
    RETIRED: ClassVar[frozenset[str]] = frozenset(
        {"bn_momentum", "bn_momentum_final", "bn_decay_epochs", "flip_augment", "val_fraction", "val_every", "patience"}
    )
    epochs: int = checked(10, **POSITIVE)
    batch_size: int = checked(32, **POSITIVE)
    lr_final: float | None = checked(1e-5, **POSITIVE)
    amsgrad: bool = False
    # the weights' layout: auto measures contiguous against channels_last here (engine/memory_format.py)
    memory_format: str = checked("auto", choices=MEMORY_FORMATS)


@dataclass
class Pose2DConfig:
    data: Pose2DDataConfig = field(default_factory=Pose2DDataConfig)
    model: Pose2DModelConfig = field(default_factory=Pose2DModelConfig)
    train: Pose2DTrainConfig = field(default_factory=Pose2DTrainConfig)


def load_pose2d_config(path=None, overrides: list[str] | None = None) -> Pose2DConfig:
    return load_config(Pose2DConfig, path, overrides)


def load_people(d: Pose2DDataConfig, split: str) -> tuple[list[PersonInstance], Skeleton, dict | None]:
    """Person instances of the ``train`` or ``val`` split, their skeleton, and the COCO document (None for MPII)."""
    ann, images = (d.train_ann, d.train_images) if split == "train" else (d.val_ann, d.val_images)
    aspect = d.input_size[0] / d.input_size[1]
    if d.format == "mpii":
        return load_mpii(expand_path(ann), expand_path(images), aspect), MPII16, None
    # with ground-truth boxes, crowd and unannotated people are left out of evaluation too (SimpleBaseline's use_gt_bbox)
    return load_coco_keypoints(expand_path(ann), expand_path(images), aspect)


def image_example(d: Pose2DDataConfig, batch_size: int) -> torch.Tensor:
    """A training batch's input shape for the precision micro-benchmark."""
    w, h = d.input_size
    return torch.randn(batch_size, 3, h, w, generator=torch.Generator().manual_seed(0))


def make_codec(d: Pose2DDataConfig) -> HeatmapCodec:
    w, h = d.input_size
    return HeatmapCodec((w, h), (w // 4, h // 4), d.sigma, d.unbiased)


def coco_results(people: list[PersonInstance], kp: np.ndarray, sc: np.ndarray) -> list[dict]:
    """COCO keypoint results of one prediction per person (its box was given): a person's score is the
    mean of its joints' scores above 0.2, as the top-down reference code rescores."""
    return [
        {
            "image_id": p.image_id,
            "category_id": 1,
            "keypoints": np.column_stack([k, s]).ravel().tolist(),
            "score": float(s[s > 0.2].mean()) if (s > 0.2).any() else 0.0,
        }
        for p, k, s in zip(people, kp, sc)
    ]


def evaluate_pose2d(model: torch.nn.Module, data: CropDataset, gt_doc: dict | None, flip_test: bool = True) -> dict:
    kp, sc = predict_people(model, data, flip_test)
    gt = np.stack([p.keypoints for p in data.people])
    boxes = np.stack([p.bbox for p in data.people])
    at02 = pck(kp, gt[..., :2], gt[..., 2], boxes, 0.2)
    out: dict[str, Any] = {
        "pck@0.2": at02["mean"],
        "pck@0.1": pck(kp, gt[..., :2], gt[..., 2], boxes, 0.1)["mean"],
        "pck_per_joint@0.2": at02["per_joint"].tolist(),
    }
    if all(p.headbox is not None for p in data.people) and data.people:
        heads = np.stack([p.headbox for p in data.people if p.headbox is not None])
        at05 = pckh(kp, gt[..., :2], gt[..., 2], heads, 0.5)
        out.update({"pckh@0.5": at05["mean"], "pckh_per_joint@0.5": at05["per_joint"].tolist()})
    if gt_doc is not None:
        stats = coco_keypoint_eval(gt_doc, coco_results(data.people, kp, sc))
        out.update({f"coco_{k}": v for k, v in stats.items()})
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def train_pose2d(cfg: Pose2DConfig, run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
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
        lambda m: evaluate_pose2d(m, val_data, val_doc, t.test_flip),
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
    atomic_write_json(run_dir / "metrics.json", metrics)
    return metrics


# the sections a `pose2d ssl` run's config adds to Pose2DConfig (pose2d_ssl.SSL2DConfig; a test keeps them in step)
SSL_SECTIONS = ("ssl", "method", "collapse")


def load_run_config(path: Path, overrides: list[str] | None = None) -> Pose2DConfig:
    """The config a 2D run wrote, ``pose2d train``'s or ``pose2d ssl``'s, as far as evaluating, predicting
    with and exporting its model need it (data, model, train)."""
    return load_config(Pose2DConfig, path, overrides, ignore=SSL_SECTIONS)


def load_trained(run_dir: Path, overrides: list[str] | None = None) -> tuple[torch.nn.Module, Pose2DConfig, Skeleton]:
    """A finished run's model (on its config's device), its config and its skeleton. The model is
    the one ``model.pt`` describes (its pretrained backbone file is not read again; of a PoseDual or
    denoised run, the first network)."""
    cfg = load_run_config(run_dir / "config.yaml", overrides)
    model, skeleton = load_model_file(run_dir / "model.pt", cfg.model)
    return model.to(resolve_device(cfg.train.device)), cfg, skeleton


def load_model_file(path: str | Path, fallback: Pose2DModelConfig) -> tuple[torch.nn.Module, Skeleton]:
    """The 2D model a ``model.pt`` describes (on the CPU; its pretrained backbone file is not read again) and
    its skeleton; ``fallback`` is the model config of files written before models carried their own."""
    path = Path(path)
    saved = read_model(path, "pose2d", lambda: dataclasses.asdict(fallback))
    try:
        model_cfg = from_dict(Pose2DModelConfig, {**saved["model_config"], "pretrained": None}, "model")
        model = build_heatmap_net(model_cfg, saved["skeleton"].num_joints)
        model.load_state_dict(saved["model"])
    except (ConfigError, RuntimeError) as e:
        raise CheckpointError(f"{path}: the weights do not fit the model it describes ({str(e)[:200]})") from None
    return model, saved["skeleton"]


def evaluate_run(run_dir: Path, overrides: list[str] | None = None, flip_test: bool | None = None) -> dict[str, Any]:
    """Evaluate a run's ``model.pt`` on its config's validation set, with a flip test as the run's
    ``train.test_flip`` unless ``flip_test`` says; writes ``<run>/evaluation/metrics.json``."""
    model, cfg, _ = load_trained(run_dir, overrides)
    flip_test = cfg.train.test_flip if flip_test is None else flip_test
    people, skel, doc = load_people(cfg.data, "val")
    data = CropDataset(people, skel, make_codec(cfg.data), "none")
    metrics = evaluate_pose2d(model, data, doc, flip_test)
    prepare_run_dir(run_dir / "evaluation", dump_yaml(cfg), cfg.train.seed, {"model": str(run_dir / "model.pt")})
    atomic_write_json(run_dir / "evaluation" / "metrics.json", metrics)
    return metrics
