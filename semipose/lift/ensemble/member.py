"""One ensemble member: the task a worker receives and the function it runs.

Everything here is picklable and self-contained, so the same task trains the same member in this
process, in a local worker process or in a Ray task on another machine: the member's seed, data
subset, model and schedule are all in the task, and its weights come back as bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data.windows import WindowSampler
from ...engine import fit, load_checkpoint
from ...engine.precision import precision_for_run
from ...engine.saved import model_record
from ...io import atomic_write_text
from ...methods.supervised_lift import Schedule, SupervisedLifting
from ...models.tcn import TCNConfig, build_tcn
from ...skeletons import get_skeleton
from ..config import LiftTrainConfig
from ..train import early_stopping, lift_example


@dataclass
class TrainingData:
    """The labeled (or pseudo-labeled) training sequences, shared by all members."""

    skeleton: str
    inputs_2d: list[np.ndarray]  # (T, J, 2) normalised
    targets_3d: list[np.ndarray]  # (T, J, 3) root-relative, metres
    groups: list[list[int]]  # sequence indices of each recording
    weights: list[np.ndarray] | None = None  # per-frame loss weights
    # held-out labeled sequences for early stopping (train.val_every / train.patience); never test data
    val_inputs_2d: list[np.ndarray] | None = None
    val_targets_3d: list[np.ndarray] | None = None

    def group_frames(self) -> list[int]:
        return [sum(self.inputs_2d[i].shape[0] for i in g) for g in self.groups]

    def fingerprint(self) -> str:
        """A hash of the data's content (inputs, targets, weights, grouping)."""
        h = hashlib.sha256(json.dumps([self.skeleton, self.groups]).encode())
        for arrays in (
            self.inputs_2d,
            self.targets_3d,
            self.weights or [],
            self.val_inputs_2d or [],
            self.val_targets_3d or [],
        ):
            for a in arrays:
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]


@dataclass
class MemberTask:
    index: int
    seed: int
    groups: list[int]  # recordings this member trains on (repeats allowed: bootstrap)
    model: dict[str, Any]  # TCNConfig fields
    train: dict[str, Any]  # TrainConfig fields
    threads: int = 1
    data_key: str = ""  # TrainingData.fingerprint(): a member of other data is another member
    init: bytes = b""  # torch.save'd weights to start from (e.g. a teacher's), else a fresh initialisation
    # where the member checkpoints during training (resumed from there after a kill); "" or a folder
    # this worker cannot write (a Ray node without the run's disk): a temporary folder, no resume
    work_dir: str = field(default="", compare=False)
    # Fault injection for testing the backends: 'always' raises on every attempt; 'once:PATH' raises
    # on the first attempt only (PATH marks that it happened).
    fault: str = ""
    attempt: int = field(default=0, compare=False)

    def key(self) -> str:
        """Identifies what the member is (not how it is run): resume skips members with the same key."""
        what = {
            "seed": self.seed,
            "groups": self.groups,
            "model": self.model,
            "data": self.data_key,
            "train": {k: v for k, v in self.train.items() if k not in ("progress", "threads", "device")},
        }
        if self.init:  # (absent otherwise, so members trained before this option keep their keys)
            what["init"] = hashlib.sha256(self.init).hexdigest()[:16]
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class MemberResult:
    index: int
    key: str
    payload: bytes  # torch.save of engine.saved.model_record (weights, config, skeleton, key, history)
    seconds: float
    frames: int
    record: dict[str, Any] = field(default_factory=dict)  # how it ran: threads, precision, host


def _inject_fault(task: MemberTask) -> None:
    if task.fault == "always":
        raise RuntimeError(f"member {task.index}: injected failure")
    if task.fault.startswith("once:"):
        marker = Path(task.fault[5:])
        if not marker.exists():
            marker.write_text("failed once\n")
            raise RuntimeError(f"member {task.index}: injected failure (first attempt)")


def _work_dir(task: MemberTask) -> Path | None:
    """The member's checkpoint folder, emptied if it holds another member's (another key) checkpoint;
    None where it cannot be used."""
    if not task.work_dir:
        return None
    work = Path(task.work_dir)
    try:
        work.mkdir(parents=True, exist_ok=True)
        key_file = work / "key"
        if not key_file.is_file() or key_file.read_text().strip() != task.key():
            for p in work.iterdir():
                p.unlink()
            atomic_write_text(key_file, task.key() + "\n")
    except OSError:
        return None
    return work


