"""The shared schedules by hand: step decay (x0.1 at 70% and 90% of training) by epoch and by budget fraction."""

import math

import pytest

from semipose.config import ConfigError
from semipose.methods.base import Schedule
from semipose.pose2d.config import load_pose2d_config


def test_step_decay_by_epoch_and_by_fraction():
    s = Schedule(10, lr=1e-3, lr_steps=(0.7, 0.9), lr_step_factor=0.1)
    lrs = [s.lr_at(e) for e in range(10)]
    assert all(math.isclose(a, b) for a, b in zip(lrs, [1e-3] * 7 + [1e-4] * 2 + [1e-5]))
    assert [round(s.lr_at_fraction(f), 8) for f in (0.0, 0.69, 0.7, 0.95, 1.0)] == [1e-3, 1e-3, 1e-4, 1e-5, 1e-5]


def test_step_decay_from_a_2d_config_and_its_checks():
    steps = ["train.lr_steps=[0.7,0.9]", "train.lr_final=null"]  # 2D configs decay to lr_final by default
    cfg = load_pose2d_config(None, ["train.epochs=20", "train.lr=0.002", *steps])
    s = Schedule.from_train(cfg.train, cfg.train.epochs)
    assert math.isclose(s.lr_at(13), 2e-3) and math.isclose(s.lr_at(14), 2e-4) and math.isclose(s.lr_at(18), 2e-5)
    with pytest.raises(ConfigError, match="two schedules"):
        load_pose2d_config(None, ["train.lr_steps=[0.7]", "train.lr_final=1e-5"])
    with pytest.raises(ConfigError, match="increasing fractions"):
        load_pose2d_config(None, ["train.lr_steps=[0.9,0.7]", "train.lr_final=null"])
