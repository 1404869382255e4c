"""`semipose export`: lifters and 2D models as ONNX (run by onnxruntime) and TorchScript, within 1e-4 of
PyTorch on a batch and length other than the export's example."""

import json

import numpy as np
import pytest
import torch

from semipose.cli import main
from semipose.engine.saved import model_record
from semipose.io import atomic_torch_save
from semipose.models.tcn import TCNConfig, build_tcn
from semipose.skeletons import HUMANEVA15


@pytest.fixture(scope="module")
def lifter(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "model.pt"
    torch.manual_seed(0)
    cfg = TCNConfig(filter_widths=[3, 3, 3], channels=32, causal=True)
    model = build_tcn(cfg, 15)
    atomic_torch_save(model_record("lifting", model.state_dict(), vars(cfg), HUMANEVA15), path)
    return path


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_lifter_export_matches_pytorch_on_other_shapes(lifter, tmp_path, fmt, capsys):
    out = tmp_path / f"lifter.{fmt}"
    assert main(["export", str(lifter), "-o", str(out), "--format", fmt]) == 0
    report = json.loads((tmp_path / f"lifter.{fmt}.json").read_text())
    assert report["kind"] == "lifting" and report["causal"] and report["max_abs_diff"] <= 1e-4
    assert report["checked_input_shape"] == [3, 27 + 90, 15, 2]
    if fmt == "onnx":  # a third length, straight through onnxruntime
        import onnxruntime as ort

        from semipose.lift.model_file import load_model

        model, _ = load_model(lifter)
        x = torch.randn(1, 40, 15, 2)
        got = ort.InferenceSession(str(out)).run(None, {"keypoints_2d": x.numpy()})[0]
        with torch.no_grad():
            assert got.shape == (1, 14, 15, 3) and np.abs(got - model(x).numpy()).max() <= 1e-4


@pytest.mark.parametrize("net", [["model.name=hourglass"], ["model.name=simplebaseline"]])
def test_2d_runs_export_to_onnx(tmp_path, net):
    from semipose.config import dump_yaml
    from semipose.io import atomic_write_text
    from semipose.models.heatmap_net import build_heatmap_net
    from semipose.pose2d.config import load_pose2d_config
    from semipose.skeletons import COCO17

    cfg = load_pose2d_config(None, ["model.width=16", "data.input_size=[64,64]", *net])
    torch.manual_seed(0)
    model = build_heatmap_net(cfg.model, 17)
    run = tmp_path / "run"
    run.mkdir()
    atomic_write_text(run / "config.yaml", dump_yaml(cfg))
    atomic_torch_save(model_record("pose2d", model.state_dict(), vars(cfg.model), COCO17), run / "model.pt")
    assert main(["export", str(run), "-o", str(tmp_path / "pose2d.onnx")]) == 0
    report = json.loads((tmp_path / "pose2d.onnx.json").read_text())
    assert report["kind"] == "pose2d" and report["checked_input_shape"] == [3, 3, 64, 64]
    assert report["max_abs_diff"] <= 1e-4
