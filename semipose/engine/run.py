"""Run directories: the resolved config, seed, package versions and git commit beside the results."""
from __future__ import annotations

import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from ..io import atomic_write_json, atomic_write_text


def git_commit() -> str:
    """The commit of the semipose source tree, with '+dirty' when it has local changes."""
    src = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=src,
                               capture_output=True, text=True, timeout=10).stdout.strip()
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


def prepare_run_dir(run_dir: str | Path, config_yaml: str, seed: int, extra: dict | None = None) -> Path:
    """Create ``run_dir`` and write ``config.yaml`` and ``run_info.json`` into it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", config_yaml)
    info = {"seed": seed, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **environment_info(), **(extra or {})}
    atomic_write_json(run_dir / "run_info.json", info)
    return run_dir
