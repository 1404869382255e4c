"""Test error per round of added pseudo-labeled data, beside labeled-only and all-labeled training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import dump_yaml
from ..engine import prepare_run_dir, set_threads
from ..lift.config import SSL3DConfig, load_ssl_config
from ..lift.pseudo_labels import run_pseudo_label_rounds
from ..plots import pyplot, save_figure

TABLE = "rounds"  # the main table: <run>/rounds.md
BASE_CONFIG = "humaneva_ssl"
PRESETS = {
    # measured: 3 minutes on 2 cores (bf16)
    "quick": [
        "model.channels=256",
        "train.samples=300000",
        "train.batch_size=256",
        "train.lr=2e-3",
        "ensemble.members=4",
        "ensemble.workers=2",
    ],
    # the full-width network: its cost is estimated in docs/ensembles.md
    "full": [
        "model.channels=1024",
        "train.samples=1000000",
        "train.batch_size=128",
        "train.lr=1e-3",
        "ensemble.members=4",
        "ensemble.workers=2",
    ],
}


def load(config, preset: str, overrides: list[str]) -> SSL3DConfig:
    return load_ssl_config(config, PRESETS[preset] + list(overrides))


def run(cfg: SSL3DConfig, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    set_threads(cfg.train.threads)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": "pseudo-label-rounds"})
    result = run_pseudo_label_rounds(cfg, out_dir, progress)
    plot(result, out_dir / "rounds.png")
    return result


def plot(result: dict[str, Any], out_png: Path) -> Path:
    plt = pyplot()
    rows = {r["id"]: r for r in result["rows"]}
    rounds = [r for r in result["rows"] if r["id"].startswith("round_")]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for a, key, name in ((ax[0], "mpjpe_mm", "MPJPE"), (ax[1], "p_mpjpe_mm", "P-MPJPE")):
        a.plot(
            [0] + [r["pseudo_share"] * 100 for r in rounds],
            [rows["ensemble_labeled"][key]] + [r[key] for r in rounds],
            marker="o",
            label="labeled + pseudo-labeled (round 0: the ensemble)",
        )
        for stage_id, color in (("labeled_only", "r"), ("all_labeled", "g")):
            if stage_id in rows:  # the baselines are optional (ssl.baselines)
                a.axhline(rows[stage_id][key], color=color, ls="--", label=rows[stage_id]["stage"])
        a.set(xlabel="share of the unlabeled data added (%)", ylabel=f"test {name} (mm)", title=name)
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    return save_figure(fig, out_png)
