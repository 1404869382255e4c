"""Lifting model files: written as one record (engine.saved), read back with their skeleton."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..engine import CheckpointError, resolve_device
from ..engine.saved import read_model
from ..models.tcn import TCNConfig, TemporalModel, build_tcn
from ..skeletons import Skeleton, get_skeleton
from .config import load_lift_config


def skeleton_by_joint_count(weights: dict[str, Any]) -> Skeleton:
    """The skeleton of a lifting model file in a training checkpoint, which names none: the one with as many joints."""
    n = weights["expand_conv.weight"].shape[1] // 2 if "expand_conv.weight" in weights else -1
    found = [s for s in map(get_skeleton, ("humaneva15", "h36m17", "coco17", "mpii16")) if s.num_joints == n]
    if not found:
        raise CheckpointError(f"a lifting model for {n} joints; no known skeleton has that many")
    return found[0]


def load_model(path: str | Path, device: str = "cpu", cfg: Any = None) -> tuple[TemporalModel, Skeleton]:
    """A dilated model from ``model.pt``, a run's ``checkpoint.pt`` or an ensemble member's file.

    Files without their own model description take it from ``cfg`` or the ``config.yaml`` beside them.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt" if (path / "model.pt").is_file() else path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file")

    def run_config() -> dict[str, Any]:  # a training checkpoint does not describe its model
        return dataclasses.asdict((cfg or load_lift_config(path.parent / "config.yaml")).model)

    saved = read_model(path, "lifting", run_config, skeleton_by_joint_count)
    fields = {f.name for f in dataclasses.fields(TCNConfig)}
    if set(saved["model_config"]) != fields:
        raise CheckpointError(
            f"{path}: its model config has {sorted(saved['model_config'])}, expected {sorted(fields)}"
        )
    mc, skel, weights = TCNConfig(**saved["model_config"]), saved["skeleton"], saved["model"]
    model = build_tcn(mc, skel.num_joints)
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(
            f"{path}: the weights do not fit the model its config describes ({str(e).splitlines()[0][:200]})"
        ) from None
    return model.to(resolve_device(device)).eval(), skel
