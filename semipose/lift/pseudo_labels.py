"""Semi-supervised lifting with ensemble pseudo-labels, added in rounds.

1. Split every training recording into a labeled run of frames and unlabeled rest (:func:`split_labeled`).
2. Train an ensemble on the labeled part; its mean prediction on the unlabeled part is the pseudo-label,
   its spread the pseudo-label's uncertainty. The pseudo-labels' own error against the ground truth
   (which training never sees) is reported.
3. Round k trains a single model (or a new ensemble) from scratch on the labeled data plus a growing
   share of the pseudo-labeled data, in random order or most certain first, optionally recomputing
   the pseudo-labels with each round's model.
4. Beside the rounds: the same model trained on the labeled data only and on all data with true labels.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError
from ..data.noise2d import noisy_sequences_2d
from ..data.npz3d import Sequence
from ..data.splits import Segment, cut, split_labeled
from ..io import atomic_write_json
from ..methods.multiview import fuse_views
from ..metrics.mpjpe import evaluate_sequences
from ..metrics.uncertainty import sparsification
from ..plots import plot_uncertainty
from ..reports import write_lifting_metrics, write_table
from ..skeletons import Skeleton
from .config import EnsembleRunConfig, SSL3DConfig, SSLConfig
from .data import load_split
from .ensemble.aggregate import ensemble_mean, ensemble_spread
from .ensemble.runner import (
    evaluate_ensemble,
    load_members,
    member_weights,
    predict_members,
    train_ensemble,
    training_data,
)
from .triangulated import resolve_smoothing, triangulated_labels, view_groups

SUMMARY = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")


def ensemble_config(cfg: SSL3DConfig, members: int | None = None) -> EnsembleRunConfig:
    e = copy.deepcopy(cfg.ensemble)
    if members is not None:
        e.members, e.subset = members, "full"
    return EnsembleRunConfig(cfg.data, cfg.model, cfg.train, e)


def train_and_evaluate(
    ecfg: EnsembleRunConfig,
    run_dir: Path,
    data,
    test: list[Sequence],
    skel: Skeleton,
    progress: bool,
    init: bytes = b"",
) -> tuple[list, dict[str, Any]]:
    status = train_ensemble(ecfg, run_dir, data, resume=True, progress=progress, init=init)
    models = load_members(run_dir, ecfg, skel, keys=[m["key"] for m in status["members"]])
    metrics = evaluate_ensemble(models, test, skel, ecfg.train.test_flip)
    write_lifting_metrics(run_dir, metrics)
    if "uncertainty_curves" in metrics:
        plot_uncertainty(metrics["uncertainty_curves"], run_dir / "uncertainty.png")
    return models, metrics


def pseudo_label(
    models: list,
    unlabeled: list[Sequence],
    skel: Skeleton,
    flip: bool,
    fusion: str = "none",
    view_groups: list[list[int]] | None = None,
    outlier_px: float | None = None,
    smooth_frames: float = 0.0,
) -> tuple[list, list]:
    """Pseudo-labels (root set to zero, as training targets have it) and each frame's uncertainty.

    Monocular (``fusion='none'``): the members' mean, and their spread averaged over joints. With a
    fusion rule, every group of ``view_groups`` (indices of sequences showing the same frames from
    calibrated cameras) gets the members' predictions of all its views fused in world coordinates;
    the uncertainty is then sqrt(spread^2 + cross-view disagreement^2). With ``fusion='triangulate'``
    the group's 2D keypoints are triangulated instead (:func:`triangulate_group`). Groups of one view
    stay monocular.
    """
    groups = [
        g
        for g in view_groups or []
        if fusion != "none" and len(g) > 1 and all(unlabeled[i].camera is not None for i in g)
    ]
    labels: list = [None] * len(unlabeled)
    spreads: list = [None] * len(unlabeled)
    if fusion == "triangulate":  # no lifter in these labels: the members lift only what no views cover
        for g in groups:
            tri, unc = triangulated_labels([unlabeled[i] for i in g], [list(range(len(g)))], outlier_px, smooth_frames)
            for k, i in enumerate(g):
                labels[i], spreads[i] = tri[k], unc[k]
        groups = []
    lift_idx = [i for i, lab in enumerate(labels) if lab is None]
    raw = dict(zip(lift_idx, predict_members(models, [unlabeled[i].keypoints_2d for i in lift_idx], skel, flip)))
    preds = {i: p - p[..., :1, :] for i, p in raw.items()}
    for i, p in preds.items():
        labels[i] = ensemble_mean(p).astype(np.float32)
        spreads[i] = ensemble_spread(raw[i]).mean(axis=1) if len(p) > 1 else np.zeros(p.shape[1])
    for group in groups:
        fused = fuse_views([preds[i] for i in group], [unlabeled[i].require_camera().R for i in group], fusion)
        uncertainty = np.sqrt(fused.spread**2 + fused.disagreement**2).mean(axis=1)
        for k, i in enumerate(group):
            labels[i], spreads[i] = fused.per_view[k], uncertainty
    return labels, spreads


def hold_out_labeled(labeled: list[Sequence], fraction: float, seed: int) -> tuple[list[Sequence], list[Sequence]]:
    """A contiguous run of ``fraction`` of each labeled piece (same frames in every view) held out for
    early stopping, and the labeled rest; with ``fraction`` 0 nothing is held out."""
    if fraction <= 0:
        return labeled, []
    held, rest = split_labeled(labeled, fraction, seed + 17)
    return cut(labeled, rest), cut(labeled, held)


def pseudo_weights(spreads: list[np.ndarray], cfg: SSLConfig) -> list[np.ndarray]:
    """Per-frame loss weights of pseudo-labeled frames from their uncertainty: ``pseudo_weight``,
    zero outside the ``keep_share`` most certain frames, times 1 / (1 + (u / median)^2) if ``inverse``."""
    u = np.concatenate(spreads) if spreads else np.zeros(0)
    cut_at = np.quantile(u, cfg.keep_share) if len(u) and cfg.keep_share < 1 else np.inf
    median = float(np.median(u)) if len(u) else 0.0
    out = []
    for sp in spreads:
        w = np.full(len(sp), cfg.pseudo_weight, np.float64)
        w[sp > cut_at] = 0.0
        if cfg.weighting == "inverse" and median > 0:
            w /= 1.0 + (sp / median) ** 2
        out.append(w.astype(np.float32))
    return out


def pseudo_label_sparsification(
    labels: list[np.ndarray], truth: list[np.ndarray], spreads: list[np.ndarray]
) -> dict[str, Any]:
    """Pseudo-label error (MPJPE per frame, mm) as the most uncertain frames are removed, against the
    oracle that removes the largest errors first; and the error at a few kept shares."""
    err = np.concatenate([np.linalg.norm(p - t, axis=-1).mean(axis=-1) for p, t in zip(labels, truth)]) * 1000
    u = np.concatenate(spreads)
    sp = sparsification(u, err)
    order = np.argsort(u, kind="stable")
    kept = {f"{k:g}": float(err[order[: max(1, int(round(k * len(err))))]].mean()) for k in (1.0, 0.75, 0.5, 0.25)}
    return {
        "fractions_removed": sp["fractions"].tolist(),
        "error_mm": sp["curve"].tolist(),
        "oracle_mm": sp["oracle"].tolist(),
        "ause": sp["ause"],
        "error_mm_at_kept_share": kept,
    }


def _ensemble_val_error(models: list, val: list[Sequence], skel: Skeleton) -> float:
    """Held-out labeled MPJPE (mm) of the members' mean prediction."""
    preds = predict_members(models, [x.keypoints_2d for x in val], skel, flip=False)
    err = np.concatenate(
        [np.linalg.norm(ensemble_mean(p) - x.root_relative_3d(), axis=-1).mean(axis=-1) for p, x in zip(preds, val)]
    )
    return float(err.mean() * 1000)


