"""Semi-supervised lifting recipes side by side, over seeds, with clean and detector-like 2D.

Per condition (ground-truth 2D, or detector-like 2D on training and test inputs alike) and seed:
HumanEva-I's training recordings are split into a labeled run (``ssl.labeled_fraction``) and the
unlabeled rest; a share of the labeled part (``train.val_fraction``) is held out for early stopping,
which every arm uses (the test split is never looked at). Then one teacher ensemble on the labeled
part, its pseudo-labels (monocular, and fused over the synchronized views), and these arms, each a
single network from scratch:

============================  =================================================================
``labeled_only``              the labeled part alone (the baseline every arm is paired with)
``pseudo_mono``               + all unlabeled frames with the ensemble's monocular pseudo-labels
``pseudo_fused``              + the pseudo-labels fused over views in world coordinates
``pseudo_fused_uncertainty``  + fused, the least certain frames dropped, the rest weighted by certainty
``noisy_student``             + fused, the student's unlabeled 2D perturbed (targets from clean 2D)
``pseudo_fused_from_teacher``  + fused, the student starting from the teacher's first member
``pseudo_mono_from_teacher``  + monocular, the student starting from the teacher's first member
``pseudo_triangulated``       + the views' 2D triangulated with the cameras (no lifter in the label),
                              frames weighted by the reprojection residual as by an uncertainty
``pseudo_triangulated_from_teacher``  the same, the student starting from the teacher
``backprojection``            VideoPose3D's back-projection on the unlabeled 2D
``backprojection_pseudo``     back-projection plus the fused pseudo-labels on the same frames
``backprojection_pseudo_mono``  back-projection plus the monocular pseudo-labels (no other view used)
``all_labeled``               the unlabeled frames with their true 3D (the upper bound)
``labeled_only_from_teacher``  the labeled part alone, starting from the teacher: the baseline of the
                              ``*_from_teacher`` arms, which train twice (the teacher, then the student)
``all_labeled_from_teacher``  all frames with their true 3D, starting from the teacher: their bound
============================  =================================================================

The table gives mean +- std over seeds and each arm's paired per-seed difference from labeled-only,
with the share of the labeled-only -> all-labeled gap it closes.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError, dump_yaml, load_config
from ..data.noise2d import noisy_sequences_2d
from ..data.npz3d import Sequence
from ..engine import prepare_run_dir, set_threads
from ..io import atomic_write_json
from ..lift.backprojection import train_backprojection
from ..lift.ensemble.runner import member_path, member_weights, training_data
from ..lift.pseudo_labels import (
    SSL3DConfig,
    _ensemble_cfg,
    _train_and_evaluate,
    pseudo_label,
    pseudo_label_sparsification,
    pseudo_weights,
    resolve_smoothing,
    ssl_split,
    triangulated_labels,
    view_groups,
)
from ..metrics.mpjpe import evaluate_sequences
from ..plots import _pyplot, save_figure
from ..reports import write_table

TABLE = "ssl_3d"  # the main table: <run>/ssl_3d.md
BASE_CONFIG = "humaneva_ssl"
ARMS = {
    "labeled_only": "labeled only",
    "pseudo_mono": "pseudo-labels, monocular ensemble",
    "pseudo_fused": "pseudo-labels, fused over views",
    "pseudo_fused_uncertainty": "pseudo-labels, fused, uncertainty-weighted",
    "noisy_student": "noisy student (fused pseudo-labels)",
    "pseudo_fused_from_teacher": "pseudo-labels, fused, student from the teacher",
    "pseudo_mono_from_teacher": "pseudo-labels, monocular, student from the teacher",
    "pseudo_triangulated": "pseudo-labels triangulated from the views' 2D",
    "pseudo_triangulated_from_teacher": "triangulated, student from the teacher",
    "backprojection": "back-projection (VideoPose3D)",
    "backprojection_pseudo": "back-projection + fused pseudo-labels",
    "backprojection_pseudo_mono": "back-projection + monocular pseudo-labels",
    "all_labeled": "all labeled (true 3D, upper bound)",
    "labeled_only_from_teacher": "labeled only, from the teacher (baseline of the from-teacher arms)",
    "all_labeled_from_teacher": "all labeled, from the teacher (bound of the from-teacher arms)",
}
# the arms that need no teacher ensemble (every other arm uses its pseudo-labels or weights)
WITHOUT_TEACHER = frozenset({"labeled_only", "all_labeled", "pseudo_triangulated", "backprojection"})
SHORT = {"labeled_only": "labeled only", "labeled_only_from_teacher": "labeled only, from the teacher"}
# the from-teacher arms are paired with these instead of labeled-only / all-labeled, when the study has them
BASELINE_FROM_TEACHER = ("labeled_only_from_teacher", "all_labeled_from_teacher")
CONDITIONS = {"gt": "ground-truth 2D", "detector": "detector-like 2D"}
_COMMON = [
    "ensemble.members=4",
    "ensemble.workers=2",
    "ssl.rounds=[1.0]",
    "ssl.fusion=spread",
    "ssl.keep_share=0.8",
    "ssl.weighting=inverse",
    "train.val_fraction=0.2",
]
# the arms that decide the targets (quick and medium; full runs every arm): labeled-only and
# all-labeled, the plain monocular pseudo-labels, the best multi-view recipe (triangulation) and the
# best monocular one (back-projection; adding the monocular pseudo-labels to it lost on seed 0).
# The from-teacher arms and their controls, fusion, uncertainty weights and the noisy student lost to
# labeled-only at every budget tried (docs/ensembles.md), so the 2-hour preset leaves them to full.
KEY_ARMS = "study.arms=[labeled_only,pseudo_mono,pseudo_triangulated,backprojection,all_labeled]"
PRESETS = {
    # one seed, clean 2D only, a short budget: a first look (every arm short of converged)
    "quick": _COMMON
    + [
        "model.channels=256",
        "train.samples=300000",
        "train.batch_size=256",
        "train.lr=2e-3",
        "train.patience=10",
        "study.seeds=[0]",
        "study.conditions=[gt]",
        KEY_ARMS,
    ],
    # the target table: 3 seeds, both conditions, a budget at which the validation curves flatten
    # (every arm trains it through and keeps its best-validated weights); under 2 h on 2 cores
    "medium": _COMMON
    + [
        "model.channels=256",
        "train.samples=800000",
        "train.batch_size=256",
        "train.lr=2e-3",
        "train.patience=0",
        "study.seeds=[0,1,2]",
        "study.conditions=[gt,detector]",
        KEY_ARMS,
    ],
    # every arm, wider networks, more seeds
    "full": _COMMON
    + [
        "model.channels=512",
        "train.samples=1000000",
        "train.batch_size=128",
        "train.lr=1e-3",
        "train.patience=0",
        "study.seeds=[0,1,2,3,4]",
        "study.conditions=[gt,detector]",
    ],
}


@dataclass
class StudySection:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    conditions: list[str] = field(default_factory=lambda: list(CONDITIONS))
    arms: list[str] = field(default_factory=lambda: list(ARMS))

    def validate(self) -> None:
        for name, allowed in (("conditions", CONDITIONS), ("arms", ARMS)):
            bad = [x for x in getattr(self, name) if x not in allowed]
            if bad:
                raise ConfigError(f"study.{name}: unknown {bad}; expected some of {list(allowed)}")
        if "labeled_only" not in self.arms:
            raise ConfigError("study.arms must include labeled_only (every arm is paired with it)")


@dataclass
class SSL3DStudyConfig(SSL3DConfig):
    study: StudySection = field(default_factory=StudySection)


def load(config, preset: str, overrides: list[str]) -> SSL3DStudyConfig:
    return load_config(SSL3DStudyConfig, config, PRESETS[preset] + list(overrides))


def _for_seed(cfg: SSL3DStudyConfig, condition: str, seed: int) -> SSL3DStudyConfig:
    c = copy.deepcopy(cfg)
    c.ssl.split_seed, c.train.seed = seed, cfg.train.seed + 100 * seed
    c.data.noise = dataclasses.replace(c.data.noise, enabled=condition == "detector", seed=seed)
    return c


def _cached(run_dir: Path, train: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """An arm's metrics: read back when its run finished before, else trained now."""
    done = run_dir / "metrics.json"
    if done.is_file():
        return json.loads(done.read_text())
    return train()


