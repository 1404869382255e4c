"""Models for deployment: a lifting model or a 2D heatmap model as ONNX (checked against onnxruntime) or
TorchScript (checked against the loaded file), with the largest difference from PyTorch reported.

Lifters take ``keypoints_2d`` (batch, frames >= receptive field, joints, 2; normalised screen coordinates)
and give ``poses_3d`` (batch, frames - receptive field + 1, joints, 3); batch and frames are dynamic.
2D models take ``images`` (batch, 3, height, width; ImageNet-normalised) and give ``heatmaps`` (batch,
stacks, joints, height / 4, width / 4); the batch is dynamic. The check runs a batch of another size (and
another length) than the export's example, so a fixed shape would fail it. TorchScript is deprecated by
PyTorch in favour of ``torch.export``; it is kept for runtimes that load only it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data.errors import DataError
from .engine import environment_info, load_checkpoint
from .io import atomic_write_json

FORMATS = ("onnx", "torchscript")


def load_for_export(path: str | Path) -> tuple[torch.nn.Module, str, dict[str, Any]]:
    """The model a lifting model file or a 2D run (directory or its ``model.pt``) holds, its kind, and
    what the export needs to know (example inputs of two shapes, names)."""
    from .lift.model_file import load_model
    from .pose2d.model_file import load_run

    path = Path(path)
    file = path / "model.pt" if path.is_dir() else path
    state = load_checkpoint(file)
    weights = state.get("model", state)
    lifting = isinstance(weights, dict) and any(str(k).endswith("expand_conv.weight") for k in weights)
    if state.get("kind") == "pose2d" or (state.get("kind") is None and not lifting):
        model, cfg, skel = load_run(file.parent)
        w, h = cfg.data.input_size
        g = torch.Generator().manual_seed(0)
        examples = (torch.randn(2, 3, h, w, generator=g), torch.randn(3, 3, h, w, generator=g))
        return (
            model.cpu().eval(),
            "pose2d",
            {
                "examples": examples,
                "input": "images",
                "output": "heatmaps",
                "dynamic": {0: "batch"},
                "skeleton": skel.name,
                "input_size": [w, h],
            },
        )
    model, skel = load_model(file)
    rf = model.receptive_field
    g = torch.Generator().manual_seed(0)
    examples = (
        torch.randn(2, rf + 32, skel.num_joints, 2, generator=g),
        torch.randn(3, rf + 90, skel.num_joints, 2, generator=g),
    )
    return (
        model.cpu().eval(),
        "lifting",
        {
            "examples": examples,
            "input": "keypoints_2d",
            "output": "poses_3d",
            "dynamic": {0: "batch", 1: "frames"},
            "skeleton": skel.name,
            "receptive_field": rf,
            "causal": model.causal,
        },
    )


def export_model(path: str | Path, output: str | Path, fmt: str = "onnx") -> dict[str, Any]:
    """Export the model at ``path`` to ``output`` in ``fmt``; check it on a second input shape and write
    ``<output>.json`` (kind, shapes, the largest absolute difference from PyTorch). Returns that report."""
    if fmt not in FORMATS:
        raise DataError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
    output = Path(output)
    model, kind, info = load_for_export(path)
    example, check = info.pop("examples")
    with torch.no_grad():
        expected = model(check).numpy()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    if fmt == "onnx":
        got = _onnx(model, example, check, info, tmp)
    else:
        got = _torchscript(model, example, check, tmp)
    tmp.replace(output)
    report = {
        "format": fmt,
        "kind": kind,
        "source": str(path),
        **{k: v for k, v in info.items() if k != "dynamic"},
        "dynamic_axes": {info["input"]: info["dynamic"]},
        "checked_input_shape": list(check.shape),
        "max_abs_diff": float(np.abs(got - expected).max()),
        "environment": environment_info(),  # package versions, git commit, command
    }
    atomic_write_json(output.with_name(output.name + ".json"), report)
    return report


def _onnx(model: torch.nn.Module, example: torch.Tensor, check: torch.Tensor, info: dict, tmp: Path) -> np.ndarray:
    try:
        import onnxruntime as ort
    except ImportError:
        raise DataError("ONNX export needs onnx, onnxscript and onnxruntime: pip install -e '.[export]'") from None
    smallest = {"batch": 1, "frames": info.get("receptive_field", 1)}
    dims = {axis: torch.export.Dim(name, min=smallest[name]) for axis, name in info["dynamic"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            input_names=[info["input"]],
            output_names=[info["output"]],
            dynamic_shapes={_forward_argument(model): dims},
            dynamo=True,
            verbose=False,
        )
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    return session.run(None, {info["input"]: check.numpy()})[0]


def _forward_argument(model: torch.nn.Module) -> str:
    import inspect

    return next(iter(inspect.signature(model.forward).parameters))


def _torchscript(model: torch.nn.Module, example: torch.Tensor, check: torch.Tensor, tmp: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation and tracer warnings: the check below decides
        traced = torch.jit.trace(model, example)
        traced.save(str(tmp))
        loaded = torch.jit.load(str(tmp))
    with torch.no_grad():
        return loaded(check).numpy()
