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
from ..lift.config import SSL3DConfig
from ..lift.ensemble.runner import member_path, member_weights, training_data
from ..lift.pseudo_labels import (
    ensemble_config,
    pseudo_label,
    pseudo_label_sparsification,
    pseudo_weights,
    ssl_split,
    train_and_evaluate,
)
from ..lift.triangulated import resolve_smoothing, triangulated_labels, view_groups
from ..metrics.mpjpe import evaluate_sequences
from ..plots import pyplot, save_figure
from ..reports import write_table
from .runner import Column, Row, table_rows

TABLE = "ssl_3d"  # the main table: <run>/ssl_3d.md
BASE_CONFIG = "humaneva_ssl"


@dataclass(frozen=True)
class Arm:
    """One row of the table, declared as data: what a single network trains on and where it starts.

    ``unlabeled``: what the unlabeled frames bring: ``none``, ``truth`` (their true 3D: the bound),
    ``mono`` / ``fused`` (the teacher ensemble's monocular or view-fused pseudo-labels), ``fused_weighted``
    (fused, the least certain dropped and the rest weighted by certainty), ``noisy_fused`` (fused, the
    student's 2D perturbed), ``triangulated`` (the views' 2D triangulated, weighted by the reprojection
    residual). ``recipe``: ``supervised`` or ``backprojection`` (VideoPose3D's, on the unlabeled 2D, with
    the ``unlabeled`` pseudo-labels beside it unless ``none``). ``init``: ``scratch`` or ``teacher`` (the
    teacher ensemble's first member). ``baseline`` and ``bound``: the arms its gain and gap are measured
    against, when the study has them (else labeled-only and all-labeled)."""

    label: str
    unlabeled: str = "none"
    recipe: str = "supervised"
    init: str = "scratch"
    baseline: str = "labeled_only"
    bound: str = "all_labeled"


FROM_TEACHER = {"init": "teacher", "baseline": "labeled_only_from_teacher", "bound": "all_labeled_from_teacher"}
ARMS: dict[str, Arm] = {
    "labeled_only": Arm("labeled only"),
    "pseudo_mono": Arm("pseudo-labels, monocular ensemble", "mono"),
    "pseudo_fused": Arm("pseudo-labels, fused over views", "fused"),
    "pseudo_fused_uncertainty": Arm("pseudo-labels, fused, uncertainty-weighted", "fused_weighted"),
    "noisy_student": Arm("noisy student (fused pseudo-labels)", "noisy_fused"),
    "pseudo_fused_from_teacher": Arm("pseudo-labels, fused, student from the teacher", "fused", **FROM_TEACHER),
    "pseudo_mono_from_teacher": Arm("pseudo-labels, monocular, student from the teacher", "mono", **FROM_TEACHER),
    "pseudo_triangulated": Arm("pseudo-labels triangulated from the views' 2D", "triangulated"),
    "pseudo_triangulated_from_teacher": Arm("triangulated, student from the teacher", "triangulated", **FROM_TEACHER),
    "backprojection": Arm("back-projection (VideoPose3D)", recipe="backprojection"),
    "backprojection_pseudo": Arm("back-projection + fused pseudo-labels", "fused", "backprojection"),
    "backprojection_pseudo_mono": Arm("back-projection + monocular pseudo-labels", "mono", "backprojection"),
    "all_labeled": Arm("all labeled (true 3D, upper bound)", "truth"),
    "labeled_only_from_teacher": Arm(
        "labeled only, from the teacher (baseline of the from-teacher arms)", **FROM_TEACHER
    ),
    "all_labeled_from_teacher": Arm(
        "all labeled, from the teacher (bound of the from-teacher arms)", "truth", **FROM_TEACHER
    ),
}
# what needs the teacher ensemble: its pseudo-labels, or its weights to start from
TEACHER_LABELS = frozenset({"mono", "fused", "fused_weighted", "noisy_fused"})
SHORT = {"labeled_only": "labeled only", "labeled_only_from_teacher": "labeled only, from the teacher"}
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


