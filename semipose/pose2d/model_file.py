"""2D model files: the network a model.pt describes, and a finished run's model."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import ConfigError, from_dict
from ..engine import CheckpointError, resolve_device
from ..engine.saved import read_model
from ..models.heatmap_net import Pose2DModelConfig, build_heatmap_net
from ..skeletons import Skeleton
from .config import Pose2DConfig, load_run_config


def load_run(run_dir: Path, overrides: list[str] | None = None) -> tuple[torch.nn.Module, Pose2DConfig, Skeleton]:
    """A finished run's model (on its config's device), its config and its skeleton. The model is
    the one ``model.pt`` describes (its pretrained backbone file is not read again; of a PoseDual or
    denoised run, the first network)."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir / "config.yaml", overrides)
    model, skeleton = load_model(run_dir / "model.pt", cfg.train.device)
    return model, cfg, skeleton


def load_model(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, Skeleton]:
    """The 2D model in ``model.pt`` (or a run directory's) on ``device``, and its skeleton; its pretrained
    backbone file is not read again (of a PoseDual or denoised run, the first network)."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file")
    saved = read_model(path, "pose2d")
    try:
        model_cfg = from_dict(Pose2DModelConfig, {**saved["model_config"], "pretrained": None}, "model")
        model = build_heatmap_net(model_cfg, saved["skeleton"].num_joints)
        model.load_state_dict(saved["model"])
    except (ConfigError, RuntimeError) as e:
        raise CheckpointError(f"{path}: the weights do not fit the model it describes ({str(e)[:200]})") from None
    return model.to(resolve_device(device)), saved["skeleton"]
