"""What every run needs whatever it trains: the common training settings, the device and threads,
and its directory with the resolved config, seed, package versions and git commit beside the results."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from ..config import FRACTION, POSITIVE, ConfigError, checked
from ..io import atomic_write_json, atomic_write_text
from .loop import Recipe, fit
from .precision import PRECISIONS


@dataclass
class TrainConfig:
    """The training settings every model has (the ``train`` section). Lifting and 2D add their own
    keys in subclasses (``lift.LiftTrainConfig``, ``pose2d.Pose2DTrainConfig``), so that every key of
    a saved config acts on the run it describes."""

    epochs: int = checked(43, **POSITIVE)
    samples: int | None = checked(
        None, **POSITIVE
    )  # if set: a budget of training samples; epochs = samples / epoch size
    batch_size: int = checked(128, **POSITIVE)
    lr: float = checked(1e-3, **POSITIVE)
    lr_decay: float = checked(0.996, **FRACTION)  # per epoch, unless lr_final is set
    lr_final: float | None = checked(None, **POSITIVE)  # the rate the decay reaches at the last epoch
    # step decay instead (the denoised-heatmaps paper: x0.1 at 70% and 90% of training): the rate is
    # multiplied by lr_step_factor at each of these fractions of the training
    lr_steps: list[float] | None = None
    lr_step_factor: float = checked(0.1, gt=0, le=1)
    amsgrad: bool = True  # Adam's AMSGrad variant
    test_flip: bool = True  # average the prediction of the mirrored input in evaluation
    eval_every: int = checked(0, ge=0)  # evaluate every that many epochs (0: after the last only)
    minutes: float | None = checked(
        None, **POSITIVE
    )  # a wall-clock budget of training time; schedules follow its elapsed fraction
    precision: str = checked(
        "auto", choices=PRECISIONS
    )  # auto | fp32 | bf16 (autocast); auto: bf16 only where native and measured faster
    device: str = "cpu"  # cpu | cuda | auto
    threads: int = checked(0, ge=0)  # torch threads; 0: all cores
    seed: int = 1234
    progress: bool = True

    def validate(self) -> None:
        if self.device not in ("cpu", "cuda", "auto") and not self.device.startswith("cuda:"):
            raise ConfigError(f"train.device must be cpu, cuda or auto, got {self.device!r}")
        if self.lr_steps is not None:
            if self.lr_final is not None:
                raise ConfigError(
                    "train.lr_steps and train.lr_final are two schedules: give one (train.lr_final=null for steps)"
                )
            if any(not 0 < f < 1 for f in self.lr_steps) or list(self.lr_steps) != sorted(self.lr_steps):
                raise ConfigError(f"train.lr_steps must be increasing fractions between 0 and 1, got {self.lr_steps}")

    def epochs_for(self, samples_per_epoch: int) -> int:
        """Epochs to train: ``epochs``, or as many as the ``samples`` budget buys (at least one)."""
        if self.samples is None:
            return self.epochs
        return max(1, round(self.samples / max(1, samples_per_epoch)))


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda[:N]`` or ``auto`` (CUDA when torch sees one) as a device, refusing CUDA that is not there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("train.device is cuda but torch sees no CUDA device")
    return torch.device(name)


def set_threads(threads: int) -> None:
    """Use ``threads`` torch threads (0: leave torch's default, all cores)."""
    if threads > 0:
        torch.set_num_threads(threads)


def git_commit() -> str:
    """The commit of the semipose source tree, with '+dirty' when it has local changes."""
    src = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_info() -> dict[str, Any]:
    import os

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": {p: _version(p) for p in ("semipose", "torch", "numpy", "scipy", "pyyaml", "tqdm", "matplotlib")},
        "git_commit": git_commit(),
        "command": " ".join(sys.argv),
    }


def run_summary(history: list[dict[str, float]], epochs: int, minutes: float | None, precision: str) -> dict[str, Any]:
    """What a finished run reports beside its metrics: training and evaluation time, epochs, precision."""
    last = history[-1]
    return {
        "train_wall_s": last.get("train_s", last["elapsed_s"]),
        "eval_wall_s": last.get("eval_s", 0.0),
        "epochs": epochs if minutes is None else len(history),
        "budget_minutes": minutes,
        "precision": precision,
    }


