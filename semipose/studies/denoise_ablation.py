"""Ablations of the denoised pseudo-heatmaps (two students), each arm over three seeds:

1. components: DualPose (1 weak view, cross-teaching), + multi-view (1 weak + K strong, max),
   + threshold-and-refine (tau 0.1), + uncertainty-guided selection;
2. aggregation (multi-view only): 1 weak; 1+K weak, K weak + 1 strong, 1 weak + K strong, each by mean and max;
3. threshold tau in {0, 0.1, 0.2, 0.3}, with and without refinement (full method);
4. the number of strong views, with and without selection (threshold-and-refine on).

Arms with the same settings in several tables are trained once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, load_config
from ..io import atomic_write_json
from ..plots import pyplot, save_figure
from ..reports import write_table
from .common2d import SSLStudyConfig, SSLStudySection, start_study, summary_row
from .runner import Column, Row, run_arms, table_rows
from .ssl_2d import AP_SETTING

TABLE = "components"
TABLES = ("components", "aggregation", "threshold", "views")
BASE_CONFIG = "synthpose_ssl"
K = 4
COLUMNS = [Column("AP", "coco_AP"), Column("pck@0.2", "pck@0.2"), Column("pck@0.1", "pck@0.1")]  # each mean ± std
PRESETS = {
    # 64x64 SynthPose, width 16, 100 labeled, 200 unlabeled people, 4 epochs: shows every table's shape;
    # too short to rank the arms (docs/ssl2d.md)
    "quick": [
        "study.synthpose_train=1500",
        "ssl.labeled=100",
        "ssl.max_unlabeled=200",
        "model.width=16",
        "train.epochs=4",
        "train.eval_every=0",
        "study.views=[1,2,4]",
    ],
    # the components table alone at the ssl-2d medium-v1 setting (64x64, 100 labeled, 800 unlabeled,
    # 30 epochs, 3 seeds): 4 arms (cost in docs/ssl2d.md)
    "medium": [
        "study.synthpose_train=1500",
        "ssl.labeled=100",
        "ssl.max_unlabeled=800",
        "train.epochs=30",
        "train.eval_every=0",
        "study.tables=[components]",
    ],
    # the components table alone where COCO AP ranks: the ssl-2d medium table's setting (SynthPose v4, 96x128
    # crops, 30 epochs) at 100 labeled people, 3 seeds (cost in docs/ssl2d.md)
    "medium-ap": [*AP_SETTING, "ssl.labeled=100", "study.tables=[components]"],
    # the ssl-2d full setting for every arm (cost in docs/ssl2d.md)
    "full": [
        "study.synthpose_train=1500",
        "ssl.labeled=100",
        "train.epochs=30",
        "train.eval_every=0",
        "study.views=[1,2,4,8]",
    ],
}


def _arm(
    weak: int, strong: int, aggregate: str = "max", threshold: float = 0.0, refine: bool = False, select: bool = False
) -> tuple[str, list[str]]:
    """An arm's folder name (its settings, e.g. ``1weak-4strong-max-tau0.1-refine-select``) and overrides."""
    name = f"{weak}weak-{strong}strong-{aggregate}" + (f"-tau{threshold:g}" if threshold else "")
    name += ("-refine" if refine else "") + ("-select" if select else "")
    return name, [
        "method.name=denoised",
        f"method.weak_views={weak}",
        f"method.strong_views={strong}",
        f"method.aggregate={aggregate}",
        f"method.threshold={threshold}",
        f"method.refine={str(refine).lower()}",
        f"method.select={str(select).lower()}",
    ]


def tables(views: list[int]) -> dict[str, dict[str, tuple[str, list[str]]]]:
    """Each table's arms (row label: folder name, overrides)."""
    return {
        "components": {
            "DualPose (1 weak view)": _arm(1, 0),
            "+ multi-view (1 weak + K strong, max)": _arm(1, K),
            "+ threshold-and-refine (tau 0.1)": _arm(1, K, threshold=0.1, refine=True),
            "+ uncertainty selection": _arm(1, K, threshold=0.1, refine=True, select=True),
        },
        "aggregation": {
            "1 weak": _arm(1, 0),
            **{f"(1 + K) weak, {a}": _arm(1 + K, 0, a) for a in ("mean", "max")},
            **{f"K weak + 1 strong, {a}": _arm(K, 1, a) for a in ("mean", "max")},
            **{f"1 weak + K strong, {a}": _arm(1, K, a) for a in ("mean", "max")},
        },
        "threshold": {
            f"tau {t}, {'with' if r else 'without'} refinement": _arm(1, K, threshold=t, refine=r, select=True)
            for t in (0.0, 0.1, 0.2, 0.3)
            for r in (True, False)
        },
        "views": {
            f"K={k}, {'with' if s else 'without'} selection": _arm(1, k, threshold=0.1, refine=True, select=s)
            for k in views
            for s in (True, False)
        },
    }


@dataclass
class AblationSection(SSLStudySection):
    views: list[int] = field(default_factory=lambda: [1, 2, 4])  # strong views K of table 4
    tables: list[str] = field(default_factory=lambda: list(TABLES))  # which of the four tables to train

    def validate(self) -> None:
        super().validate()
        unknown = [t for t in self.tables if t not in TABLES]
        if unknown or not self.tables:
            raise ConfigError(f"study.tables: {unknown or 'none'} given; expected some of {', '.join(TABLES)}")


@dataclass
class AblationConfig(SSLStudyConfig):
    study: AblationSection = field(default_factory=AblationSection)


def load(config, preset: str, overrides: list[str]) -> AblationConfig:
    return load_config(AblationConfig, config, PRESETS[preset] + list(overrides))


def run(cfg, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    out_dir = start_study(cfg, out_dir, "denoise-ablation")
    spec = {name: rows for name, rows in tables(cfg.study.views).items() if name in cfg.study.tables}
    arms: dict[str, list[str]] = {}
    names: dict[tuple[str, str], str] = {}
    for table, rows in spec.items():
        for label, (name, overrides) in rows.items():
            arms[name] = overrides  # an arm in several tables trains once
            names[table, label] = name
    results = run_arms(arms, cfg.study.seeds, out_dir / "runs", cfg, progress)
    out: dict[str, Any] = {"tables": {}, "arms": arms}
    for table, rows in spec.items():
        declared = [Row({"setting": label}, names[table, label], {}) for label in rows]
        made = table_rows(declared, COLUMNS, results)
        for row, arm in zip(made, (r.arm for r in declared if results.get(r.arm))):
            s = summary_row(results[arm])
            row.update({"run": arm, "_pck": s["pck@0.2_mean"], "_pck_std": s["pck@0.2_std"]})  # (the plot's)
        write_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in made], out_dir / table)
        out["tables"][table] = made
    if "views" in out["tables"]:
        plot_views(out["tables"]["views"], out_dir / "views.png")
    atomic_write_json(out_dir / "denoise_ablation.json", out)
    return out


def plot_views(rows: list[dict[str, Any]], out_png: Path) -> Path:
    """PCK against the number of strong views, with and without uncertainty selection."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for sel in ("with", "without"):
        pts = [
            (int(r["setting"].split(",")[0][2:]), r["_pck"], r["_pck_std"])
            for r in rows
            if r["setting"].endswith(f"{sel} selection")
        ]
        ax.errorbar(
            [p[0] for p in pts],
            [p[1] for p in pts],
            yerr=[p[2] for p in pts],
            marker="o",
            capsize=3,
            label=f"{sel} uncertainty selection",
        )
    ax.set(xlabel="strong views K", ylabel="validation PCK@0.2", title="views and selection")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_png)
