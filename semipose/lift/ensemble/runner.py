"""Train an ensemble of lifting networks on workers, resume it, evaluate it.

The run directory holds ``members/member_XX.pt`` (written atomically as each member finishes),
``ensemble.json`` (each member's seed, subset, status, time, and the traceback of a failure), and
after evaluation ``metrics.json`` with the ensemble's, each member's and the members' mean errors and
the quality of the ensemble's uncertainty.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ...data.npz3d import Sequence
from ...data.splits import group_sequences
from ...engine import CheckpointError, load_checkpoint
from ...engine.saved import read_model
from ...io import atomic_write_bytes, atomic_write_json
from ...metrics.mpjpe import evaluate_sequences
from ...metrics.uncertainty import calibration, rank_correlation, sparsification
from ...models.tcn import TemporalModel, build_tcn
from ...pool import Pool, make_pool
from ...skeletons import Skeleton
from ..config import EnsembleConfig, EnsembleRunConfig
from ..evaluate import predict_sequences
from .aggregate import ensemble_mean, ensemble_spread
from .member import MemberResult, MemberTask, TrainingData, remove_work_dir, train_member
from .subsets import draw_subsets


def training_data(
    sequences: list[Sequence],
    skeleton: Skeleton,
    targets: list[np.ndarray] | None = None,
    weights: list[np.ndarray] | None = None,
    validation: list[Sequence] | None = None,
) -> TrainingData:
    """Members' training data from sequences (their own 3D, or ``targets`` such as pseudo-labels);
    ``validation``: held-out labeled sequences for early stopping."""
    val = validation or None
    return TrainingData(
        skeleton.name,
        [s.keypoints_2d for s in sequences],
        targets if targets is not None else [s.root_relative_3d() for s in sequences],
        group_sequences(sequences),
        weights,
        [s.keypoints_2d for s in val] if val else None,
        [s.root_relative_3d() for s in val] if val else None,
    )


def make_backend(cfg: EnsembleConfig) -> Pool:
    """The pool the members train on (:mod:`semipose.pool`)."""
    return make_pool(cfg.backend, cfg.workers, cfg.max_retries, None, cfg.ray_address, cfg.num_cpus, cfg.num_gpus)


def make_tasks(cfg: EnsembleRunConfig, data: TrainingData, threads: int = 1, init: bytes = b"") -> list[MemberTask]:
    e = cfg.ensemble
    subsets = draw_subsets(data.group_frames(), e.members, e.subset, e.subset_fraction, e.subset_frames, e.seed)
    key = data.fingerprint()
    return [
        MemberTask(i, cfg.train.seed + i, groups, asdict(cfg.model), asdict(cfg.train), threads, key, init)
        for i, groups in enumerate(subsets)
    ]


def member_weights(run_dir: str | Path, index: int = 0) -> bytes:
    """A finished member's weights as bytes, to start another model from (``MemberTask.init``)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(load_checkpoint(member_path(Path(run_dir), index))["model"], buf)  # any layout has "model"
    return buf.getvalue()


def member_path(run_dir: Path, index: int) -> Path:
    return run_dir / "members" / f"member_{index:02d}.pt"


def _finished(run_dir: Path, task: MemberTask) -> bool:
    path = member_path(run_dir, task.index)
    if not path.is_file():
        return False
    try:
        return load_checkpoint(path).get("key") == task.key()
    except Exception:
        return False


def train_ensemble(
    cfg: EnsembleRunConfig,
    run_dir: str | Path,
    data: TrainingData,
    resume: bool = False,
    faults: dict[int, str] | None = None,
    progress: bool = True,
    init: bytes = b"",
) -> dict[str, Any]:
    """Train the members not yet finished; returns the ensemble status (also in ``ensemble.json``).
    ``init``: weights every member starts from (see :func:`member_weights`)."""
    run_dir = Path(run_dir)
    backend = make_backend(cfg.ensemble)
    tasks = make_tasks(cfg, data, init=init)
    for t in tasks:
        t.work_dir = str(run_dir / "members" / f"member_{t.index:02d}.work")
        if not resume:  # a new run starts every member afresh
            remove_work_dir(t)
    for i, fault in (faults or {}).items():
        tasks[i].fault = fault
    status: dict[str, Any] = {"backend": backend.name, "members": []}
    for t in tasks:
        status["members"].append(
            {
                "index": t.index,
                "seed": t.seed,
                "key": t.key(),
                "groups": t.groups,
                "frames": int(sum(data.group_frames()[g] for g in t.groups)),
                "status": "pending",
            }
        )
    todo = [t for t in tasks if not (resume and _finished(run_dir, t))]
    for t in todo:
        t.threads = backend.threads_per_job(len(todo))
    for t in tasks:
        if t not in todo:
            status["members"][t.index]["status"] = "done (earlier run)"
    atomic_write_json(run_dir / "ensemble.json", status)
    bar = tqdm(
        total=len(tasks),
        initial=len(tasks) - len(todo),
        unit="member",
        disable=not progress,
        desc=f"ensemble ({backend.name})",
    )

    def on_result(_: int, r: MemberResult) -> None:
        atomic_write_bytes(member_path(run_dir, r.index), r.payload)
        remove_work_dir(tasks[r.index])
        status["members"][r.index].update(status="done", seconds=round(r.seconds, 2), **r.record)
        atomic_write_json(run_dir / "ensemble.json", status)
        bar.update(1)

    failures = backend.run(
        len(todo), lambda i, attempt: (train_member, (replace(todo[i], attempt=attempt), data)), on_result
    )
    bar.close()
    for f in failures:
        index = todo[f.index].index
        status["members"][index].update(status="failed", error=f.error, traceback=f.traceback, attempts=f.attempts)
        tqdm.write(f"member {index} failed after {f.attempts} attempt(s): {f.error}")
    atomic_write_json(run_dir / "ensemble.json", status)
    return status


