"""An ensemble's 3D for a user's own 2D: every finished member lifts the same keypoints; the mean is the
pose and each joint's spread around it (metres) its uncertainty. Inputs and outputs as ``lift predict``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ...data.cameras import normalize_screen_coordinates
from ...data.errors import DataError
from ...engine import resolve_device
from ...engine.saved import read_model
from ..config import load_ensemble_config
from ..evaluate import predict_sequences
from ..model_file import skeleton_by_joint_count
from ..predict import output_paths, read_input_2d, write_poses
from .aggregate import ensemble_mean, ensemble_spread
from .runner import load_members, member_path


def predict_ensemble(
    run_dir: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    width: int | None = None,
    height: int | None = None,
    flip: bool = True,
    **reading: Any,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Lift ``input_path`` with every finished member of the ensemble in ``run_dir``; writes ``.npz``
    (``poses_3d`` the mean, ``spread`` (frames, joints), ``members`` (M, frames, joints, 3)) and ``.json``.
    Returns the mean, the spread and the input report."""
    run_dir = Path(run_dir)
    cfg = load_ensemble_config(run_dir / "config.yaml")
    paths = [member_path(run_dir, i) for i in range(cfg.ensemble.members)]
    finished = [p for p in paths if p.is_file()]
    if not finished:
        raise DataError(f"{run_dir}: no finished ensemble member to predict with (train it first)")
    outputs = output_paths(output_path, input_path)
    skel = read_model(finished[0], "lifting", lambda: asdict(cfg.model), skeleton_by_joint_count)["skeleton"]
    models = load_members(run_dir, cfg, skel, resolve_device(cfg.train.device))
    inp = read_input_2d(input_path, skel, width, height, **reading)
    x = normalize_screen_coordinates(inp.keypoints, inp.width, inp.height)
    members = np.stack([predict_sequences(m, [x], skel, flip)[0] for m in models])
    mean, spread = ensemble_mean(members), ensemble_spread(members)
    inp.report["members"] = len(models)
    write_poses(outputs, mean, skel, inp, npz_only={"members": members}, spread=spread)
    return mean, spread, inp.report