def _reuse_member(src_run: Path, dst_run: Path) -> None:
    """Copy ``src_run``'s first member into ``dst_run`` when that has none: training there then skips
    it if its key (config, data, seed) matches, and retrains it otherwise."""
    src, dst = member_path(src_run, 0), member_path(dst_run, 0)
    if src.is_file() and not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def run_seed(c: SSL3DStudyConfig, out: Path, progress: bool) -> dict[str, Any]:
    """Every arm of one condition and seed; returns their test metrics and the pseudo-labels' errors."""
    s = c.ssl
    train_all, skel, test, unl_segs, labeled, unlabeled, val = ssl_split(c)
    truth = [x.root_relative_3d() for x in unlabeled]
    lab_targets = [x.root_relative_3d() for x in labeled]
    ones = [np.ones(x.num_frames, np.float32) for x in labeled]

    def single(name: str, seqs: list[Sequence], targets=None, weights=None, init: bytes = b"") -> dict[str, Any]:
        data = training_data(seqs, skel, targets, weights, validation=val)
        if name == "labeled_only":  # the teacher's first member is this very network: reuse it (keys checked)
            _reuse_member(out / "teacher", out / name)
        return _cached(
            out / name,
            lambda: _train_and_evaluate(_ensemble_cfg(c, 1), out / name, data, test, skel, progress, init)[1],
        )

    arms = c.study.arms
    info: dict[str, Any] = {
        "labeled_frames": sum(x.num_frames for x in labeled),
        "unlabeled_frames": sum(x.num_frames for x in unlabeled),
        "validation_frames": sum(x.num_frames for x in val),
    }
    results: dict[str, dict[str, Any]] = {}
    needs_teacher = [a for a in arms if a not in WITHOUT_TEACHER]
    views = view_groups(train_all, unl_segs)
    names = ([x.subject for x in unlabeled], [x.action_name for x in unlabeled])
    if {"pseudo_triangulated", "pseudo_triangulated_from_teacher"} & set(arms):
        tri_cfg = dataclasses.replace(s, fusion="triangulate")
        smooth, info["triangulation"] = resolve_smoothing(tri_cfg, labeled + val)
        tri, tri_uncertainty = triangulated_labels(unlabeled, views, s.outlier_px, smooth)
        m = evaluate_sequences(tri, truth, *names)
        info["pseudo_label_triangulated"] = {"mpjpe_mm": m["mpjpe_mm"], "p_mpjpe_mm": m["p_mpjpe_mm"]}
        info["pseudo_label_triangulated_sparsification"] = pseudo_label_sparsification(tri, truth, tri_uncertainty)
    if needs_teacher:
        teacher, _ = _train_and_evaluate(
            _ensemble_cfg(c), out / "teacher", training_data(labeled, skel, validation=val), test, skel, progress
        )
        mono, _ = pseudo_label(teacher, unlabeled, skel, c.train.test_flip)
        fused, uncertainty = pseudo_label(teacher, unlabeled, skel, c.train.test_flip, s.fusion, views)
        for key, labels in (("pseudo_label_mono", mono), ("pseudo_label_fused", fused)):
            m = evaluate_sequences(labels, truth, *names)
            info[key] = {"mpjpe_mm": m["mpjpe_mm"], "p_mpjpe_mm": m["p_mpjpe_mm"]}
        info["pseudo_label_fused_sparsification"] = pseudo_label_sparsification(fused, truth, uncertainty)
        pseudo = [np.full(x.num_frames, s.pseudo_weight, np.float32) for x in unlabeled]
        teacher_init = member_weights(out / "teacher")  # the start of every *_from_teacher arm
    for arm in arms:
        if arm == "labeled_only":
            results[arm] = single(arm, labeled)
        elif arm == "all_labeled":
            results[arm] = single(arm, labeled + unlabeled)
        elif arm == "labeled_only_from_teacher":
            results[arm] = single(arm, labeled, init=teacher_init)
        elif arm == "all_labeled_from_teacher":
            results[arm] = single(arm, labeled + unlabeled, init=teacher_init)
        elif arm in ("pseudo_mono", "pseudo_fused"):
            labels = mono if arm == "pseudo_mono" else fused
            results[arm] = single(arm, labeled + unlabeled, lab_targets + labels, ones + pseudo)
        elif arm in ("pseudo_fused_from_teacher", "pseudo_mono_from_teacher"):
            labels = mono if arm == "pseudo_mono_from_teacher" else fused
            results[arm] = single(arm, labeled + unlabeled, lab_targets + labels, ones + pseudo, teacher_init)
        elif arm in ("pseudo_triangulated", "pseudo_triangulated_from_teacher"):
            init = teacher_init if arm.endswith("from_teacher") else b""
            results[arm] = single(
                arm, labeled + unlabeled, lab_targets + tri, ones + pseudo_weights(tri_uncertainty, s), init
            )
        elif arm == "pseudo_fused_uncertainty":
            results[arm] = single(arm, labeled + unlabeled, lab_targets + fused, ones + pseudo_weights(uncertainty, s))
        elif arm == "noisy_student":
            keys = [f"{x.subject}/{x.action}/{x.camera_index}/{g.start}" for x, g in zip(unlabeled, unl_segs)]
            noise = dataclasses.replace(s.student_noise, enabled=True, seed=s.student_noise.seed + 1000 * s.split_seed)
            noisy = [
                dataclasses.replace(x, keypoints_2d=kp)
                for x, kp in zip(unlabeled, noisy_sequences_2d([x.keypoints_2d for x in unlabeled], keys, skel, noise))
            ]
            results[arm] = single(arm, labeled + noisy, lab_targets + fused, ones + pseudo)
        else:  # back-projection, alone or with the fused or monocular pseudo-labels
            bp_labels = {"backprojection_pseudo": fused, "backprojection_pseudo_mono": mono}.get(arm)
            results[arm] = _cached(
                out / arm,
                functools.partial(
                    train_backprojection,
                    c,
                    labeled,
                    unlabeled,
                    test,
                    skel,
                    out / arm,
                    c.backprojection.warmup_fraction,
                    c.backprojection.bone_length_term,
                    resume=True,
                    pseudo_labels=bp_labels,
                    pseudo_weight=s.pseudo_weight,
                    validation=val,
                ),
            )
    atomic_write_json(
        out / "seed_summary.json",
        {"info": info, "arms": {a: {k: results[a][k] for k in ("mpjpe_mm", "p_mpjpe_mm")} for a in arms}},
    )
    return {"arms": results, "info": info}