def member_keys(cfg: EnsembleRunConfig, data: TrainingData, init: bytes = b"") -> list[str]:
    """What each member of ``cfg`` trained on ``data`` must be (:meth:`MemberTask.key`)."""
    return [t.key() for t in make_tasks(cfg, data, init=init)]


def load_members(
    run_dir: str | Path,
    cfg: EnsembleRunConfig,
    skeleton: Skeleton,
    device: str | torch.device = "cpu",
    keys: list[str] | None = None,
) -> list[TemporalModel]:
    """The dilated models of the members that finished, in member order. With ``keys`` (see
    :func:`member_keys`), a member file trained for another config or data is refused by name."""
    models = []
    m = cfg.model
    for i in range(cfg.ensemble.members):
        path = member_path(Path(run_dir), i)
        if not path.is_file():
            continue
        state = read_model(path, "lifting", lambda: asdict(m), lambda _: skeleton)
        if keys is not None and state.get("key") != keys[i]:
            raise CheckpointError(
                f"{path}: trained for another config or data (key {state.get('key')}, this run's "
                f"member {i} is {keys[i]}); retrain it with semipose ensemble train -o "
                f"{run_dir} --resume"
            )
        model = build_tcn(m, skeleton.num_joints)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise CheckpointError(
                f"{path}: the weights do not fit model {vars(m)} ({str(e).splitlines()[0][:160]})"
            ) from None
        models.append(model.to(device).eval())
    return models


def predict_members(
    models: list[TemporalModel], keypoints: list[np.ndarray], skeleton: Skeleton, flip: bool = True
) -> list[np.ndarray]:
    """Every member lifts the same sequences: one (members, T, J, 3) array per sequence."""
    per_member = [predict_sequences(m, keypoints, skeleton, flip) for m in models]
    return [np.stack([pm[k] for pm in per_member]) for k in range(len(keypoints))]


def evaluate_ensemble(
    models: list[TemporalModel], sequences: list[Sequence], skeleton: Skeleton, flip: bool = True
) -> dict[str, Any]:
    """Errors of the ensemble mean, of each member, of the members on average; uncertainty quality."""
    if not models:
        raise ValueError("no trained members to evaluate")
    preds = predict_members(models, [s.keypoints_2d for s in sequences], skeleton, flip)
    targets = [s.root_relative_3d() for s in sequences]
    subjects, actions = [s.subject for s in sequences], [s.action_name for s in sequences]
    out = evaluate_sequences([ensemble_mean(p) for p in preds], targets, subjects, actions)
    members = [evaluate_sequences([p[m] for p in preds], targets, subjects, actions) for m in range(len(models))]
    keys = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")
    out["members"] = [{k: m[k] for k in keys} for m in members]
    out["members_mean"] = {k: float(np.mean([m[k] for m in members])) for k in keys}
    out["num_members"] = len(models)
    if len(models) < 2:
        return out
    # Uncertainty quality over every joint but the root, whose target is zero by construction.
    joints = [j for j in range(skeleton.num_joints) if skeleton.parents[j] != -1]
    spread = np.concatenate([ensemble_spread(p)[:, joints].ravel() for p in preds])
    error = np.concatenate(
        [np.linalg.norm(ensemble_mean(p) - t, axis=-1)[:, joints].ravel() for p, t in zip(preds, targets)]
    )
    sp, cal = sparsification(spread, error), calibration(spread, error)
    out["uncertainty"] = {
        "spearman": rank_correlation(spread, error),
        "ause": sp["ause"],
        "calibration_error": cal["error"],
        "mean_spread_mm": float(spread.mean() * 1000),
    }
    out["uncertainty_curves"] = {
        "fractions": sp["fractions"].tolist(),
        "sparsification_mm": (sp["curve"] * 1000).tolist(),
        "oracle_mm": (sp["oracle"] * 1000).tolist(),
        "expected": cal["expected"].tolist(),
        "observed": cal["observed"].tolist(),
    }
    return out