def for_seed(cfg: SSL3DStudyConfig, condition: str, seed: int) -> SSL3DStudyConfig:
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
            lambda: train_and_evaluate(ensemble_config(c, 1), out / name, data, test, skel, progress, init)[1],
        )

    def train_arm(name: str, arm: Arm) -> dict[str, Any]:
        """The arm's metrics, read back when it finished before."""
        if arm.recipe == "backprojection":
            bp_labels = None if arm.unlabeled == "none" else sources[arm.unlabeled][1]
            return _cached(
                out / name,
                functools.partial(
                    train_backprojection,
                    c,
                    labeled,
                    unlabeled,
                    test,
                    skel,
                    out / name,
                    c.backprojection.warmup_fraction,
                    c.backprojection.bone_length_term,
                    resume=True,
                    pseudo_labels=bp_labels,
                    pseudo_weight=s.pseudo_weight,
                    validation=val,
                ),
            )
        init = teacher_init if arm.init == "teacher" else b""
        if arm.unlabeled == "none":
            return single(name, labeled, init=init)
        seqs, targets, weights = sources[arm.unlabeled]
        if arm.unlabeled == "truth":
            return single(name, labeled + seqs, init=init)
        return single(name, labeled + seqs, lab_targets + targets, ones + weights, init)

    arms = {name: ARMS[name] for name in c.study.arms}
    info: dict[str, Any] = {
        "labeled_frames": sum(x.num_frames for x in labeled),
        "unlabeled_frames": sum(x.num_frames for x in unlabeled),
        "validation_frames": sum(x.num_frames for x in val),
    }
    views = view_groups(train_all, unl_segs)
    names = ([x.subject for x in unlabeled], [x.action_name for x in unlabeled])
    pseudo = [np.full(x.num_frames, s.pseudo_weight, np.float32) for x in unlabeled]
    # the unlabeled frames' sequences, targets and weights under each rule the arms name
    sources: dict[str, tuple[list[Sequence], list[np.ndarray], list[np.ndarray]]] = {
        "truth": (unlabeled, truth, [np.ones(x.num_frames, np.float32) for x in unlabeled])
    }
    if any(a.unlabeled == "triangulated" for a in arms.values()):
        tri_cfg = dataclasses.replace(s, fusion="triangulate")
        smooth, info["triangulation"] = resolve_smoothing(tri_cfg, labeled + val)
        tri, tri_uncertainty = triangulated_labels(unlabeled, views, s.outlier_px, smooth)
        m = evaluate_sequences(tri, truth, *names)
        info["pseudo_label_triangulated"] = {"mpjpe_mm": m["mpjpe_mm"], "p_mpjpe_mm": m["p_mpjpe_mm"]}
        info["pseudo_label_triangulated_sparsification"] = pseudo_label_sparsification(tri, truth, tri_uncertainty)
        sources["triangulated"] = (unlabeled, tri, pseudo_weights(tri_uncertainty, s))
    teacher_init = b""
    if any(a.unlabeled in TEACHER_LABELS or a.init == "teacher" for a in arms.values()):
        teacher, _ = train_and_evaluate(
            ensemble_config(c), out / "teacher", training_data(labeled, skel, validation=val), test, skel, progress
        )
        mono, _ = pseudo_label(teacher, unlabeled, skel, c.train.test_flip)
        fused, uncertainty = pseudo_label(teacher, unlabeled, skel, c.train.test_flip, s.fusion, views)
        for key, labels in (("pseudo_label_mono", mono), ("pseudo_label_fused", fused)):
            m = evaluate_sequences(labels, truth, *names)
            info[key] = {"mpjpe_mm": m["mpjpe_mm"], "p_mpjpe_mm": m["p_mpjpe_mm"]}
        info["pseudo_label_fused_sparsification"] = pseudo_label_sparsification(fused, truth, uncertainty)
        sources["mono"] = (unlabeled, mono, pseudo)
        sources["fused"] = (unlabeled, fused, pseudo)
        sources["fused_weighted"] = (unlabeled, fused, pseudo_weights(uncertainty, s))
        if any(a.unlabeled == "noisy_fused" for a in arms.values()):
            keys = [f"{x.subject}/{x.action}/{x.camera_index}/{g.start}" for x, g in zip(unlabeled, unl_segs)]
            noise = dataclasses.replace(s.student_noise, enabled=True, seed=s.student_noise.seed + 1000 * s.split_seed)
            noisy = [
                dataclasses.replace(x, keypoints_2d=kp)
                for x, kp in zip(unlabeled, noisy_sequences_2d([x.keypoints_2d for x in unlabeled], keys, skel, noise))
            ]
            sources["noisy_fused"] = (noisy, fused, pseudo)
        teacher_init = member_weights(out / "teacher")  # the start of every arm whose init is the teacher
    results = {name: train_arm(name, arm) for name, arm in arms.items()}
    atomic_write_json(
        out / "seed_summary.json",
        {"info": info, "arms": {a: {k: results[a][k] for k in ("mpjpe_mm", "p_mpjpe_mm")} for a in arms}},
    )
    return {"arms": results, "info": info}