def summarize(per_seed: dict[str, list[dict[str, Any]]], arms: list[str], condition: str) -> list[dict[str, Any]]:
    """Rows of one condition: mean +- std over seeds, paired difference from the baseline (positive:
    better than it), seeds ahead, and the share of the gap to the bound closed. The baseline and bound
    are labeled-only and all-labeled; for an arm whose student starts from the teacher they are their
    from-teacher versions when the study has them (the same two trainings, with and without the
    unlabeled frames), so that training twice is not counted as a gain."""
    rows = []
    runs = per_seed[condition]

    def p_mpjpe(arm: str) -> np.ndarray:
        return np.array([r["arms"][arm]["p_mpjpe_mm"] for r in runs])

    paired = all(a in arms for a in BASELINE_FROM_TEACHER)
    for arm in arms:
        base, bound = (
            BASELINE_FROM_TEACHER if paired and arm.endswith("from_teacher") else ("labeled_only", "all_labeled")
        )
        p, lo = p_mpjpe(arm), p_mpjpe(base)
        m = np.array([r["arms"][arm]["mpjpe_mm"] for r in runs])
        gain = lo - p
        row = {
            "condition": condition,
            "method": arm,
            "p_mpjpe_mean": float(p.mean()),
            "p_mpjpe_std": float(p.std()),
            "mpjpe_mean": float(m.mean()),
            "mpjpe_std": float(m.std()),
            "paired_with": base,
            "gain_vs_labeled_only_mean": float(gain.mean()),
            "gain_vs_labeled_only_std": float(gain.std()),
            "seeds_ahead": f"{int((gain > 0).sum())}/{len(gain)}",
        }
        if bound in arms:
            gap = lo - p_mpjpe(bound)
            row["gap_closed"] = float(np.mean(np.where(gap > 0, gain / np.where(gap > 0, gap, 1), np.nan)))
        rows.append(row)
    return rows


