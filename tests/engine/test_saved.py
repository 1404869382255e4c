"""One saved-model format: every kind of model file names its kind, config, skeleton and version;
the loaders refuse another kind by name, read a training checkpoint, and refuse files of before the format."""

import dataclasses

import pytest
import torch

from semipose import __version__
from semipose.engine import CheckpointError
from semipose.engine.saved import model_record, read_model
from semipose.lift.config import load_ensemble_config
from semipose.lift.model_file import load_model
from semipose.models.tcn import TCNConfig, build_tcn
from semipose.skeletons import HUMANEVA15


def _lifter():
    torch.manual_seed(0)
    return build_tcn(TCNConfig([3, 3], channels=16), 15).eval()


def test_a_lifting_model_round_trips_and_a_2d_model_is_refused_by_name(tmp_path):
    model = _lifter()
    path = tmp_path / "model.pt"
    torch.save(model_record("lifting", model.state_dict(), dataclasses.asdict(TCNConfig([3, 3], channels=16)),
                            HUMANEVA15), path)  # fmt: skip
    saved = torch.load(path, weights_only=True)
    assert saved["kind"] == "lifting" and saved["semipose_version"] == __version__ and saved["semipose_model"] == 1
    loaded, skel = load_model(path)
    assert skel == HUMANEVA15
    x = torch.randn(1, 20, 15, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    with pytest.raises(CheckpointError, match=r"model.pt: a 3D lifting model, not a 2D heatmap model"):
        read_model(path, "pose2d")


def test_model_files_from_before_the_format_are_refused_and_checkpoints_read(tmp_path):
    model = _lifter()
    config = dataclasses.asdict(TCNConfig([3, 3], channels=16))
    old_run = tmp_path / "old_model.pt"  # a lifting run's model.pt of before the format: the skeleton by name
    torch.save({"model": model.state_dict(), "model_config": config, "skeleton": "humaneva15"}, old_run)
    with pytest.raises(
        CheckpointError, match=r"old_model.pt: not a semipose model file of this version.*train it again"
    ):
        load_model(old_run)
    member = tmp_path / "member_00.pt"  # an ensemble member of before: no config, no skeleton
    torch.save({"model": model.state_dict(), "key": "k0", "history": []}, member)
    with pytest.raises(CheckpointError, match="not a semipose model file of this version"):
        read_model(member, "lifting", lambda: config, lambda w: HUMANEVA15)

    # a training checkpoint: its recipe's model, described by the run's config
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"recipe": {"model": model.state_dict()}, "epoch": 0}, checkpoint)
    saved = read_model(checkpoint, "lifting", lambda: config, lambda w: HUMANEVA15)
    assert saved["skeleton"] == HUMANEVA15 and saved["model_config"] == config
    loaded, skel = load_model(
        checkpoint, cfg=load_ensemble_config(None, ["model.channels=16", "model.filter_widths=[3,3]"])
    )
    x = torch.randn(1, 20, 15, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert skel == HUMANEVA15  # by joint count
    with pytest.raises(CheckpointError, match="a training checkpoint, and no config was given"):
        read_model(checkpoint, "lifting")
    with pytest.raises(CheckpointError, match="a 3D lifting model, not a 2D heatmap model"):
        read_model(checkpoint, "pose2d")
