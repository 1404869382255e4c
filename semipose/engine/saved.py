"""One file format for every trained model: the weights, the model's config, its skeleton and the
semipose version, with the kind of model named, so that a loader refuses a file of another kind by
name. A training checkpoint (``checkpoint.pt``) is read as the model of its recipe, described by its run's
config. Model files written before this format are refused with the reason: retrain them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..skeletons import Skeleton, skeleton_from_dict, skeleton_to_dict
from .loop import CheckpointError, load_checkpoint

FORMAT = 1
KINDS = {"lifting": "a 3D lifting model", "pose2d": "a 2D heatmap model"}


def model_record(
    kind: str, weights: dict[str, Any], model_config: dict[str, Any], skeleton: Skeleton, **extra: Any
) -> dict[str, Any]:
    """What a model file holds (``extra``: e.g. a member's key and history, a 2D run's second network)."""
    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {sorted(KINDS)}, got {kind!r}")
    return {
        "semipose_model": FORMAT,
        "kind": kind,
        "model": weights,
        "model_config": dict(model_config),
        "skeleton": skeleton_to_dict(skeleton),
        "semipose_version": __version__,
        **extra,
    }


def _checkpoint_kind(state: dict[str, Any]) -> str | None:
    """The kind of a training checkpoint's model (its recipe's ``model``, or a two-network run's first)."""
    if not isinstance(state.get("recipe"), dict):
        return None
    weights = state["recipe"].get("model", state["recipe"].get("net1"))
    if isinstance(weights, dict):
        return "lifting" if "expand_conv.weight" in weights else "pose2d"
    return None


def read_model(
    path: str | Path,
    kind: str,
    model_config: Callable[[], dict[str, Any]] | None = None,
    skeleton: Callable[[dict[str, Any]], Skeleton] | None = None,
) -> dict[str, Any]:
    """A model file's record as :func:`model_record` makes it: ``model`` (weights), ``model_config``
    (a dict), ``skeleton`` (a :class:`Skeleton`), ``kind`` and the rest.

    Refuses, naming the file, a file of another kind. A training checkpoint gives its recipe's model,
    described by ``model_config()`` (the run's config) and ``skeleton(weights)``."""
    path = Path(path)
    state = load_checkpoint(path)
    found = state.get("kind") if "semipose_model" in state else _checkpoint_kind(state)
    if found is None and "semipose_model" not in state:
        raise CheckpointError(
            f"{path}: not a semipose model file of this version (no 'semipose_model' record; a model file "
            "from before semipose 0.1's format: train it again)"
        )
    if found != kind:
        what = KINDS.get(str(found), "not a semipose model")
        raise CheckpointError(f"{path}: {what}, not {KINDS[kind]}")
    if "semipose_model" in state:
        if not isinstance(state.get("model"), dict):
            raise CheckpointError(f"{path}: no 'model' weights in the file")
        return {**state, "skeleton": skeleton_from_dict(state["skeleton"])}
    weights = state["recipe"].get("model", state["recipe"].get("net1"))  # a training checkpoint
    try:
        config = model_config() if model_config is not None else None
    except (CheckpointError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: a training checkpoint, and its run's config cannot describe it: {e}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: a training checkpoint, and no config was given to describe its model")
    if skeleton is None:
        raise CheckpointError(f"{path}: a training checkpoint, and no skeleton was given for it")
    try:
        skel = skeleton(weights)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return {"semipose_model": 0, "kind": kind, "model": weights, "model_config": config, "skeleton": skel}


def load_foreign_checkpoint(path: str | Path) -> dict[str, Any]:
    """Another project's checkpoint, read without running its pickled code: tensors and plain data, and
    the numpy random state VideoPose3D saves beside its weights (rebuilt, inert). Anything else is refused."""
    import pickle

    import numpy as np
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    from numpy._core.multiarray import _reconstruct
    from numpy.random import _pickle as random_pickle

    allowed: list[Any] = [
        np.random.RandomState,
        np.random.MT19937,
        np.dtype,
        np.ndarray,
        _reconstruct,
        type(np.dtype(np.uint32)),
    ]
    allowed += [getattr(random_pickle, "__randomstate_ctor"), getattr(random_pickle, "__bit_generator_ctor")]
    allowed += [(_reconstruct, "numpy.core.multiarray._reconstruct")]  # as numpy 1 named it
    try:
        with torch.serialization.safe_globals(allowed):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint, or one holding code ({first[:200]})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dict, got {type(state).__name__}")
    return state
