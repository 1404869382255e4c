"""Figures people would rather see than read: training curves and 3D poses beside the truth."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .io import atomic_write
from .skeletons import Skeleton


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> Path:
    plt = pyplot()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return Path(path)


LIFTING_CURVES = {"mpjpe_mm": "MPJPE", "p_mpjpe_mm": "P-MPJPE"}
POSE2D_CURVES = {"pck@0.2": "PCK@0.2", "pck@0.1": "PCK@0.1", "coco_AP": "COCO AP"}


def plot_training_curve(
    log_csv: str | Path,
    out_png: str | Path,
    curves: dict[str, str] = LIFTING_CURVES,
    loss: tuple[str, float] = ("training loss, MPJPE (mm)", 1000.0),
    metric_label: str = "test error (mm)",
) -> Path:
    """Training loss (``loss``: its label and scale) and, where evaluated, the ``curves`` (log.csv column:
    label) against epochs, or against minutes of training for a run under a time budget."""
    plt = pyplot()
    with open(log_csv) as f:
        rows = list(csv.DictReader(f))
    timed = all(r.get("budget_fraction") for r in rows)
    xs = [float(r["train_s"]) / 60 if timed else int(r["epoch"]) for r in rows]
    xlabel = "minutes of training" if timed else "epoch"
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    # an epoch that a time budget ended before its first step has no loss: nothing to draw for it
    losses = [(x, float(r["loss"]) * loss[1]) for x, r in zip(xs, rows) if r.get("loss")]
    if losses:
        ax[0].plot(*zip(*losses))
    ax[0].set(xlabel=xlabel, ylabel=loss[0], yscale="log", title="training")
    for key, label in curves.items():
        pts = [(x, float(r[key])) for x, r in zip(xs, rows) if r.get(key)]
        if pts:
            ax[1].plot(*zip(*pts), marker="o", label=label)
    ax[1].set(xlabel=xlabel, ylabel=metric_label, title="evaluation")
    if ax[1].lines:
        ax[1].legend()
    for a in ax:
        a.grid(alpha=0.3)
    return save_figure(fig, out_png)


def plot_poses_3d(
    pred: np.ndarray, target: np.ndarray, skeleton: Skeleton, out_png: str | Path, title: str = ""
) -> Path:
    """A few frames of predicted (red) and true (black) 3D poses, camera coordinates, y down."""
    plt = pyplot()
    frames = np.linspace(0, len(pred) - 1, min(4, len(pred))).astype(int)
    fig = plt.figure(figsize=(3.2 * len(frames), 3.4))
    for i, f in enumerate(frames):
        ax = fig.add_subplot(1, len(frames), i + 1, projection="3d")
        for pose, colour in ((target[f], "black"), (pred[f], "tab:red")):
            for child, parent in skeleton.bones:
                ax.plot(
                    *[[pose[child, d], pose[parent, d]] for d in (0, 2)],
                    -np.array([pose[child, 1], pose[parent, 1]]),
                    color=colour,
                    lw=2,
                )
        ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), title=f"frame {f}")
        ax.set_xticklabels([]), ax.set_yticklabels([]), ax.set_zticklabels([])
        ax.view_init(elev=15, azim=-70)
    fig.suptitle(title or "prediction (red) and ground truth (black)")
    return save_figure(fig, out_png)


def plot_uncertainty(curves: dict, out_png: str | Path) -> Path:
    """Sparsification against the oracle, and calibration of the spread read as a Gaussian."""
    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    f = np.asarray(curves["fractions"]) * 100
    ax[0].plot(f, curves["sparsification_mm"], label="removing the most uncertain")
    ax[0].plot(f, curves["oracle_mm"], "--", label="oracle (largest errors)")
    ax[0].set(xlabel="joints removed (%)", ylabel="mean error of the rest (mm)", title="sparsification")
    ax[0].legend()
    ax[1].plot([0, 1], [0, 1], "k:", label="perfect")
    ax[1].plot(curves["expected"], curves["observed"], marker="o", label="ensemble spread")
    ax[1].set(xlabel="expected fraction within the radius", ylabel="observed fraction", title="calibration")
    ax[1].legend()
    for a in ax:
        a.grid(alpha=0.3)
    return save_figure(fig, out_png)


def plot_collapse(log_csv: str | Path, out_png: str | Path) -> Path:
    """The collapse monitor per epoch: mean maximum response on unlabeled data, the share of joints
    responding below the threshold, and validation PCK@0.2 where evaluated."""
    plt = pyplot()
    with open(log_csv) as f:
        rows = [r for r in csv.DictReader(f) if r.get("unl_max_response")]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = [int(r["epoch"]) for r in rows]
    ax[0].plot(epochs, [float(r["unl_max_response"]) for r in rows], marker="o", label="mean maximum response")
    ax[0].plot(epochs, [float(r["unl_low_share"]) for r in rows], marker="s", label="share of joints below threshold")
    for r in rows:
        if float(r.get("collapsed") or 0):
            ax[0].axvline(int(r["epoch"]), color="r", alpha=0.3)
    ax[0].set(xlabel="epoch", title="unlabeled data (red: collapsed)", ylim=(0, 1.05))
    ax[0].legend(fontsize=8)
    pts = [(int(r["epoch"]), float(r["pck@0.2"])) for r in rows if r.get("pck@0.2")]
    if pts:
        ax[1].plot(*zip(*pts), marker="o")
    ax[1].set(xlabel="epoch", ylabel="validation PCK@0.2", title="validation")
    for a in ax:
        a.grid(alpha=0.3)
    return save_figure(fig, out_png)