def ssl_split(
    cfg: SSL3DConfig,
) -> tuple[list[Sequence], Skeleton, list[Sequence], list[Segment], list[Sequence], list[Sequence], list[Sequence]]:
    """The semi-supervised protocol's data: all training sequences, skeleton, test sequences, the
    unlabeled segments, and the labeled, unlabeled and held-out (validation) sequences."""
    train_all, skel = load_split(cfg.data, cfg.data.subjects_train)
    test, _ = load_split(cfg.data, cfg.data.subjects_test)
    lab_segs, unl_segs = split_labeled(train_all, cfg.ssl.labeled_fraction, cfg.ssl.split_seed)
    labeled, unlabeled = cut(train_all, lab_segs), cut(train_all, unl_segs)
    labeled, val = hold_out_labeled(labeled, cfg.train.val_fraction, cfg.ssl.split_seed)
    return train_all, skel, test, unl_segs, labeled, unlabeled, val


def _take(order: list[int], frames: list[int], share: float) -> list[int]:
    """The first segments in ``order`` holding at least ``share`` of all frames."""
    target, picked, size = share * sum(frames), [], 0
    for i in order:
        if size >= target - 1e-9:
            break
        picked.append(i)
        size += frames[i]
    return picked


def _row(stage_id: str, stage: str, share: float, m: dict[str, Any]) -> dict[str, Any]:
    """A row of the rounds table: ``id`` (the stage's run folder: ``labeled_only``, ``ensemble_labeled``,
    ``round_<k>``, ``all_labeled``) for code, ``stage`` for readers."""
    return {"id": stage_id, "stage": stage, "pseudo_share": share, **{k: m[k] for k in SUMMARY}}


