"""The one training loop, checkpoints and the runtime (common settings, device, run records); it
knows no model and no dataset."""

from .loop import CheckpointError, Recipe, fit, load_checkpoint
from .runtime import (
    EXTENSION_KEYS,
    RUN_CONTROL_KEYS,
    RunDirError,
    TrainConfig,
    check_resume,
    default_run_dir,
    environment_info,
    fit_run,
    prepare_run_dir,
    resolve_device,
    run_directory,
    run_summary,
    set_threads,
)

__all__ = [
    "CheckpointError",
    "Recipe",
    "fit",
    "load_checkpoint",
    "environment_info",
    "prepare_run_dir",
    "RunDirError",
    "run_directory",
    "check_resume",
    "RUN_CONTROL_KEYS",
    "EXTENSION_KEYS",
    "TrainConfig",
    "resolve_device",
    "set_threads",
    "run_summary",
    "fit_run",
    "default_run_dir",
]
