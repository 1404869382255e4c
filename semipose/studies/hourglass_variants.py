"""Stacked Hourglass variants: the original residual unit against the HRU, and the HRU with transposed-
convolution upsampling, at several stack counts (the hourglass-variants study compared these on MPII;
here on SynthPose). Writes COCO AP and PCK per variant (mean ± std over seeds, and per seed the difference
from the first variant), validation AP and PCK per epoch (CSV, PNG curves) and the models' sizes.

Each variant is an arm of the study runner (:mod:`.runner`): an ordinary ``pose2d train`` run per seed in
``<out>/<variant>-s<stacks>/seed<k>/``, so an interrupted study resumes where it stopped: finished runs are
read back, the unfinished one resumes from its checkpoint. ``study.workers=2`` trains two runs at once, one process and one thread each (small networks
use two threads poorly: two ssl-2d runs side by side trained at 1.38 times the rate of one on both cores,
docs/ssl2d.md).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import POSITIVE, ConfigError, checked, dump_yaml, load_config
from ..data.synthpose import VERSIONS
from ..engine import prepare_run_dir
from ..io import atomic_write_json, atomic_write_text
from ..models.heatmap_net import build_heatmap_net
from ..models.profile import count_flops, count_parameters
from ..plots import pyplot, save_figure
from ..pose2d.config import Pose2DConfig
from ..reports import csv_text, write_table
from .common2d import ensure_synthpose
from .runner import Arm, Column, Row, run_arms, run_base, table_rows, train_pose2d_run

TABLE = "hourglass_variants"
BASE_CONFIG = "synthpose"
VARIANTS = {  # name: (unit, upsample)
    "residual": ("residual", "nearest"),
    "hru": ("hru", "nearest"),
    "hru-deconv": ("hru", "deconv"),
}


@dataclass
class VariantsConfig:
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    stacks: list[int] = field(default_factory=lambda: [1, 2, 8])
    # SynthPose written into <out>/synthpose when > 0 (else data.* name an existing dataset)
    synthpose_train: int = 0
    synthpose_val: int = 0
    synthpose_version: int = 1  # 2, 3: figures for which COCO AP ranks (data/synthpose.py)
    # several: mean ± std over seeds in the table; none: one run with train.seed (the quick preset's table)
    seeds: list[int] = field(default_factory=list)
    # runs trained at once, each in a process of its own with the cores shared out (as the ssl-2d study's)
    workers: int = checked(1, **POSITIVE)
    # true: train nothing, write the tables from the runs finished in the study's folder (with --resume)
    report_only: bool = False

    def validate(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"study.variants: unknown {unknown}; expected some of {list(VARIANTS)}")
        if self.synthpose_version not in VERSIONS:
            raise ConfigError(f"study.synthpose_version must be one of {list(VERSIONS)}, got {self.synthpose_version}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"study.seeds must list distinct seeds, got {self.seeds}")
        if any(not 1 <= s <= 8 for s in self.stacks):
            raise ConfigError(f"study.stacks must lie in 1..8, got {self.stacks}")


@dataclass
class HourglassStudyConfig(Pose2DConfig):
    study: VariantsConfig = field(default_factory=VariantsConfig)


# 64x64 SynthPose, width 32, 1,000 training images (measured: see docs/pose2d.md)
SMALL = [
    "data.input_size=[64,64]",
    "data.sigma=1.5",
    "model.width=32",
    "train.batch_size=32",
    "train.lr=2e-3",
    "train.lr_final=1e-4",
    "train.eval_every=1",
    "study.synthpose_train=1000",
    "study.synthpose_val=200",
]
PRESETS = {
    "quick": [*SMALL, "train.epochs=8"],
    # 15 epochs at 1 and 2 stacks over 3 seeds: whether the units' differences stand beyond the seeds'
    # spread (cost in docs/pose2d.md)
    "medium": [*SMALL, "train.epochs=15", "study.stacks=[1,2]", "study.seeds=[0,1,2]"],
    # the medium comparison where COCO AP ranks: SynthPose version 5 (a drawn face, limbs and torso tinted by
    # side) at 96x128 person crops of 256-pixel images, no mirrored crops (they would undo the side cue), one
    # stack, 15 epochs, 3 seeds (cost in docs/pose2d.md)
    "medium-ap": [
        "data.input_size=[96,128]",
        "data.sigma=2.0",
        "data.augmentation=weak_noflip",
        "train.test_flip=false",
        "model.width=32",
        "train.batch_size=32",
        "train.lr=2e-3",
        "train.lr_final=1e-4",
        "train.eval_every=1",
        "train.epochs=15",
        "study.synthpose_version=5",
        "study.synthpose_train=1000",
        "study.synthpose_val=200",
        "study.stacks=[1]",
        "study.seeds=[0,1,2]",
    ],
    # 128x128, width 64, 2,000 images, 30 epochs: the SynthPose recipe of docs/pose2d.md for every variant
    "full": [
        "model.width=64",
        "train.epochs=30",
        "train.eval_every=1",
        "study.synthpose_train=2000",
        "study.synthpose_val=200",
    ],
}


def load(config, preset: str, overrides: list[str]) -> HourglassStudyConfig:
    return load_config(HourglassStudyConfig, config, PRESETS[preset] + list(overrides))


Curve = list[tuple[int, float, float, float]]  # (epoch, PCK@0.2, elapsed seconds, COCO AP) per validation


def _epoch_curve(log_csv: Path) -> Curve:
    with open(log_csv) as f:
        return [
            (int(r["epoch"]), float(r["pck@0.2"]), float(r["elapsed_s"]), float(r.get("coco_AP") or "nan"))
            for r in csv.DictReader(f)
            if r.get("pck@0.2")
        ]


def state_dict_bytes(model) -> int:
    """Size of the model's saved weights (``torch.save`` of its state dict), as the study reports sizes."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