def _checkpoint_epoch(work: Path | None) -> int | None:
    """The epochs a member's checkpoint holds (1-based), or None when it starts afresh."""
    if work is None or not (work / "checkpoint.pt").is_file():
        return None
    try:
        return int(load_checkpoint(work / "checkpoint.pt")["epoch"]) + 1
    except Exception:
        (work / "checkpoint.pt").unlink(missing_ok=True)
        return None


def remove_work_dir(task: MemberTask) -> None:
    """Drop a finished member's checkpoint folder (its weights are in the member file)."""
    if task.work_dir:
        shutil.rmtree(task.work_dir, ignore_errors=True)


def train_member(task: MemberTask, data: TrainingData) -> MemberResult:
    """Train one member on its subset; returns its weights as bytes."""
    t0 = time.perf_counter()
    torch.set_num_threads(max(1, task.threads))
    _inject_fault(task)
    skel = get_skeleton(data.skeleton)
    idx = [i for g in task.groups for i in data.groups[g]]
    m, t = task.model, task.train
    torch.manual_seed(task.seed)  # the initial weights belong to the member's seed, wherever it runs
    model_cfg = TCNConfig(**m)
    model = build_tcn(model_cfg, skel.num_joints, strided=True)
    eval_model = build_tcn(model_cfg, skel.num_joints)
    if task.init:
        model.load_state_dict(torch.load(io.BytesIO(task.init), map_location="cpu", weights_only=True))
    weights = [data.weights[i] for i in idx] if data.weights is not None else None
    sampler = WindowSampler(
        [data.inputs_2d[i] for i in idx],
        [data.targets_3d[i] for i in idx],
        model.receptive_field,
        skel,
        model_cfg.causal,
        t["flip_augment"],
        weights,
    )
    device = torch.device("cuda" if t["device"] in ("cuda", "auto") and torch.cuda.is_available() else "cpu")
    settings = LiftTrainConfig(**t)
    epochs = settings.epochs_for(len(sampler))
    schedule = Schedule.from_train(settings, epochs)
    # each worker decides for its own hardware (a cluster may mix CPUs); rates are cached per machine
    choice = precision_for_run(t["precision"], device, model, lift_example(model, skel, t["batch_size"]), False)
    early = None
    if data.val_inputs_2d and data.val_targets_3d:
        early = early_stopping(settings, data.val_inputs_2d, data.val_targets_3d, skel)
    recipe = SupervisedLifting(
        model, eval_model, sampler, schedule, t["batch_size"], lambda _: {}, device, choice.used, t["amsgrad"], early
    )
    work = _work_dir(task)
    resumed_at = _checkpoint_epoch(work)
    if work is None:
        with tempfile.TemporaryDirectory(prefix="semipose-member-") as tmp:
            history = fit(recipe, tmp, epochs, task.seed, eval_every=0, progress=False, minutes=t.get("minutes"))
    else:
        history = fit(
            recipe, work, epochs, task.seed, eval_every=0, resume=True, progress=False, minutes=t.get("minutes")
        )
    if early is not None:
        record_extra = {"val_best_mm": early.best, "val_best_epoch": early.best_epoch, "epochs_run": len(history)}
    else:
        record_extra = {}
    key = task.key()
    buf = io.BytesIO()
    # threads change results at the bit level (a different reduction order), so the record keeps them
    record = {
        "threads": torch.get_num_threads(),
        "precision": choice.record(),
        "host": platform.node(),
        **record_extra,
        **({"resumed_after_epoch": resumed_at} if resumed_at is not None else {}),
    }
    final = {k: v.cpu() for k, v in model.state_dict().items()}
    extra = {"history": history, "key": key, "seed": task.seed, "groups": task.groups, "record": record}
    torch.save(model_record("lifting", final, task.model, skel, **extra), buf)
    return MemberResult(task.index, key, buf.getvalue(), time.perf_counter() - t0, sampler.num_frames, record)
