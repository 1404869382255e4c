"""The one training loop, checkpoints and run records; it knows no model and no dataset."""
from .loop import CheckpointError, Recipe, fit, load_checkpoint
from .run import EXTENSION_KEYS, RUN_CONTROL_KEYS, RunDirError, check_resume, environment_info, prepare_run_dir, \
    run_directory

__all__ = ["CheckpointError", "Recipe", "fit", "load_checkpoint", "environment_info", "prepare_run_dir", "RunDirError",
           "run_directory", "check_resume", "RUN_CONTROL_KEYS", "EXTENSION_KEYS"]