def run_pseudo_label_rounds(cfg: SSL3DConfig, out_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    out_dir = Path(out_dir)
    s = cfg.ssl
    train_all, skel, test, unl_segs, labeled, unlabeled, val = ssl_split(cfg)
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "labeled_frames": sum(x.num_frames for x in labeled),
        "unlabeled_frames": sum(x.num_frames for x in unlabeled),
        "validation_frames": sum(x.num_frames for x in val),
    }

    def data_for(seqs: list[Sequence], targets=None, weights=None):
        return training_data(seqs, skel, targets, weights, validation=val)

    models, m0 = train_and_evaluate(
        ensemble_config(cfg), out_dir / "ensemble_labeled", data_for(labeled), test, skel, progress
    )
    rows.append(_row("ensemble_labeled", f"ensemble of {len(models)}, labeled only", 0.0, m0))
    result["ensemble_labeled"] = {k: m0[k] for k in SUMMARY} | {"uncertainty": m0.get("uncertainty")}
    views = view_groups(train_all, unl_segs)
    smooth, result["triangulation"] = resolve_smoothing(s, labeled + val)
    result["pseudo_labels"] = {"none": "the ensemble's mean", "triangulate": "the views' 2D triangulated"}.get(
        s.fusion, f"the ensemble's predictions fused over views ({s.fusion})"
    )
    labels, spreads = pseudo_label(models, unlabeled, skel, cfg.train.test_flip, s.fusion, views, s.outlier_px, smooth)
    truth = [x.root_relative_3d() for x in unlabeled]
    names = ([x.subject for x in unlabeled], [x.action_name for x in unlabeled])
    result["pseudo_label_error"] = [
        {"round": 0, **{k: v for k, v in evaluate_sequences(labels, truth, *names).items() if k in SUMMARY}}
    ]
    if len(models) > 1 or s.fusion != "none":
        result["pseudo_label_sparsification"] = pseudo_label_sparsification(labels, truth, spreads)
    teacher_val = _ensemble_val_error(models, val, skel) if val else None
    student_inputs = unlabeled
    if s.student_noise.enabled:
        keys = [f"{x.subject}/{x.action}/{x.camera_index}/{seg.start}" for x, seg in zip(unlabeled, unl_segs)]
        noisy = noisy_sequences_2d([x.keypoints_2d for x in unlabeled], keys, skel, s.student_noise)
        student_inputs = [dataclasses.replace(x, keypoints_2d=kp) for x, kp in zip(unlabeled, noisy)]

    frames = [x.num_frames for x in unlabeled]
    if s.order == "uncertainty":
        order = list(np.argsort([float(sp.mean()) for sp in spreads], kind="stable"))
    else:
        order = list(np.random.default_rng(s.split_seed + 1).permutation(len(unlabeled)))
    members = 1 if s.retrain == "single" else cfg.ensemble.members
    teacher_init = member_weights(out_dir / "ensemble_labeled") if s.student_init == "teacher" else b""
    for k, share in enumerate(s.rounds, start=1):
        picked = _take(order, frames, share)
        seqs = labeled + [student_inputs[i] for i in picked]
        targets = [x.root_relative_3d() for x in labeled] + [labels[i] for i in picked]
        frame_weights = pseudo_weights([spreads[i] for i in picked], s)
        weights = [np.ones(x.num_frames, np.float32) for x in labeled] + frame_weights
        data = data_for(seqs, targets, weights)
        round_models, mk = train_and_evaluate(
            ensemble_config(cfg, None if members > 1 else 1),
            out_dir / f"round_{k}",
            data,
            test,
            skel,
            progress,
            teacher_init,
        )
        rows.append(_row(f"round_{k}", f"round {k}: labeled + {share:.0%} pseudo-labeled", share, mk))
        if s.recompute and k < len(s.rounds):
            if s.replace_teacher == "if_better":
                if not val:
                    raise ConfigError(
                        "ssl.replace_teacher=if_better needs held-out labeled data (train.val_fraction > 0)"
                    )
                new_val = _ensemble_val_error(round_models, val, skel)
                assert teacher_val is not None  # val is not empty
                rows[-1]["teacher_replaced"] = new_val < teacher_val
                if new_val >= teacher_val:  # the current teacher stays; its pseudo-labels too
                    continue
                teacher_val = new_val
            labels, new_spreads = pseudo_label(
                round_models, unlabeled, skel, cfg.train.test_flip, s.fusion, views, s.outlier_px, smooth
            )
            if len(round_models) > 1:
                spreads = new_spreads
            result["pseudo_label_error"].append(
                {"round": k, **{a: b for a, b in evaluate_sequences(labels, truth, *names).items() if a in SUMMARY}}
            )

    if s.baselines:
        # a student that starts from the teacher trains twice (the teacher, then itself): its baselines
        # do the same, so that the second training is not counted as the unlabeled data's gain
        how = ", from the teacher" if teacher_init else ""
        _, lo = train_and_evaluate(
            ensemble_config(cfg, 1), out_dir / "labeled_only", data_for(labeled), test, skel, progress, teacher_init
        )
        _, al = train_and_evaluate(
            ensemble_config(cfg, 1),
            out_dir / "all_labeled",
            data_for(labeled + unlabeled),
            test,
            skel,
            progress,
            teacher_init,
        )
        rows.insert(0, _row("labeled_only", f"single model, labeled only{how}", 0.0, lo))
        rows.append(_row("all_labeled", f"single model, all labeled (true 3D){how}", 1.0, al))
        gap = lo["p_mpjpe_mm"] - al["p_mpjpe_mm"]
        last = next(r for r in rows if r["id"] == f"round_{len(s.rounds)}")["p_mpjpe_mm"]
        result["gap_closed_p_mpjpe"] = float((lo["p_mpjpe_mm"] - last) / gap) if gap > 0 else float("nan")
    result["rows"] = rows
    atomic_write_json(out_dir / "rounds.json", result)
    write_table([{k: v for k, v in r.items() if k != "id"} for r in rows], out_dir / "rounds")
    return result
