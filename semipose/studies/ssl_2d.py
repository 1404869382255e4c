"""Semi-supervised 2D methods by labeled budget (the COCO-Partial protocol on SynthPose): supervised,
pseudo-labels, PoseCons, PoseDual and denoised pseudo-heatmaps, each over three seeds. Dual methods
report their ensemble (averaged heatmaps), fixed in advance; each network's figures are in its run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import load_config
from ..io import atomic_write_json
from ..plots import _pyplot, save_figure
from ..reports import write_table
from .common2d import (
    SSLStudyConfig,
    method_overrides,
    paired_delta,
    pm,
    run_arms,
    start_study,
    summary_row,
    train_arm,
)

TABLE = "ssl_2d"
BASE_CONFIG = "synthpose_ssl"
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
    # the quick setting trained three times longer: long enough for the unlabeled data to pay (about an hour)
    "medium": [
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


def run(cfg, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    out_dir = start_study(cfg, out_dir, "ssl-2d")
    arms = {
        f"{m}-n{n}": [*method_overrides(m), f"ssl.labeled={n}"] for n in cfg.study.labeled for m in cfg.study.methods
    }
    results = run_arms(arms, cfg.study.seeds, out_dir, train_arm(cfg, progress))
    rows = []
    for name, runs in results.items():
        method, n = name.rsplit("-n", 1)
        s = summary_row(runs)
        base = results.get(f"supervised-n{n}")
        vs = "" if base is None or method == "supervised" else _delta_cell(paired_delta(runs, base, "pck@0.2"))
        rows.append(
            {
                "method": method,
                "labeled": int(n),
                "pck@0.2": pm(s, "pck@0.2"),
                "pck@0.1": pm(s, "pck@0.1"),
                "AP": pm(s, "coco_AP"),
                "pck@0.2 vs supervised (paired)": vs,
                "collapsed_runs": f"{s['collapsed_runs']}/{len(runs)}",
                "train_min": s["train_min"],
                **{f"_{k}": v for k, v in s.items()},
            }
        )
    write_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows], out_dir / TABLE)
    plot(rows, out_dir / f"{TABLE}.png")
    result = {"rows": rows, "runs": results}
    atomic_write_json(out_dir / f"{TABLE}.json", result)
    return result


def _delta_cell(d: dict[str, Any]) -> str:
    return f"{d['pck@0.2_mean']:+.3f} ± {d['pck@0.2_std']:.3f} ({d['ahead']}/{d['seeds']} ahead)"


def plot(rows: list[dict[str, Any]], out_png: Path) -> Path:
    plt = _pyplot()
    budgets = sorted({r["labeled"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(budgets) * len(methods) / 3, 3.8))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        pts = [next(r for r in rows if r["method"] == m and r["labeled"] == b) for b in budgets]
        ax.bar(
            [j + i * width for j in range(len(budgets))],
            [p["_pck@0.2_mean"] for p in pts],
            width,
            yerr=[p["_pck@0.2_std"] for p in pts],
            capsize=3,
            label=m,
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(budgets))], [f"{b} labeled" for b in budgets])
    ax.set(ylabel="validation PCK@0.2 (mean ± std, 3 seeds)", title="semi-supervised 2D on SynthPose")
    ax.set_ylim(bottom=max(0.0, min(r["_pck@0.2_mean"] for r in rows) - 0.1))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, out_png)
