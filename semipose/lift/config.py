"""The lifting task's config: data, model and training sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import FRACTION, POSITIVE, PROBABILITY, checked, load_config
from ..data.noise2d import DetectorNoiseConfig
from ..data.npz3d import expand_path
from ..engine import TrainConfig
from ..models.tcn import TCNConfig


@dataclass
class DataConfig:
    root: str = "${SEMIPOSE_DATA}/humaneva"
    file_3d: str = "data_3d_humaneva15.npz"
    file_2d: str = "data_2d_humaneva15_gt.npz"
    cameras: str = "cameras.json"
    subjects_train: list[str] = field(default_factory=lambda: ["Train/S1", "Train/S2", "Train/S3"])
    subjects_test: list[str] = field(default_factory=lambda: ["Validate/S1", "Validate/S2", "Validate/S3"])
    actions: list[str] = field(default_factory=lambda: ["Walk", "Jog", "Box"])
    allow_longer_2d: bool = False  # crop 2D that runs past the 3D (some Human3.6M detections do)
    # detector-like 2D in place of the clean projections, on training and test inputs alike
    noise: DetectorNoiseConfig = field(default_factory=DetectorNoiseConfig)
    # 2D as a detector with this joint set (e.g. coco17) gives it, converted back to the dataset's joints
    # (skeletons.as_layout, then convert_layout): a lifter trained so takes that detector's output as it is
    via_layout: str | None = checked(None, choices=(None, "coco17"))

    def path(self, name: str) -> Path:
        p = expand_path(name)
        return p if p.is_absolute() else expand_path(self.root) / p


@dataclass
class LiftTrainConfig(TrainConfig):
    """The common training settings and the lifting ones: VideoPose3D's BatchNorm momentum decay,
    flip augmentation, and early stopping on held-out training recordings."""

    amsgrad: bool = True  # VideoPose3D trains with AMSGrad
    bn_momentum: float = checked(0.1, **FRACTION)
    bn_momentum_final: float = checked(0.001, **FRACTION)
    bn_decay_epochs: int | None = checked(None, **POSITIVE)
    flip_augment: bool = True
    # early stopping on a held-out share of the *training* recordings (a contiguous run of each,
    # the same frames in every view); the test split is never looked at. 0: off.
    val_fraction: float = checked(0.0, **PROBABILITY)
    val_every: int = checked(1, **POSITIVE)  # validate every that many epochs
    patience: int = checked(
        0, ge=0
    )  # stop after that many validations without improvement (0: train on, keep the best)


@dataclass
class LiftConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: TCNConfig = field(default_factory=TCNConfig)
    train: LiftTrainConfig = field(default_factory=LiftTrainConfig)


def load_lift_config(path: str | Path | None = None, overrides: list[str] | None = None) -> LiftConfig:
    return load_config(LiftConfig, path, overrides)
