"""Which easy/hard augmentation pairs collapse (the collapsing problem of semi-supervised 2D pose):
PoseCons (one network, the easy view's prediction teaches the hard view) with the pairs of the study,
Joint Cutout or RandAugment on the hard view, naive consistency (the same loss with gradients through
both views) and a Mean Teacher (the easy view read by an EMA of the network), each over three seeds,
judged by the collapse monitor on unlabeled data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import load_config
from ..io import atomic_write_json
from ..plots import pyplot, save_figure
from ..reports import write_table
from .common2d import SSLStudyConfig, start_study
from .runner import Arm, Column, Row, run_arms, table_rows

TABLE = "easy_hard"
BASE_CONFIG = "synthpose_ssl"
# the easy/hard pairs, each a PoseCons run (later overrides win: the EMA teacher's method.name)
PAIRS = [
    Arm(
        "naive-affine30-affine30",
        ("method.easy=affine30", "method.hard=affine30", "method.stop_gradient=false"),
        "naive consistency: affine 30 / affine 30, both with gradient",
    ),
    Arm("affine30-affine30", ("method.easy=affine30", "method.hard=affine30"), "affine 30 / affine 30"),
    Arm("affine60-affine60", ("method.easy=affine60", "method.hard=affine60"), "affine 60 / affine 60"),
    Arm("original-affine60", ("method.easy=none", "method.hard=affine60"), "original / affine 60"),
    Arm("affine30-affine60", ("method.easy=affine30", "method.hard=affine60"), "affine 30 / affine 60"),
    Arm(
        "affine60-affine60-jc",
        ("method.easy=affine60", "method.hard=affine60", "method.joint_cutout=true"),
        "affine 60 / affine 60 + Joint Cutout",
    ),
    # DualPose's hard augmentations on its easy/hard pair, and the single-network EMA teacher it lists
    # among the set-ups that collapse
    Arm(
        "affine30-affine60-jc",
        ("method.easy=affine30", "method.hard=affine60", "method.joint_cutout=true"),
        "affine 30 / affine 60 + Joint Cutout",
    ),
    Arm(
        "affine30-affine60-ra",
        ("method.easy=affine30", "method.hard=affine60", "method.randaugment=true"),
        "affine 30 / affine 60 + RandAugment",
    ),
    Arm(
        "ema_teacher-affine30-affine60",
        ("method.name=ema_teacher", "method.easy=affine30", "method.hard=affine60"),
        "Mean Teacher (EMA teacher): affine 30 / affine 60",
    ),
]
COLUMNS = [
    Column("collapsed runs", cell="collapsed"),
    Column("avoids collapsing", cell="avoids_collapse"),
    Column("final max response", "final_max_response", "mean_text"),
    Column("AP", "coco_AP"),
    Column("pck@0.2", "pck@0.2"),
]
PRESETS = {
    # 64x64 SynthPose, width 32, 100 labeled, 800 unlabeled people, 10 epochs, unlabeled loss weight 1
    "quick": [
        "study.synthpose_train=1500",
        "ssl.labeled=100",
        "ssl.max_unlabeled=800",
        "train.epochs=10",
        "train.eval_every=0",
    ],
    "full": ["study.synthpose_train=1500", "ssl.labeled=100", "train.epochs=30", "train.eval_every=0"],
}


def load(config, preset: str, overrides: list[str]):
    return load_config(SSLStudyConfig, config, PRESETS[preset] + list(overrides))


def run(cfg, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    out_dir = start_study(cfg, out_dir, "easy-hard")
    arms = [Arm(a.name, ("method.name=posecons", *a.overrides), a.label) for a in PAIRS]
    results = run_arms(arms, cfg.study.seeds, out_dir, cfg, progress)
    curves = {}
    for arm in arms:
        logs = [_monitor_curve(out_dir / arm.name / f"seed{seed}" / "log.csv") for seed in cfg.study.seeds]
        curves[arm.row] = logs
        for metrics in results[arm.name]:  # each run's last unlabeled maximum response, from its log
            curve = logs[cfg.study.seeds.index(metrics["seed"])]
            metrics["final_max_response"] = curve[-1][1] if curve else None
    declared = [Row({"easy / hard": arm.row}, arm.name, {}) for arm in arms]
    rows = table_rows(declared, COLUMNS, results)
    for row, name in zip(rows, (r.arm for r in declared if results.get(r.arm))):
        row["run"] = name
    write_table(rows, out_dir / TABLE)
    plot(curves, out_dir / f"{TABLE}.png")
    result = {"rows": rows, "curves": curves}
    atomic_write_json(out_dir / f"{TABLE}.json", result)
    return result


def _monitor_curve(log_csv: Path) -> list[tuple[int, float]]:
    import csv

    if not log_csv.is_file():
        return []
    with open(log_csv) as f:
        return [(int(r["epoch"]), float(r["unl_max_response"])) for r in csv.DictReader(f) if r.get("unl_max_response")]


def plot(curves: dict[str, list[list[tuple[int, float]]]], out_png: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (label, runs) in enumerate(curves.items()):
        for j, c in enumerate(runs):
            if c:
                ax.plot([e for e, _ in c], [v for _, v in c], color=f"C{i}", alpha=0.8, label=label if j == 0 else None)
    ax.set(xlabel="epoch", ylabel="mean maximum response on unlabeled data", title="collapse monitor")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out_png)
