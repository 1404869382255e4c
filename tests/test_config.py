import pytest

from semipose.config import ConfigError, config_path
from semipose.lift.config import LiftConfig, load_lift_config


def test_defaults_are_videopose3d_humaneva():
    cfg = LiftConfig()
    assert cfg.model.filter_widths == [3, 3, 3] and cfg.model.channels == 1024 and cfg.model.dropout == 0.25
    assert cfg.train.batch_size == 128 and cfg.train.lr_decay == 0.996 and cfg.train.amsgrad


def test_yaml_then_dotted_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("train:\n  epochs: 7\nmodel:\n  channels: 64\n")
    cfg = load_lift_config(
        f, ["train.epochs=3", "data.actions=Walk,Box", "model.filter_widths=[3,3,3,3]", "train.lr_final=1e-5"]
    )
    assert cfg.train.epochs == 3 and cfg.model.channels == 64
    assert cfg.data.actions == ["Walk", "Box"] and cfg.model.filter_widths == [3, 3, 3, 3]
    assert cfg.train.lr_final == pytest.approx(1e-5)


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.epoch=3", r"unknown key\(s\) \['epoch'\]"),
        ("train.epochs=many", "train.epochs: expected an integer"),
        ("train.precision=fp16", "train.precision: 'fp16' is not allowed; expected one of auto, fp32, bf16"),
        ("train.minutes=0", r"train.minutes: 0.0 is not allowed; expected > 0"),
        ("model.dropout=1.5", r"model.dropout: 1.5 is not allowed; expected >= 0 and < 1"),
        ("model.channels=0", r"model.channels: 0 is not allowed; expected > 0"),
        ("train.batch_size=-5", r"train.batch_size: -5 is not allowed; expected > 0"),
        ("train.lr=nan", r"train.lr: NaN is not allowed; expected > 0"),
        ("train.val_fraction=1", r"train.val_fraction: 1.0 is not allowed; expected >= 0 and < 1"),
        ("data.noise.swap_rate=1.0", r"data.noise.swap_rate: 1.0 is not allowed"),
        ("model.filter_widths=[3,4]", "odd"),
        ("train.test_flip=maybe", "expected true or false"),
        ("nonsense", "section.key=value"),
    ],
)
def test_bad_config_names_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_lift_config(None, [override])


def test_shipped_configs_load():
    for name in ("humaneva", "humaneva_20min", "synthetic"):
        load_lift_config(config_path(name))
    from semipose.lift.config import load_ensemble_config, load_ssl_config
    from semipose.pose2d.config import load_pose2d_config

    load_ensemble_config(config_path("humaneva_ensemble"))
    load_ssl_config(config_path("humaneva_ssl"))
    load_ssl_config(config_path("demo"))
    assert load_pose2d_config(config_path("synthpose")).model.name == "hourglass"
    assert load_pose2d_config(config_path("synthpose_v2")).data.augmentation == "weak"
    v3 = load_pose2d_config(config_path("synthpose_v3"))  # no mirrored crops: they would undo the colour cue
    assert v3.data.augmentation == "weak_noflip" and not v3.train.test_flip and "synthpose_v3" in v3.data.train_ann
    with pytest.raises(ConfigError, match="no shipped config"):
        config_path("no-such-config")


def test_overrides_never_reach_the_base(tmp_path):
    """Arms of a study load their configs from one shared base; one arm's override must not leak."""
    from semipose.config import load_config
    from semipose.pose2d.ssl import SSL2DConfig

    base = {"method": {"name": "posecons"}, "train": {"epochs": 3}}
    first = load_config(SSL2DConfig, None, ["method.stop_gradient=false"], base=base)
    second = load_config(SSL2DConfig, None, ["method.easy=none"], base=base)
    assert first.method.stop_gradient is False and second.method.stop_gradient is True
    assert base == {"method": {"name": "posecons"}, "train": {"epochs": 3}}


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.input_size=[0,128]", r"data.input_size\[0\]: 0 is not allowed; expected > 0"),
        ("model.stacks=9", r"model.stacks: 9 is not allowed; expected >= 1 and <= 8"),
        ("model.unit=foo", "model.unit: 'foo' is not allowed; expected one of residual, hru"),
        ("data.augmentation=wild", "data.augmentation: 'wild' is not allowed; expected one of"),
        ("data.sigma=0", r"data.sigma: 0.0 is not allowed; expected > 0"),
    ],
)
def test_pose2d_config_ranges_are_checked(override, message):
    from semipose.pose2d.config import load_pose2d_config

    with pytest.raises(ConfigError, match=message):
        load_pose2d_config(None, [override])


@pytest.mark.parametrize(
    "override,message",
    [
        ("ssl.labeled_fraction=0", r"ssl.labeled_fraction: 0.0 is not allowed; expected > 0 and <= 1"),
        ("ssl.rounds=[0.5,1.5]", r"ssl.rounds\[1\]: 1.5 is not allowed"),
        ("ensemble.members=0", r"ensemble.members: 0 is not allowed; expected > 0"),
        ("ssl.smooth_frames=-1", r"ssl.smooth_frames: -1.0 is not allowed; expected >= 0"),
    ],
)
def test_ssl3d_config_ranges_are_checked(override, message):
    from semipose.lift.config import load_ssl_config

    with pytest.raises(ConfigError, match=message):
        load_ssl_config(None, [override])