def fit_run(
    recipe: Recipe,
    run_dir: Path,
    epochs: int,
    t: TrainConfig,
    precision: str,
    resume: bool = False,
    progress: bool | None = None,
) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """Train ``recipe`` with ``t``'s seed, evaluation interval and time budget; returns the log's rows and
    the final metrics with the run summary. A resumed run that had already finished is evaluated again."""
    progress = t.progress if progress is None else progress
    history = fit(recipe, run_dir, epochs, t.seed, t.eval_every, resume, progress, t.minutes)
    if recipe.last_metrics is None:
        recipe.evaluate()
    assert recipe.last_metrics is not None  # evaluate() sets it
    return history, {**recipe.last_metrics, **run_summary(history, epochs, t.minutes, precision)}


def default_run_dir(kind: str) -> Path:
    """``runs/<kind>-<date>-<time>-<pid>``: where a command writes when not told (unique per process)."""
    return Path("runs") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def prepare_run_dir(run_dir: str | Path, config_yaml: str, seed: int, extra: dict | None = None) -> Path:
    """Create ``run_dir`` and write ``config.yaml`` and ``run_info.json`` into it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", config_yaml)
    info = {"seed": seed, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **environment_info(), **(extra or {})}
    atomic_write_json(run_dir / "run_info.json", info)
    return run_dir


class RunDirError(ValueError):
    """A run directory that cannot be used as asked (not empty, nothing to resume, not a folder)."""


@contextmanager
def run_directory(
    path: str | Path, resume: bool = False, overwrite: bool = False, resumable: tuple[str, ...] = ("config.yaml",)
) -> Iterator[Path]:
    """Claim ``path`` for a run, so that no finished run is silently overwritten.

    A missing or empty folder is used as is. A non-empty one needs ``resume`` (continue it; one of
    ``resumable`` must be there) or ``overwrite`` (the old folder is moved aside to
    ``<path>.replaced-<time>`` and deleted only once the new run has finished; if the new run fails
    it stays there, and the error says so)."""
    path = Path(path)
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite exclude each other: continue the run or replace it")
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: the run directory is a file; expected a folder")
    used = path.is_dir() and any(path.iterdir())
    if resume and not (used and any((path / name).exists() for name in resumable)):
        raise RunDirError(f"{path}: nothing to resume (no {' or '.join(resumable)}); drop --resume to start a new run")
    aside = None
    if used and not resume:
        if not overwrite:
            raise RunDirError(
                f"{path}: the run directory is not empty; --resume continues the run in it, "
                f"--overwrite replaces it, or choose another -o"
            )
        aside = path.with_name(f"{path.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        path.rename(aside)
    try:
        yield path
    except BaseException:
        if aside is not None:  # the new run failed: the old one comes back, nothing mixed, nothing lost
            shutil.rmtree(path, ignore_errors=True)
            aside.rename(path)
            print(f"semipose: the new run failed; the previous run in {path} was restored", file=sys.stderr)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


# keys a resumed run may change: how it runs, not what it computes
RUN_CONTROL_KEYS = ("train.progress", "train.threads", "train.device")
# and a single training run may also be extended
EXTENSION_KEYS = ("train.epochs", "train.samples", "train.minutes", "train.eval_every")


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def check_resume(run_dir: str | Path, config: Any, allowed: tuple[str, ...] = RUN_CONTROL_KEYS) -> None:
    """Refuse, before anything is written, to resume ``run_dir`` with ``config`` (a config dataclass)
    when it differs from the run's ``config.yaml`` in anything but the ``allowed`` keys (or sections).
    The saved file is read through the same dataclass, so keys added since take their defaults."""
    import dataclasses

    from ..config import ConfigError, load_config, to_dict

    saved_file = Path(run_dir) / "config.yaml"
    try:
        saved = _flat(to_dict(load_config(type(config), saved_file)))
    except ConfigError as e:
        raise RunDirError(f"{saved_file}: cannot read the run's config to resume it ({e})") from None
    now = _flat(to_dict(config) if dataclasses.is_dataclass(config) else config)
    changed = sorted(
        k
        for k in set(saved) | set(now)
        if saved.get(k, "<missing>") != now.get(k, "<missing>")
        and not any(k == a or k.startswith(a + ".") for a in allowed)
    )
    if changed:
        shown = ", ".join(f"{k}: {saved.get(k, '<missing>')!r} -> {now.get(k, '<missing>')!r}" for k in changed[:5])
        raise RunDirError(
            f"{saved_file}: resuming would change {shown}{' ...' if len(changed) > 5 else ''}; "
            f"a resumed run may change only {', '.join(allowed)} (start a new run, or --overwrite)"
        )
