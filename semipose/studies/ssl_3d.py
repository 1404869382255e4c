"""Semi-supervised lifting methods side by side at labeled fractions 5%, 10% and 25%:
labeled-only training, ensemble pseudo-labels (all unlabeled data pseudo-labeled in one round) and
VideoPose3D's back-projection, every model given the same budget of training samples.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..config import dump_yaml
from ..engine import prepare_run_dir
from ..ensemble.pseudo_labels import SSL3DConfig, load_ssl_config, run_pseudo_label_rounds, write_table
from ..ensemble.subsets import cut, split_labeled
from ..io import atomic_write_json
from ..lift import load_split, set_threads, train_backprojection
from ..plots import _pyplot, save_figure

TABLE = "ssl_3d"  # the main table: <run>/ssl_3d.md
BASE_CONFIG = "humaneva_ssl"
FRACTIONS = (0.05, 0.1, 0.25)
PRESETS = {
    # about 15 minutes on 2 cores (bf16)
    "quick": ["model.channels=256", "train.samples=150000", "train.batch_size=256", "train.lr=2e-3",
              "ensemble.members=4", "ensemble.workers=2", "ssl.rounds=[1.0]"],
    # the full-width network: its cost is estimated in docs/ensembles.md
    "full": ["model.channels=1024", "train.samples=1000000", "train.batch_size=128", "train.lr=1e-3",
             "ensemble.members=4", "ensemble.workers=2", "ssl.rounds=[1.0]"],
}


def load(config, preset: str, overrides: list[str]) -> SSL3DConfig:
    return load_ssl_config(config, PRESETS[preset] + list(overrides))


def run(cfg: SSL3DConfig, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    set_threads(cfg.train.threads)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": "ssl-3d"})
    train_all, skel = load_split(cfg.data, cfg.data.subjects_train)
    test, _ = load_split(cfg.data, cfg.data.subjects_test)
    rows = []
    for frac in FRACTIONS:
        c = copy.deepcopy(cfg)
        c.ssl.labeled_fraction, c.ssl.baselines = frac, True
        pl = run_pseudo_label_rounds(c, out_dir / f"labeled_{frac:g}" / "pseudo_labels", progress)
        lab, unl = split_labeled(train_all, frac, c.ssl.split_seed)
        bp = train_backprojection(c, cut(train_all, lab), cut(train_all, unl), test,
                                  skel, out_dir / f"labeled_{frac:g}" / "backprojection", c.backprojection.warmup_fraction,
                                  c.backprojection.bone_length_term, resume=False)
        by = {r["stage"]: r for r in pl["rows"]}
        lo = next(r for s, r in by.items() if s.startswith("single model, labeled only"))
        al = next(r for s, r in by.items() if s.startswith("single model, all labeled"))
        ps = next(r for s, r in by.items() if s.startswith("round"))
        for method, r in (("labeled only", lo), ("ensemble pseudo-labels", ps), ("back-projection", bp),
                          ("all labeled (upper bound)", al)):
            rows.append({"labeled_fraction": frac, "method": method, "mpjpe_mm": r["mpjpe_mm"],
                         "p_mpjpe_mm": r["p_mpjpe_mm"]})
    write_table(rows, out_dir / TABLE)
    plot(rows, out_dir / f"{TABLE}.png")
    atomic_write_json(out_dir / f"{TABLE}.json", {"rows": rows})
    return {"rows": rows}


def plot(rows: list[dict[str, Any]], out_png: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for a, key, name in ((ax[0], "mpjpe_mm", "MPJPE"), (ax[1], "p_mpjpe_mm", "P-MPJPE")):
        for m in methods:
            pts = [(r["labeled_fraction"] * 100, r[key]) for r in rows if r["method"] == m]
            a.plot(*zip(*pts), marker="o", label=m)
        a.set(xlabel="labeled frames (%)", ylabel=f"test {name} (mm)", title=name)
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    return save_figure(fig, out_png)
