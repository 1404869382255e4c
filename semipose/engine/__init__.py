"""The one training loop, checkpoints and run records; it knows no model and no dataset."""
from .loop import Recipe, fit, load_checkpoint
from .run import environment_info, prepare_run_dir

__all__ = ["Recipe", "fit", "load_checkpoint", "environment_info", "prepare_run_dir"]
