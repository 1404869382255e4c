"""Streaming: a causal lifter fed frame by frame gives the offline causal pass's poses; a symmetric model
is refused; missing joints hold their last position; the CLI streams a file."""

import json

import numpy as np
import pytest
import torch

from semipose.cli import main
from semipose.data.cameras import normalize_screen_coordinates
from semipose.lift.evaluate import predict_sequences
from semipose.lift.stream import StreamingLifter
from semipose.models.tcn import TCNConfig, build_tcn
from semipose.skeletons import HUMANEVA15


def _model(causal: bool, widths=(3, 3, 3)):
    torch.manual_seed(0)
    model = build_tcn(TCNConfig(filter_widths=list(widths), channels=32, causal=causal), 15)
    with torch.no_grad():  # BatchNorm statistics away from their defaults, so that they matter
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 3, 3, 3)])
@pytest.mark.parametrize("flip", [False, True])
def test_stream_equals_the_offline_causal_pass(widths, flip):
    model = _model(True, widths)
    rng = np.random.default_rng(1)
    pixels = (rng.uniform(200, 400, (1, 15, 2)) + np.cumsum(rng.normal(0, 3, (100, 15, 2)), axis=0)).astype(np.float32)
    offline = predict_sequences(model, [normalize_screen_coordinates(pixels, 640, 480)], HUMANEVA15, flip)[0]
    lifter = StreamingLifter(model, HUMANEVA15, 640, 480, flip)
    streamed = np.stack([lifter.push(kp) for kp in pixels])
    assert streamed.shape == offline.shape == (100, 15, 3)
    assert np.abs(streamed - offline).max() <= 1e-5


def test_stream_refuses_a_symmetric_model_and_holds_missing_joints():
    with pytest.raises(ValueError, match="streaming needs a causal model"):
        StreamingLifter(_model(False), HUMANEVA15, 640, 480)
    lifter = StreamingLifter(_model(True), HUMANEVA15, 640, 480, flip=False)
    frame = np.full((15, 2), 300.0, np.float32)
    frame[:, 0] += np.arange(15) * 5
    first = lifter.push(frame)
    gap = frame.copy()
    gap[4] = np.nan
    twin = StreamingLifter(_model(True), HUMANEVA15, 640, 480, flip=False)
    twin.push(frame)
    np.testing.assert_allclose(lifter.push(gap), twin.push(frame), atol=1e-6)  # the wrist held where it was
    assert first.shape == (15, 3)
    with pytest.raises(ValueError, match="expected keypoints \\(15, 2\\)"):
        lifter.push(np.zeros((17, 2)))


def test_cli_streams_a_file_as_the_offline_causal_pass(tmp_path, capsys):
    from semipose.engine.saved import model_record
    from semipose.io import atomic_torch_save

    model = _model(True)
    record = model_record("lifting", model.state_dict(), {"filter_widths": [3, 3, 3], "channels": 32,
                                                          "dropout": 0.25, "causal": True}, HUMANEVA15)  # fmt: skip
    atomic_torch_save(record, tmp_path / "model.pt")
    pixels = np.random.default_rng(2).uniform(100, 500, (40, 15, 2))
    (tmp_path / "kp.json").write_text(json.dumps({"keypoints": pixels.tolist(), "image_size": [640, 480]}))
    base = ["lift", "predict", str(tmp_path / "model.pt"), str(tmp_path / "kp.json")]
    assert main([*base, "-o", str(tmp_path / "offline")]) == 0
    assert main([*base, "-o", str(tmp_path / "live"), "--causal", "--stream"]) == 0
    assert "ms a frame" in capsys.readouterr().out
    live, offline = (np.load(tmp_path / f"{n}.npz")["poses_3d"] for n in ("live", "offline"))
    assert np.abs(live - offline).max() <= 1e-5


def test_cli_causal_refuses_a_symmetric_model(tmp_path, capsys):
    from semipose.engine.saved import model_record
    from semipose.io import atomic_torch_save

    config = {"filter_widths": [3, 3, 3], "channels": 32, "dropout": 0.25, "causal": False}
    atomic_torch_save(model_record("lifting", _model(False).state_dict(), config, HUMANEVA15), tmp_path / "model.pt")
    (tmp_path / "kp.json").write_text(json.dumps({"keypoints": np.ones((30, 15, 2)).tolist(), "image_size": [64, 64]}))
    capsys.readouterr()
    argv = ["lift", "predict", str(tmp_path / "model.pt"), str(tmp_path / "kp.json"), "-o", str(tmp_path / "o")]
    assert main([*argv, "--causal"]) == 2
    assert "not a causal model" in capsys.readouterr().err
    assert main([*argv, "--stream"]) == 2
    assert "streaming needs a causal model" in capsys.readouterr().err and not list(tmp_path.glob("o.*"))