def columns(first: str) -> list[Column]:
    """The table's columns after each row's variant, stacks and sizes: means over seeds, two spreads (headed
    " std", not "_std": the Markdown writer shows *_std columns to 0.1, as millimetres), the differences
    from the ``first`` variant seed by seed, each seed's AP and PCK@0.2, and the training minutes."""
    keys = ("coco_AP", "coco_AP50", "pck@0.2", "pck@0.1", "best_pck@0.2")
    return [
        Column("seeds", cell="count"),
        *(Column(k, k, "mean") for k in keys),
        *(Column(f"{k} std", k, "std") for k in ("coco_AP", "pck@0.2")),
        *(
            c
            for k in ("coco_AP", "pck@0.2")
            for c in (
                Column(f"{k} minus {first}", k, "paired_mean", against="first"),
                Column(f"{k} minus {first} ahead", k, "paired_ahead", against="first"),
            )  # fmt: skip
        ),
        Column("per seed AP", "coco_AP", "values"),
        Column("per seed PCK@0.2", "pck@0.2", "values"),
        Column("train_min", cell="minutes"),
    ]


def arms(cfg: HourglassStudyConfig) -> list[Arm]:
    """One arm per stack count and variant, named ``<variant>-s<stacks>``: the study's model as that variant."""
    return [
        Arm(
            f"{name}-s{stacks}",
            (
                "model.name=hourglass",
                f"model.stacks={stacks}",
                f"model.unit={VARIANTS[name][0]}",
                f"model.upsample={VARIANTS[name][1]}",
            ),  # fmt: skip
        )
        for stacks in cfg.study.stacks
        for name in cfg.study.variants
    ]


def run(cfg: HourglassStudyConfig, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    out_dir = Path(out_dir)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": "hourglass-variants"})
    ensure_synthpose(cfg.data, out_dir, cfg.study.synthpose_train, cfg.study.synthpose_val, cfg.study.synthpose_version)
    w, h = cfg.data.input_size
    seeds = cfg.study.seeds or [cfg.train.seed]
    declared = {arm.name: arm for arm in arms(cfg)}
    results = run_arms(list(declared.values()), seeds, out_dir, cfg, progress, train_pose2d_run)
    curves: dict[str, Curve] = {}
    for arm_name, runs in results.items():
        for metrics in runs:
            seed = metrics["seed"]
            curve = _epoch_curve(out_dir / arm_name / f"seed{seed}" / "log.csv")
            # the curves' names of the table (pck_per_epoch.csv): the first seed's without a seed suffix
            curves[arm_name + ("" if seed == seeds[0] else f"-seed{seed}")] = curve
            metrics["best_pck@0.2"] = max(c[1] for c in curve)
    table = []
    first = cfg.study.variants[0]  # each variant is paired by seed with the first of its stack count
    base = run_base(cfg)
    for stacks in cfg.study.stacks:
        for name in cfg.study.variants:
            arm = declared[f"{name}-s{stacks}"]  # its model: the study's with the arm's overrides, as its runs train
            model = build_heatmap_net(load_config(Pose2DConfig, None, list(arm.overrides), base=base).model, 17)
            sizes = {"parameters": count_parameters(model), "bytes": state_dict_bytes(model),
                     "gflops": count_flops(model, (1, 3, h, w)) / 1e9}  # fmt: skip
            reference = None if name == first else f"{first}-s{stacks}"
            table.append(Row({"variant": name, "stacks": stacks, **sizes}, arm.name, {"first": reference}))
    rows = table_rows(table, columns(first), results)
    write_table(rows, out_dir / TABLE)
    per_epoch = [
        {"run": k, "epoch": e, "pck@0.2": p, "coco_AP": ap, "elapsed_s": t}
        for k, c in curves.items()
        for e, p, t, ap in c
    ]
    atomic_write_text(out_dir / "pck_per_epoch.csv", csv_text(per_epoch))
    plot(curves, out_dir / "pck_per_epoch.png")
    result = {"rows": rows, "curves": curves}
    atomic_write_json(out_dir / f"{TABLE}.json", result)
    return result


def plot(curves: dict[str, Curve], out_png: Path) -> Path:
    """Validation COCO AP (top) and PCK@0.2 (bottom) per epoch, one column per stack count, one line per
    variant (mean over seeds)."""
    plt = pyplot()
    groups: dict[tuple[str, int], list[Curve]] = {}
    for run_name, curve in curves.items():
        m = RUN_NAME.match(run_name)
        assert m is not None, run_name
        groups.setdefault((m["variant"], int(m["stacks"])), []).append(curve)
    stacks = sorted({s for _, s in groups})
    fig, axes = plt.subplots(2, len(stacks), figsize=(4.2 * len(stacks), 6.6), squeeze=False, sharex="col")
    for col, s in enumerate(stacks):
        for row, (index, label) in enumerate(((3, "COCO AP"), (1, "PCK@0.2"))):
            ax = axes[row][col]
            for (variant, n), seed_curves in groups.items():
                if n == s:
                    length = min(len(c) for c in seed_curves)
                    mean = [sum(c[i][index] for c in seed_curves) / len(seed_curves) for i in range(length)]
                    ax.plot([c[0] for c in seed_curves[0][:length]], mean, marker="o", ms=3, label=variant)
            ax.set(ylabel=f"validation {label} (mean over seeds)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        axes[0][col].set_title(f"{s} stack{'s' if s > 1 else ''}")
        axes[1][col].set_xlabel("epoch")
    return save_figure(fig, out_png)


RUN_NAME = re.compile(r"^(?P<variant>.+)-s(?P<stacks>\d+)(?:-seed\d+)?$")
