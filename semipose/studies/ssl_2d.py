"""Semi-supervised 2D methods by labeled budget (the COCO-Partial protocol on SynthPose): supervised,
pseudo-labels, PoseCons, PoseDual and denoised pseudo-heatmaps, each over three seeds. Dual methods
report their ensemble (averaged heatmaps), fixed in advance; each network's figures are in its run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import load_config
from ..io import atomic_write_json
from ..plots import pyplot, save_figure
from ..reports import write_table
from .common2d import SSLStudyConfig, method_overrides, start_study, summary_row
from .runner import Arm, Column, Row, run_arms, table_rows

TABLE = "ssl_2d"
BASE_CONFIG = "synthpose_ssl"
# SynthPose version 4 (figures for which COCO AP ranks: a drawn face, every limb tinted by its side) at 96x128
# crops (w x h, a person's shape) of 256-pixel images, no mirrored crops (they would undo the colour cue for
# left and right), 800 unlabeled people, 30 epochs: the setting of the medium table (docs/ssl2d.md)
AP_SETTING = [
    "study.synthpose_version=4",
    "study.synthpose_train=1500",
    "data.input_size=[96,128]",
    "data.sigma=2.0",
    "data.augmentation=weak_noflip",
    "ssl.max_unlabeled=800",
    "train.epochs=30",
    "train.eval_every=0",
]
PRESETS = {
    # measured: see docs/ssl2d.md. 64x64 SynthPose, 1-stack hourglass of width 32, 100 labeled people,
    # 800 unlabeled, 10 epochs, 3 seeds
    "quick": [
        "study.synthpose_train=1500",
        "study.labeled=[100]",
        "ssl.max_unlabeled=800",
        "train.epochs=10",
        "train.eval_every=0",
    ],
    # AP_SETTING at three labeled budgets, the papers' rows with and without Joint Cutout, 3 seeds (cost and
    # results in docs/ssl2d.md; the study resumes, finished runs are read back). Earlier runs of
    # docs/ssl2d.md: version 3 at 96x96 (add study.synthpose_version=3 data.input_size=[96,96]) and version
    # 2 with mirrored crops (and study.synthpose_version=2 data.augmentation=weak)
    "medium": [
        *AP_SETTING,
        "study.labeled=[50,100,400]",
        "study.methods=[supervised,pseudo_label,posecons,posecons+jc,posedual,posedual+jc,denoised]",
    ],
    # the version-1 medium of the first tables (64x64, 100 labeled, PCK only)
    "medium-v1": [
        "study.synthpose_train=1500",
        "study.labeled=[100]",
        "ssl.max_unlabeled=800",
        "train.epochs=30",
        "train.eval_every=0",
    ],
    # budgets 100, 300 and 1000 on all 2,230 people's images; 30 epochs (cost in docs/ssl2d.md)
    "full": ["study.synthpose_train=1500", "study.labeled=[100,300,1000]", "train.epochs=30", "train.eval_every=0"],
}


def load(config, preset: str, overrides: list[str]):
    return load_config(SSLStudyConfig, config, PRESETS[preset] + list(overrides))


KEYS = ("coco_AP", "coco_AP50", "pck@0.2", "pck@0.1")
# the table's columns, after each row's method and labeled budget; AP differences with four digits (at these
# budgets they are small)
COLUMNS = [
    Column("AP", "coco_AP"),
    Column("AP50", "coco_AP50"),
    Column("pck@0.2", "pck@0.2"),
    Column("pck@0.1", "pck@0.1"),
    Column("AP vs supervised (paired)", "coco_AP", "paired", 4, "supervised"),
    Column("pck@0.2 vs supervised (paired)", "pck@0.2", "paired", 3, "supervised"),
    Column("AP vs without variant (paired)", "coco_AP", "paired", 4, "variant"),
    Column("pck@0.2 vs without variant (paired)", "pck@0.2", "paired", 3, "variant"),
    Column("per seed pck@0.2 (AP)", "pck@0.2|coco_AP", "per_seed"),
    Column("collapsed_runs", cell="collapsed"),
    Column("train_min", cell="minutes"),
]


def run(cfg, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    out_dir = start_study(cfg, out_dir, "ssl-2d")
    # a pseudo-label run is taught by the supervised run of its budget and seed once that has finished (its own
    # teacher would be that very model: a supervised run of the same config and seed), unless the user named one
    own_teacher = cfg.method.teacher is None
    arms = [
        Arm(
            f"{m}-n{n}",
            (*method_overrides(m), f"ssl.labeled={n}"),
            teacher=f"supervised-n{n}" if own_teacher and m.split("+")[0] == "pseudo_label" else None,
        )
        for n in cfg.study.labeled
        for m in cfg.study.methods
    ]
    results = run_arms(arms, cfg.study.seeds, out_dir, cfg, progress)
    table = []
    for arm in arms:
        method, n = arm.name.rsplit("-n", 1)
        plain = f"{method.split('+')[0]}-n{n}" if "+" in method else None
        supervised = f"supervised-n{n}" if method != "supervised" else None
        table.append(Row({"method": method, "labeled": int(n)}, arm.name, {"supervised": supervised, "variant": plain}))
    rows = table_rows(table, COLUMNS, results)
    for row, runs in zip(rows, (results[r.arm] for r in table if results.get(r.arm))):
        row.update({f"_{k}": v for k, v in summary_row(runs, KEYS).items()})  # for the plot and the JSON
    write_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows], out_dir / TABLE)
    plot(rows, out_dir / f"{TABLE}.png")
    result = {"rows": rows, "runs": results}
    atomic_write_json(out_dir / f"{TABLE}.json", result)
    return result


def plot(rows: list[dict[str, Any]], out_png: Path) -> Path:
    """Bars of COCO AP (the headline) and PCK@0.2 by labeled budget, one colour per method."""
    plt = pyplot()
    budgets = sorted({r["labeled"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    panel_w = 1.6 + 1.4 * len(budgets) * len(methods) / 3
    fig, axes = plt.subplots(1, 2, figsize=(2 * panel_w, 3.8))
    width = 0.8 / len(methods)
    for ax, key, label in ((axes[0], "coco_AP", "COCO AP"), (axes[1], "pck@0.2", "PCK@0.2")):
        for i, m in enumerate(methods):
            pts = [next((r for r in rows if r["method"] == m and r["labeled"] == b), None) for b in budgets]
            ax.bar(  # a budget a method has no finished run at (study.report_only) gets no bar
                [j + i * width for j in range(len(budgets))],
                [p[f"_{key}_mean"] if p else float("nan") for p in pts],
                width,
                yerr=[p[f"_{key}_std"] if p else float("nan") for p in pts],
                capsize=3,
                label=m,
            )
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(budgets))], [f"{b} labeled" for b in budgets])
        ax.set(ylabel=f"validation {label} (mean ± std over seeds)")
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=8)
    fig.suptitle("semi-supervised 2D on SynthPose")
    return save_figure(fig, out_png)
