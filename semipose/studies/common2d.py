"""What the 2D studies share: a SynthPose set written into the study's folder, runs of named arms
(config overrides) over seeds with resume, and mean / standard deviation over seeds."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm import tqdm

from ..config import POSITIVE, ConfigError, checked, dump_yaml, load_config
from ..data.synthpose import VERSIONS, SynthPoseConfig, image_scale, write_synthpose
from ..engine import prepare_run_dir
from ..io import atomic_write_text
from ..methods.ssl2d import METHODS
from ..pool import LocalPool, RunsFailed
from ..pose2d.ssl import SSL2DConfig, train_ssl


def ensure_synthpose(data, out_dir: Path, n_train: int, n_val: int, version: int = 1) -> None:
    """Write ``n_train`` / ``n_val`` SynthPose images (seeds 0 / 1) into ``<out>/synthpose`` unless there,
    and point ``data`` (a Pose2DDataConfig) at them: version 1 at the input's longer side, versions 2-5 at
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


Prepare = Callable[[list[str], Path], list[str]]


def run_arms(
    arms: dict[str, list[str]],
    seeds: list[int],
    out_dir: Path,
    cfg: Any,
    progress: bool = True,
    prepare: Prepare | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Train every arm (name: overrides of ``cfg``, an SSLStudyConfig) once per seed in ``<out>/<arm>/seed<k>``
    and return each arm's metrics by seed. A run whose ``metrics.json`` exists is read back, an interrupted
    one resumes; arms with identical overrides share their runs (the first name's folder). ``prepare`` may
    add overrides to a run as it starts (it sees the runs finished by then).

    ``study.workers`` > 1 trains that many runs at once in spawned processes, each with the cores shared
    out (``train.threads``, unless set); a failing run does not stop the others, and the study fails at the
    end naming every failed run (its traceback in ``<run>/failed.txt``). ``study.report_only`` trains
    nothing: the runs finished so far make the tables (a long study's partial results). Each returned
    metrics dict carries its ``seed``, so that partial arms pair by seed."""
    base = run_base(cfg)
    results: dict[str, list[dict[str, Any] | None]] = {}
    first: dict[tuple, str] = {}
    todo: list[tuple[str, int, list[str], Path]] = []
    for name, overrides in arms.items():
        key = tuple(sorted(overrides))
        if key in first:
            results[name] = results[first[key]]  # the same list: filled in once
            continue
        first[key], results[name] = name, []
        for i, seed in enumerate(seeds):
            run_dir = out_dir / name / f"seed{seed}"
            metrics_file = run_dir / "metrics.json"
            results[name].append(json.loads(metrics_file.read_text()) if metrics_file.is_file() else None)
            if results[name][i] is None:
                todo.append((name, i, [*overrides, f"train.seed={seed}"], run_dir))

    if cfg.study.report_only:
        if todo:
            print(f"study.report_only: {len(todo)} runs not finished, left out: "
                  + ", ".join(f"{name}/seed{seeds[i]}" for name, i, _, _ in todo), file=sys.stderr)  # fmt: skip
        todo = []
        if not any(r is not None for runs in results.values() for r in runs):
            raise ConfigError(
                f"{out_dir}: study.report_only, but no run of the study has finished there (expected "
                f"<arm>/seed<k>/metrics.json, e.g. {out_dir / next(iter(arms), 'ARM') / f'seed{seeds[0]}'})"
            )
    start: Prepare = prepare or (lambda overrides, run_dir: overrides)
    workers = min(cfg.study.workers, len(todo))
    if workers <= 1:
        for name, i, overrides, run_dir in todo:
            results[name][i] = train_study_run(base, start(overrides, run_dir), run_dir, progress)
            (run_dir / "failed.txt").unlink(missing_ok=True)  # an earlier attempt's
    else:
        threads = pool_threads(cfg.train.threads, workers)

        def call(i: int) -> tuple[Callable[..., dict[str, Any]], tuple]:
            _, _, overrides, run_dir = todo[i]
            return train_study_run, (base, [*start(overrides, run_dir), f"train.threads={threads}"], run_dir, False)

        done = run_in_pool([job[3] for job in todo], call, workers, progress)
        for i, metrics in done.items():
            name, k, _, _ = todo[i]
            results[name][k] = metrics
    return {
        name: [{**r, "seed": seeds[i]} for i, r in enumerate(runs) if r is not None] for name, runs in results.items()
    }


def run_base(cfg: Any) -> dict[str, Any]:
    """A study config (an SSLStudyConfig) as the plain dict its runs start from: without its study section."""
    return {k: v for k, v in yaml.safe_load(dump_yaml(cfg)).items() if k != "study"}


def train_study_run(base: dict[str, Any], overrides: list[str], run_dir: Path, progress: bool) -> dict[str, Any]:
    """One run of a study: the study's config (``base``, without its study section) with ``overrides``."""
    run_cfg = load_config(SSL2DConfig, None, overrides, base=base)
    return train_ssl(run_cfg, run_dir, resume=True, progress=progress)


def pool_threads(threads: int, workers: int) -> int:
    """Threads for each of ``workers`` runs at once: ``threads`` when set, else the cores shared out."""
    return threads or max(1, (os.cpu_count() or 1) // workers)


def run_in_pool(
    run_dirs: list[Path],
    call: Callable[[int], tuple[Callable[..., dict[str, Any]], tuple]],
    workers: int,
    progress: bool,
) -> dict[int, dict[str, Any]]:
    """Run job ``i`` (its folder ``run_dirs[i]``) as ``fn(*args)`` with ``fn, args = call(i)`` on the shared
    pool (:mod:`semipose.pool`), at most ``workers`` at once; ``call`` is made only when a worker is free, so it
    sees the runs finished before it (``fn`` must be a module-level function). Returns each finished job's
    result by index. A failing run does not stop the others: its traceback goes to ``<run>/failed.txt`` and,
    once every run has ended, ``RunsFailed`` names each failed run (the finished ones are on disk)."""
    results: dict[int, dict[str, Any]] = {}
    bar = tqdm(total=len(run_dirs), desc=f"runs ({workers} at once)", unit="run", disable=not progress)

    def done(i: int, metrics: dict[str, Any]) -> None:
        results[i] = metrics
        (run_dirs[i] / "failed.txt").unlink(missing_ok=True)  # an earlier attempt's
        if progress:
            bar.write(f"{run_dirs[i]}: done")
        bar.update()

    failures = LocalPool(workers).run(len(run_dirs), lambda i, attempt: call(i), done)
    bar.close()
    failed = []
    for f in failures:
        run_dir = run_dirs[f.index]
        atomic_write_text(run_dir / "failed.txt", f.traceback)
        failed.append(f"{run_dir}: {f.error.splitlines()[0]}")
        if progress:
            print(
                f"{run_dir}: failed ({f.error.split(':')[0]}; traceback in {run_dir / 'failed.txt'})", file=sys.stderr
            )
    if failed:
        raise RunsFailed(
            f"{len(failed)} of {len(run_dirs)} runs failed (the others are kept; --resume retries the failed): "
            + "; ".join(failed)
        )
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
    seeds came out ahead. Runs pair by their ``seed`` (by position without one); unpaired runs are left out."""
    by_seed = {b.get("seed", i): b for i, b in enumerate(baseline)}
    pairs = [(r, by_seed[r.get("seed", i)]) for i, r in enumerate(runs) if r.get("seed", i) in by_seed]
    if not pairs:
        return {f"{key}_mean": float("nan"), f"{key}_std": float("nan"), "ahead": 0, "seeds": 0}
    d = np.array([float(r[key]) - float(b[key]) for r, b in pairs])
    return {f"{key}_mean": float(d.mean()), f"{key}_std": float(d.std()), "ahead": int((d > 0).sum()), "seeds": len(d)}


def pm(row: dict[str, Any], key: str, digits: int = 3) -> str:
    """``mean ± std`` of a summary row's key."""
    return f"{row[f'{key}_mean']:.{digits}f} ± {row[f'{key}_std']:.{digits}f}"


# a study's method may carry variants: "posedual+jc" is PoseDual with Joint Cutout, as the papers' rows
VARIANTS: dict[str, list[str]] = {
    "jc": ["method.joint_cutout=true"],
    "ra": ["method.randaugment=true"],
    # refined targets: consistency targets thresholded at 0.2 (the pseudo-label threshold of the 2D
    # studies) and redrawn as Gaussians at their quarter-pixel maxima
    "rt": [
        "method.consistency_refine=true",
        "method.threshold=0.2",
        "method.refine=true",
        "method.refine_subpixel=true",
    ],
    # mirror rejection: no consistency target for a left/right joint that its teacher put within 2 heatmap
    # pixels of its mirror joint
    "mr": ["method.mirror_radius=2"],
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
    synthpose_version: int = checked(1, choices=VERSIONS)  # 2-5: figures for which COCO AP ranks (data/synthpose.py)
    labeled: list[int] = field(default_factory=lambda: [100])
    # each may add +jc, +ra, +rt, +mr (VARIANTS); ema_teacher is left out by default (DualPose's collapsing set-up)
    methods: list[str] = field(default_factory=lambda: [m for m in METHODS if m != "ema_teacher"])
    # runs trained at once, each in a process of its own with the cores shared out (small 2D networks use
    # many threads poorly; docs/ssl2d.md)
    workers: int = checked(1, **POSITIVE)
    # true: train nothing, write the tables from the runs finished in the study's folder (with --resume)
    report_only: bool = False

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