def run(cfg: SSL3DStudyConfig, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    set_threads(cfg.train.threads)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": "ssl-3d"})
    arms = [a for a in ARMS if a in cfg.study.arms]  # table order
    per_seed: dict[str, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    for condition in cfg.study.conditions:
        per_seed[condition] = [
            run_seed(_for_seed(cfg, condition, seed), out_dir / condition / f"seed{seed}", progress)
            for seed in cfg.study.seeds
        ]
        rows += summarize(per_seed, arms, condition)
    pseudo = {
        cond: {
            k: float(np.mean([r["info"][k]["p_mpjpe_mm"] for r in runs]))
            for k in ("pseudo_label_mono", "pseudo_label_fused", "pseudo_label_triangulated")
            if k in runs[0]["info"]
        }
        for cond, runs in per_seed.items()
    }
    # rows keep the arm and condition ids (ssl_3d.json); the tables and the plot show their labels
    shown = [
        {
            **r,
            "method": ARMS[r["method"]],
            "paired_with": SHORT[r["paired_with"]],
            "condition": CONDITIONS[r["condition"]],
        }
        for r in rows
    ]
    write_table(shown, out_dir / TABLE)
    plot(shown, out_dir / f"{TABLE}.png")
    for condition in cfg.study.conditions:
        seed = cfg.study.seeds[0]
        curves = validation_curves(out_dir / condition / f"seed{seed}", arms)
        if curves:
            plot_curves(
                curves,
                out_dir / f"{TABLE}_validation_{condition}.png",
                f"{CONDITIONS[condition]}, seed {seed}: validation during training",
            )
    result = {
        "rows": rows,
        "pseudo_label_p_mpjpe_mm": pseudo,
        "seeds": cfg.study.seeds,
        "per_seed": {
            c: [
                {"info": r["info"], "arms": {a: {k: r["arms"][a][k] for k in ("mpjpe_mm", "p_mpjpe_mm")} for a in arms}}
                for r in runs
            ]
            for c, runs in per_seed.items()
        },
    }
    atomic_write_json(out_dir / f"{TABLE}.json", result)
    return result


def validation_curves(seed_dir: Path, arms: list[str]) -> dict[str, list[tuple[float, float]]]:
    """Each arm's held-out labeled error (mm) against the share of its training done, from the member
    file's history (single networks) or the run's log (back-projection): the evidence that an arm
    converged (its curve flattened) or stopped early."""
    import csv

    from ..engine import load_checkpoint

    curves: dict[str, list[tuple[float, float]]] = {}
    for arm in arms:
        member = member_path(seed_dir / arm, 0)
        if member.is_file():
            history = load_checkpoint(member).get("history", [])
        elif (seed_dir / arm / "log.csv").is_file():
            with open(seed_dir / arm / "log.csv") as f:
                history = list(csv.DictReader(f))
        else:
            continue
        pts = [(float(r["epoch"]), float(r["val_error"])) for r in history if r.get("val_error") not in (None, "")]
        if pts:
            last = max(e for e, _ in pts)
            curves[arm] = [(e / last, v) for e, v in pts]
    return curves


def plot_curves(curves: dict[str, list[tuple[float, float]]], out_png: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for arm, pts in curves.items():
        ax.plot(*zip(*pts), label=ARMS.get(arm, arm), lw=1.2)
    ax.set(xlabel="share of the arm's training", ylabel="held-out labeled MPJPE (mm)", title=title, yscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_png)


def plot(rows: list[dict[str, Any]], out_png: Path) -> Path:
    """P-MPJPE of each arm, mean +- std over seeds, one panel per condition."""
    plt = _pyplot()
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    fig, axes = plt.subplots(1, len(conditions), figsize=(6 * len(conditions), 4.2), squeeze=False)
    for ax, cond in zip(axes[0], conditions):
        sel = [r for r in rows if r["condition"] == cond]
        y = np.arange(len(sel))
        ax.barh(y, [r["p_mpjpe_mean"] for r in sel], xerr=[r["p_mpjpe_std"] for r in sel], color="tab:blue", alpha=0.7)
        ax.axvline(sel[0]["p_mpjpe_mean"], color="r", ls="--", lw=1, label="labeled only")
        ax.set_yticks(y, [r["method"] for r in sel], fontsize=8)
        ax.invert_yaxis()
        ax.set(xlabel="test P-MPJPE (mm), mean ± std over seeds", title=cond)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_png)
