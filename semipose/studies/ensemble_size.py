"""How the error falls with the number of ensemble members (M = 1, 2, 4, 8).

The largest ensemble is trained once; the ensemble of M is its first M members, which are exactly
the members a separate M-member run would train (same seeds, same subsets drawn in the same order).
Every member sees a subset of the same size, as in the distributed-ensembles study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..config import dump_yaml
from ..engine import prepare_run_dir, set_threads
from ..io import atomic_write_json
from ..lift.config import EnsembleRunConfig, load_ensemble_config
from ..lift.data import load_split
from ..lift.ensemble.runner import evaluate_ensemble, load_members, train_ensemble, training_data
from ..plots import pyplot, save_figure
from ..reports import write_table

TABLE = "ensemble_size"  # the main table: <run>/ensemble_size.md
BASE_CONFIG = "humaneva_ensemble"
SIZES = (1, 2, 4, 8)
PRESETS = {
    # measured: 3.5 minutes on 2 cores (bf16); 8 members of 512 channels, each on half the recordings
    "quick": [
        "model.channels=512",
        "train.epochs=30",
        "train.batch_size=256",
        "train.lr=2e-3",
        "ensemble.members=8",
        "ensemble.subset=overlap",
        "ensemble.subset_fraction=0.5",
        "ensemble.workers=2",
    ],
    # the full-width network: its cost is estimated in docs/ensembles.md
    "full": [
        "model.channels=1024",
        "train.epochs=60",
        "train.batch_size=128",
        "train.lr=1e-3",
        "ensemble.members=8",
        "ensemble.subset=overlap",
        "ensemble.subset_fraction=0.5",
        "ensemble.workers=2",
    ],
}


def load(config, preset: str, overrides: list[str]) -> EnsembleRunConfig:
    return load_ensemble_config(config, PRESETS[preset] + list(overrides))


def run(cfg: EnsembleRunConfig, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    set_threads(cfg.train.threads)
    train, skel = load_split(cfg.data, cfg.data.subjects_train)
    test, _ = load_split(cfg.data, cfg.data.subjects_test)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": "ensemble-size"})
    status = train_ensemble(cfg, out_dir / "members_run", training_data(train, skel), resume=True, progress=progress)
    done = [m["index"] for m in status["members"] if m["status"].startswith("done")]
    models = load_members(out_dir / "members_run", cfg, skel, keys=[m["key"] for m in status["members"]])
    rows = []
    for m in [s for s in SIZES if s <= len(models)]:
        r = evaluate_ensemble(models[:m], test, skel, cfg.train.test_flip)
        mem = np.array([[x["mpjpe_mm"], x["p_mpjpe_mm"]] for x in r["members"]])
        rows.append(
            {
                "members": m,
                "mpjpe_mm": r["mpjpe_mm"],
                "p_mpjpe_mm": r["p_mpjpe_mm"],
                "members_mpjpe_mean": float(mem[:, 0].mean()),
                "members_mpjpe_std": float(mem[:, 0].std()),
                "members_p_mpjpe_mean": float(mem[:, 1].mean()),
                "members_p_mpjpe_std": float(mem[:, 1].std()),
                "mean_spread_mm": r.get("uncertainty", {}).get("mean_spread_mm", 0.0),
                "spearman": r.get("uncertainty", {}).get("spearman", float("nan")),
                "ause": r.get("uncertainty", {}).get("ause", float("nan")),
            }
        )
    write_table(rows, out_dir / "ensemble_size")
    plot(rows, out_dir / "ensemble_size.png")
    result = {
        "rows": rows,
        "members_trained": done,
        "failed": [m for m in status["members"] if m["status"] == "failed"],
    }
    atomic_write_json(out_dir / "ensemble_size.json", result)
    return result


def plot(rows: list[dict[str, Any]], out_png: Path) -> Path:
    plt = pyplot()
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    ms = [r["members"] for r in rows]
    for a, key, name in ((ax[0], "mpjpe", "MPJPE"), (ax[1], "p_mpjpe", "P-MPJPE")):
        a.plot(ms, [r[f"{key}_mm"] for r in rows], marker="o", label="ensemble (mean of members)")
        mean = np.array([r[f"members_{key}_mean"] for r in rows])
        std = np.array([r[f"members_{key}_std"] for r in rows])
        a.errorbar(ms, mean, yerr=std, fmt="s--", capsize=3, label="members (mean ± std)")
        a.set_xscale("log", base=2)
        a.xaxis.set_minor_locator(NullLocator())
        a.set(
            xticks=ms,
            xticklabels=[str(m) for m in ms],
            xlabel="ensemble size M",
            ylabel=f"test {name} (mm)",
            title=name,
        )
        a.grid(alpha=0.3)
        a.legend()
    return save_figure(fig, out_png)
