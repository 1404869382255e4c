"""A VideoPose3D checkpoint as a semipose lifting model file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import ConfigError
from ..engine import CheckpointError
from ..engine.saved import load_foreign_checkpoint, model_record
from ..io import atomic_torch_save
from ..models.tcn import TCNConfig, build_tcn, tcn_config_from_weights
from ..skeletons import Skeleton, get_skeleton
from .model_file import skeleton_by_joint_count


def import_videopose3d(
    checkpoint: str | Path, output: str | Path, causal: bool = False, skeleton: str | None = None
) -> tuple[TCNConfig, Skeleton]:
    """Write a VideoPose3D checkpoint's ``model_pos`` (a ``.bin`` from its run.py, or a bare state dict) as a
    semipose lifting model file. Channels, filter widths and joints are read off the weights; causality is
    not stored there (``causal``); the skeleton by joint count unless named."""
    checkpoint = Path(checkpoint)
    state = load_foreign_checkpoint(checkpoint)
    weights = state.get("model_pos", state)
    if not isinstance(weights, dict):
        raise CheckpointError(f"{checkpoint}: field 'model_pos' is not a state dict")
    weights = {k.removeprefix("module."): v for k, v in weights.items()}  # saved through DataParallel
    try:
        cfg, joints_in, joints_out = tcn_config_from_weights(weights, causal)
    except (ValueError, ConfigError) as e:
        raise CheckpointError(f"{checkpoint}: {e}") from None
    if joints_in != joints_out:
        raise CheckpointError(
            f"{checkpoint}: lifts {joints_in} input joints to {joints_out}; semipose models lift a joint set to "
            "itself (a model trained on COCO detections for Human3.6M output cannot be imported yet)"
        )
    skel = get_skeleton(skeleton) if skeleton else skeleton_by_joint_count(weights)
    if skel.num_joints != joints_out:
        raise CheckpointError(f"{checkpoint}: {joints_out} joints, but skeleton {skel.name} has {skel.num_joints}")
    model = build_tcn(cfg, joints_in)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{checkpoint}: the weights do not fit ({str(e).splitlines()[0][:200]})") from None
    record = model_record("lifting", model.state_dict(), dataclasses.asdict(cfg), skel, imported_from=str(checkpoint))
    atomic_torch_save(record, Path(output))
    return cfg, skel