def columns(arms: list[str]) -> list[Column]:
    """The table's columns after each row's condition and method: P-MPJPE and MPJPE over the seeds, the
    baseline it is paired with, the paired gain over it (positive: better), the seeds ahead, and the share of
    the gap to the bound closed (when the study has the bound)."""
    cols = [
        Column("p_mpjpe_mean", "p_mpjpe_mm", "mean"),
        Column("p_mpjpe_std", "p_mpjpe_mm", "std"),
        Column("mpjpe_mean", "mpjpe_mm", "mean"),
        Column("mpjpe_std", "mpjpe_mm", "std"),
        Column("paired_with", cell="reference", against="baseline"),
        Column("gain_vs_labeled_only_mean", "gain", "mean"),
        Column("gain_vs_labeled_only_std", "gain", "std"),
        Column("seeds_ahead", "gain", "positive"),
    ]
    return cols + ([Column("gap_closed", "gap_share", "mean")] if "all_labeled" in arms else [])


def summarize(per_seed: dict[str, list[dict[str, Any]]], arms: list[str], condition: str) -> list[dict[str, Any]]:
    """Rows of one condition: mean +- std over seeds, paired difference from the baseline (positive:
    better than it), seeds ahead, and the share of the gap to the bound closed. The baseline and bound
    are labeled-only and all-labeled; for an arm whose student starts from the teacher they are their
    from-teacher versions when the study has them (the same two trainings, with and without the
    unlabeled frames), so that training twice is not counted as a gain."""
    results = {arm: [{**r["arms"][arm], "seed": i} for i, r in enumerate(per_seed[condition])] for arm in arms}
    table = []
    for arm in arms:
        declared = ARMS[arm]
        paired = declared.baseline in arms and (declared.bound in arms or declared.bound == "all_labeled")
        base, bound = (declared.baseline, declared.bound) if paired else ("labeled_only", "all_labeled")
        for i, run in enumerate(results[arm]):  # each seed's gain over the baseline and share of the gap
            lo = results[base][i]["p_mpjpe_mm"]
            run["gain"] = lo - run["p_mpjpe_mm"]
            if bound in arms:
                gap = lo - results[bound][i]["p_mpjpe_mm"]
                run["gap_share"] = run["gain"] / gap if gap > 0 else float("nan")
        table.append(Row({"condition": condition, "method": arm}, arm, {"baseline": base}))
    return table_rows(table, columns(arms), results)


def run(cfg: SSL3DStudyConfig, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    set_threads(cfg.train.threads)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": "ssl-3d"})
    arms = [a for a in ARMS if a in cfg.study.arms]  # table order
    per_seed: dict[str, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    for condition in cfg.study.conditions:
        per_seed[condition] = [
            run_seed(for_seed(cfg, condition, seed), out_dir / condition / f"seed{seed}", progress)
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
            "method": ARMS[r["method"]].label,
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
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for arm, pts in curves.items():
        ax.plot(*zip(*pts), label=ARMS[arm].label if arm in ARMS else arm, lw=1.2)
    ax.set(xlabel="share of the arm's training", ylabel="held-out labeled MPJPE (mm)", title=title, yscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_png)


def plot(rows: list[dict[str, Any]], out_png: Path) -> Path:
    """P-MPJPE of each arm, mean +- std over seeds, one panel per condition."""
    plt = pyplot()
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
