"""One saved-model format: every kind of model file names its kind, config, skeleton and version;
the loaders refuse another kind by name and read the layouts written before the format."""

import dataclasses

import pytest
import torch

from semipose import __version__
from semipose.engine import CheckpointError
from semipose.engine.saved import model_record, read_model
from semipose.lift.ensemble.runner import load_ensemble_config, load_members
from semipose.lift.model_file import load_model
from semipose.models.heatmap_net import Pose2DModelConfig, build_heatmap_net
from semipose.models.tcn import TCNConfig, build_tcn
from semipose.pose2d.model_file import load_run
from semipose.skeletons import COCO17, HUMANEVA15


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


def test_layouts_from_before_the_format_are_converted(tmp_path):
    model = _lifter()
    config = dataclasses.asdict(TCNConfig([3, 3], channels=16))
    old_run = tmp_path / "old_model.pt"  # a lifting run's model.pt: the skeleton by name
    torch.save({"model": model.state_dict(), "model_config": config, "skeleton": "humaneva15"}, old_run)
    _, skel = load_model(old_run)
    assert skel.name == "humaneva15"

    # an ensemble member: no config, no skeleton; the run's config and the caller's skeleton say
    run = tmp_path / "ens"
    (run / "members").mkdir(parents=True)
    torch.save({"model": model.state_dict(), "key": "k0", "history": []}, run / "members" / "member_00.pt")
    cfg = load_ensemble_config(None, ["model.channels=16", "model.filter_widths=[3,3]", "ensemble.members=1"])
    [member] = load_members(run, cfg, HUMANEVA15, keys=["k0"])
    x = torch.randn(1, 20, 15, 2)
    with torch.no_grad():
        torch.testing.assert_close(member(x), model(x), rtol=0, atol=0)
    assert read_model(run / "members" / "member_00.pt", "lifting", lambda: config, lambda w: HUMANEVA15)["key"] == "k0"
    with pytest.raises(CheckpointError, match="does not describe its model"):
        read_model(run / "members" / "member_00.pt", "lifting")

    # a 2D run's model.pt: the skeleton as a dict, 'joints' beside it
    net = build_heatmap_net(Pose2DModelConfig(width=16), 17)
    old_2d = tmp_path / "run2d"
    old_2d.mkdir()
    (old_2d / "config.yaml").write_text("model:\n  width: 16\n")
    from semipose.skeletons import skeleton_to_dict

    torch.save({"model": net.state_dict(), "model_config": dataclasses.asdict(Pose2DModelConfig(width=16)),
                "joints": list(COCO17.joints), "skeleton": skeleton_to_dict(COCO17)}, old_2d / "model.pt")  # fmt: skip
    loaded, _, skel = load_run(old_2d)
    assert skel == COCO17 and isinstance(loaded, type(net))
    with pytest.raises(CheckpointError, match="a 2D heatmap model, not a 3D lifting model"):
        load_model(old_2d / "model.pt")
