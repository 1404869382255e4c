"""What the commands share: argument types, claiming a run directory with its config, the training arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ConfigError, config_path


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def split_name(text: str) -> str:
    """argparse type: a plain folder name (no path), so outputs stay under -o."""
    if not text or text in (".", "..") or "/" in text or "\\" in text or text.startswith("."):
        raise argparse.ArgumentTypeError(f"expected a plain name such as train or val, got {text!r}")
    return text


def score(text: str) -> float:
    """argparse type: a finite number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def claim_run(args: argparse.Namespace, kind: str, load_fn, allowed: tuple[str, ...] | None = None):
    """The run directory and the validated config of a training command; with ``--resume`` the run's
    own config.yaml plus overrides, refused when they change more than ``allowed`` (nothing is
    written before these checks pass)."""
    from ..engine import EXTENSION_KEYS, RUN_CONTROL_KEYS, RunDirError, check_resume, default_run_dir

    if args.resume and not args.out:
        raise ConfigError("--resume needs -o/--out, the run directory to continue")
    run_dir = Path(args.out) if args.out else default_run_dir(kind)
    if args.resume:
        if not (run_dir / "config.yaml").is_file():
            raise RunDirError(f"{run_dir}: nothing to resume (no config.yaml); drop --resume to start a new run")
        cfg = load_fn(run_dir / "config.yaml", list(args.overrides))
        check_resume(run_dir, cfg, allowed or RUN_CONTROL_KEYS + EXTENSION_KEYS)
    else:
        cfg = load_fn(config_path(args.config), list(args.overrides))
    return run_dir, cfg


def training_args(
    cmd: argparse.ArgumentParser,
    config: str,
    out: str,
    resume: str = "continue the run in --out from its last checkpoint",
) -> None:
    """The arguments every training command takes: config, run directory, resume or overwrite."""
    cmd.add_argument("-c", "--config", default=config, help=f"YAML file or shipped config name (default: {config})")
    cmd.add_argument("-o", "--out", help=f"run directory (default: runs/{out}-<time>-<pid>)")
    cmd.add_argument("--resume", action="store_true", help=resume)
    cmd.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished or failed run in --out (kept until the new one finishes)",
    )


def train_run(args: argparse.Namespace, kind: str, load_fn, train_fn) -> tuple[Path, dict]:
    """Train a run from ``-c`` (or its own config.yaml with ``--resume``) plus overrides; print its figures."""
    from ..engine import run_directory

    run_dir, cfg = claim_run(args, kind, load_fn)
    with run_directory(run_dir, args.resume, args.overwrite):
        metrics = train_fn(cfg, run_dir, resume=args.resume)
    print(", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    return run_dir, metrics
