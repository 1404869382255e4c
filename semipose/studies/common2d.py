"""What the 2D studies share: a SynthPose set written into the study's folder, their config section, their
methods' names, and a summary over seeds (the runs and their tables: :mod:`.runner`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import POSITIVE, ConfigError, checked, dump_yaml
from ..data.synthpose import VERSIONS, SynthPoseConfig, image_scale, write_synthpose
from ..engine import prepare_run_dir
from ..methods.ssl2d import METHODS
from ..pose2d.ssl import SSL2DConfig
from .runner import mean_std


def ensure_synthpose(data, out_dir: Path, n_train: int, n_val: int, version: int = 1) -> None:
    """Write ``n_train`` / ``n_val`` SynthPose images (seeds 0 / 1) into ``<out>/synthpose`` unless there,
    and point ``data`` (a Pose2DDataConfig) at them: version 1 at the input's longer side, versions 2-5 at
    twice it (their figures fill the image, so person crops keep their detail). ``n_train <= 0`` leaves
    ``data``."""
    if n_train <= 0:
        return
    root = out_dir / "synthpose"
    cfg = SynthPoseConfig(image_size=max(data.input_size) * image_scale(version), version=version)
    for split, n, seed in (("train", n_train, 0), ("val", n_val, 1)):
        if not (root / "annotations" / f"person_keypoints_{split}.json").is_file():
            write_synthpose(root, n, seed, split, cfg)
    data.train_ann, data.train_images = str(root / "annotations/person_keypoints_train.json"), str(root / "train")
    data.val_ann, data.val_images = str(root / "annotations/person_keypoints_val.json"), str(root / "val")


def summary_row(
    runs: list[dict[str, Any]], keys: tuple[str, ...] = ("coco_AP", "pck@0.2", "pck@0.1")
) -> dict[str, Any]:
    """Mean and std over seeds of each key, how many runs collapsed, and the mean training minutes."""
    row: dict[str, Any] = {}
    for k in keys:
        row[f"{k}_mean"], row[f"{k}_std"] = mean_std(runs, k)
    row["collapsed_runs"] = sum(1 for r in runs if r.get("collapsed_at"))
    row["train_min"] = float(np.mean([r["train_wall_s"] for r in runs])) / 60
    return row


# a study's method may carry variants: "posedual+jc" is PoseDual with Joint Cutout, as the papers' rows
VARIANTS: dict[str, list[str]] = {
    "jc": ["method.joint_cutout=true"],
    "ra": ["method.randaugment=true"],
    # refined targets: consistency targets thresholded at 0.2 (the pseudo-label threshold of the 2D
    # studies) and redrawn as Gaussians at their quarter-pixel maxima
    "rt": [
        "method.consistency_refine=true",
        "method.threshold=0.2",
        "method.refine=true",
        "method.refine_subpixel=true",
    ],
    # mirror rejection: no consistency target for a left/right joint that its teacher put within 2 heatmap
    # pixels of its mirror joint
    "mr": ["method.mirror_radius=2"],
}


def method_overrides(name: str) -> list[str]:
    """The overrides of a study's method name: ``posedual+jc+ra`` -> method.name=posedual, Joint Cutout, RandAugment."""
    base, *variants = name.split("+")
    return [f"method.name={base}"] + [o for v in variants for o in VARIANTS[v]]


@dataclass
class SSLStudySection:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    synthpose_train: int = 0  # > 0: write SynthPose into <out>/synthpose (else data.* name a dataset)
    synthpose_val: int = 200
    synthpose_version: int = checked(1, choices=VERSIONS)  # 2-5: figures for which COCO AP ranks (data/synthpose.py)
    labeled: list[int] = field(default_factory=lambda: [100])
    # each may add +jc, +ra, +rt, +mr (VARIANTS); ema_teacher is left out by default (DualPose's collapsing set-up)
    methods: list[str] = field(default_factory=lambda: [m for m in METHODS if m != "ema_teacher"])
    # runs trained at once, each in a process of its own with the cores shared out (small 2D networks use
    # many threads poorly; docs/ssl2d.md)
    workers: int = checked(1, **POSITIVE)
    # true: train nothing, write the tables from the runs finished in the study's folder (with --resume)
    report_only: bool = False

    def validate(self) -> None:
        for name in self.methods:
            base, *variants = name.split("+")
            if base not in METHODS or any(v not in VARIANTS for v in variants):
                raise ConfigError(
                    f"study.methods: {name!r} is not a method ({', '.join(METHODS)}) with optional "
                    f"variants {', '.join('+' + v for v in VARIANTS)}"
                )


@dataclass
class SSLStudyConfig(SSL2DConfig):
    """The semi-supervised 2D config plus the study's section."""

    study: SSLStudySection = field(default_factory=SSLStudySection)


def start_study(cfg, out_dir: Path, name: str) -> Path:
    """The study's run folder with its records, and its SynthPose set when it writes one."""
    out_dir = Path(out_dir)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": name})
    ensure_synthpose(cfg.data, out_dir, cfg.study.synthpose_train, cfg.study.synthpose_val, cfg.study.synthpose_version)
    return out_dir
