"""What the 2D studies share: a SynthPose set written into the study's folder, runs of named arms
(config overrides) over seeds with resume, and mean / standard deviation over seeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..config import ConfigError, checked, dump_yaml, load_config
from ..data.synthpose import VERSIONS, SynthPoseConfig, image_scale, write_synthpose
from ..engine import prepare_run_dir
from ..methods.ssl2d import METHODS
from ..pose2d_ssl import SSL2DConfig, train_ssl2d


def ensure_synthpose(data, out_dir: Path, n_train: int, n_val: int, version: int = 1) -> None:
    """Write ``n_train`` / ``n_val`` SynthPose images (seeds 0 / 1) into ``<out>/synthpose`` unless there,
    and point ``data`` (a Pose2DDataConfig) at them: version 1 at the input's longer side, versions 2-4 at
    twice it (their figures fill the image, so person crops keep their detail). ``n_train <= 0`` leaves
    ``data``."""
    if n_train <= 0:
        return
    root = out_dir / "synthpose"
    cfg = SynthPoseConfig(image_size=max(data.input_size) * image_scale(version), version=version)
    for split, n, seed in (("train", n_train, 0), ("val", n_val, 1)):
        if not (root / "annotations" / f"person_keypoints_{split}.json").is_file():
            write_synthpose(root, n, seed, split, cfg)
    data.train_ann, data.train_images = str(root / "annotations/person_keypoints_train.json"), str(root / "train")
    data.val_ann, data.val_images = str(root / "annotations/person_keypoints_val.json"), str(root / "val")


def run_arms(
    arms: dict[str, list[str]], seeds: list[int], out_dir: Path, train_one: Callable[[list[str], Path], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Train every arm (name: overrides) once per seed in ``<out>/<arm>/seed<k>``; a run whose
    ``metrics.json`` exists is read back, an interrupted one resumes. Arms with identical overrides
    share their runs (the first name's folder)."""
    results: dict[str, list[dict[str, Any]]] = {}
    done: dict[tuple, str] = {}
    for name, overrides in arms.items():
        key = tuple(sorted(overrides))
        if key in done:
            results[name] = results[done[key]]
            continue
        done[key] = name
        results[name] = []
        for seed in seeds:
            run_dir = out_dir / name / f"seed{seed}"
            metrics_file = run_dir / "metrics.json"
            if metrics_file.is_file():
                results[name].append(json.loads(metrics_file.read_text()))
            else:
                results[name].append(train_one(list(overrides) + [f"train.seed={seed}"], run_dir))
    return results


def mean_std(runs: list[dict[str, Any]], key: str) -> tuple[float, float]:
    values = np.array([float(r[key]) for r in runs if r.get(key) is not None], dtype=float)
    if not len(values):
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std())


def summary_row(
    runs: list[dict[str, Any]], keys: tuple[str, ...] = ("coco_AP", "pck@0.2", "pck@0.1")
) -> dict[str, Any]:
    """Mean and std over seeds of each key, how many runs collapsed, and the mean training minutes."""
    row: dict[str, Any] = {}
    for k in keys:
        row[f"{k}_mean"], row[f"{k}_std"] = mean_std(runs, k)
    row["collapsed_runs"] = sum(1 for r in runs if r.get("collapsed_at"))
    row["train_min"] = float(np.mean([r["train_wall_s"] for r in runs])) / 60
    return row


def paired_delta(runs: list[dict[str, Any]], baseline: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Per-seed differences ``runs - baseline`` of ``key`` (the runs of one seed share their first
    network's initialisation, so pairing removes most of the seeds' spread): mean, std and how many
    seeds came out ahead."""
    d = np.array([float(r[key]) - float(b[key]) for r, b in zip(runs, baseline, strict=True)])
    return {f"{key}_mean": float(d.mean()), f"{key}_std": float(d.std()), "ahead": int((d > 0).sum()), "seeds": len(d)}


def pm(row: dict[str, Any], key: str, digits: int = 3) -> str:
    """``mean ± std`` of a summary row's key."""
    return f"{row[f'{key}_mean']:.{digits}f} ± {row[f'{key}_std']:.{digits}f}"


# a study's method may carry variants: "posedual+jc" is PoseDual with Joint Cutout, as the papers' rows
VARIANTS: dict[str, list[str]] = {
    "jc": ["method.joint_cutout=true"],
    "ra": ["method.randaugment=true"],
}


def method_overrides(name: str) -> list[str]:
    """The overrides of a study's method name: ``posedual+jc+ra`` -> method.name=posedual, Joint Cutout, RandAugment."""
    base, *variants = name.split("+")
    return [f"method.name={base}"] + [o for v in variants for o in VARIANTS[v]]


@dataclass
class SSLStudySection:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    synthpose_train: int = 0  # > 0: write SynthPose into <out>/synthpose (else data.* name a dataset)
    synthpose_val: int = 200
    synthpose_version: int = checked(1, choices=VERSIONS)  # 2-4: figures for which COCO AP ranks (data/synthpose.py)
    labeled: list[int] = field(default_factory=lambda: [100])
    # each may add +jc, +ra (VARIANTS); ema_teacher is left out by default (DualPose's collapsing set-up)
    methods: list[str] = field(default_factory=lambda: [m for m in METHODS if m != "ema_teacher"])

    def validate(self) -> None:
        for name in self.methods:
            base, *variants = name.split("+")
            if base not in METHODS or any(v not in VARIANTS for v in variants):
                raise ConfigError(
                    f"study.methods: {name!r} is not a method ({', '.join(METHODS)}) with optional "
                    f"variants {', '.join('+' + v for v in VARIANTS)}"
                )


@dataclass
class SSLStudyConfig(SSL2DConfig):
    """The semi-supervised 2D config plus the study's section."""

    study: SSLStudySection = field(default_factory=SSLStudySection)


def start_study(cfg, out_dir: Path, name: str) -> Path:
    """The study's run folder with its records, and its SynthPose set when it writes one."""
    out_dir = Path(out_dir)
    prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"study": name})
    ensure_synthpose(cfg.data, out_dir, cfg.study.synthpose_train, cfg.study.synthpose_val, cfg.study.synthpose_version)
    return out_dir


def train_arm(cfg, progress: bool) -> Callable[[list[str], Path], dict[str, Any]]:
    """A function training one run of ``cfg`` (an SSLStudyConfig) with extra overrides."""
    base = {k: v for k, v in yaml.safe_load(dump_yaml(cfg)).items() if k != "study"}

    def train_one(overrides: list[str], run_dir: Path) -> dict[str, Any]:
        run_cfg = load_config(SSL2DConfig, None, overrides, base=base)
        return train_ssl2d(run_cfg, run_dir, resume=True, progress=progress)

    return train_one
