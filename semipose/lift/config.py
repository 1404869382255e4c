"""The lifting task's configs: a run's data, model and training sections; an ensemble run's, and the
semi-supervised sections (pseudo-labels in rounds, back-projection) that extend it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import FRACTION, POSITIVE, PROBABILITY, ConfigError, checked, load_config
from ..data.noise2d import DetectorNoiseConfig
from ..data.npz3d import expand_path
from ..engine import TrainConfig
from ..methods.multiview import FUSION_METHODS
from ..models.tcn import TCNConfig
from ..pool import POOLS
from .ensemble.subsets import SUBSET_MODES


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


@dataclass
class EnsembleConfig:
    members: int = checked(4, **POSITIVE)
    subset: str = "disjoint"  # full | disjoint | overlap | bootstrap
    subset_fraction: float | None = checked(None, **FRACTION)
    subset_frames: int | None = checked(None, **POSITIVE)
    backend: str = "local"  # local | ray
    workers: int = checked(1, **POSITIVE)  # local: processes (1: this process)
    ray_address: str | None = None  # ray: None starts a local instance; 'auto' or host:port joins a cluster
    num_cpus: int = checked(1, **POSITIVE)  # ray: CPUs per member (and its torch threads)
    num_gpus: float = checked(0.0, ge=0)  # ray: GPUs per member
    max_retries: int = checked(1, ge=0)
    seed: int = 0  # subsets; member i trains with seed train.seed + i

    def validate(self) -> None:
        if self.subset not in SUBSET_MODES:
            raise ConfigError(f"ensemble.subset must be one of {SUBSET_MODES}, got {self.subset!r}")
        if self.backend not in POOLS:
            raise ConfigError(f"ensemble.backend must be one of {POOLS}, got {self.backend!r}")


@dataclass
class EnsembleRunConfig(LiftConfig):
    """A lifting run's sections (data, model, train) plus the ensemble's."""

    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)


def load_ensemble_config(path=None, overrides: list[str] | None = None) -> EnsembleRunConfig:
    return load_config(EnsembleRunConfig, path, overrides)


@dataclass
class BackProjectionConfig:
    # supervised-only training before the reprojection loss joins: a share of the epochs (VideoPose3D's
    # one epoch of a large labeled set; a share keeps the trajectory model trained first on small ones)
    warmup_fraction: float = checked(0.2, ge=0, lt=1)
    bone_length_term: bool = True


@dataclass
class SSLConfig:
    labeled_fraction: float = checked(0.1, **FRACTION)
    rounds: list[float] = checked(default_factory=lambda: [0.25, 0.5, 0.75, 1.0], **FRACTION)
    retrain: str = "single"  # single | ensemble
    order: str = "random"  # random | uncertainty (most certain first)
    recompute: bool = False  # recompute the pseudo-labels with each round's model(s)
    pseudo_weight: float = checked(1.0, ge=0)  # loss weight of pseudo-labeled frames
    # none | mean | spread | median: fuse the members' predictions of synchronized calibrated views
    # in world coordinates and map the fused pose back into every view (semipose.methods.multiview);
    # triangulate: the views' own 2D triangulated with the cameras (no lifter in the label at all)
    fusion: str = "none"
    # triangulate: a view missing a joint's reprojection by more pixels may be dropped (null: never; on
    # HumanEva-I with detector-like jitter dropping views cost more than it saved at 50-150 px)
    outlier_px: float | None = checked(None, **POSITIVE)
    # triangulate: Gaussian smoothing of the labels over time (sigma, frames) against per-frame 2D
    # noise; null: chosen on the labeled training views (their triangulation against their true 3D)
    smooth_frames: float | None = checked(None, ge=0)
    # uncertainty (ensemble spread, with fusion also the views' disagreement, per frame):
    keep_share: float = checked(
        1.0, **FRACTION
    )  # keep this share of pseudo-labeled frames, the most certain (the rest weigh 0)
    weighting: str = "none"  # none | inverse: weight 1 / (1 + (u / median u)^2) on each pseudo-labeled frame
    # noisy student: the student's 2D of pseudo-labeled frames is perturbed (targets stay the teacher's
    # predictions from clean 2D)
    student_noise: DetectorNoiseConfig = field(default_factory=DetectorNoiseConfig)
    # with recompute: always | if_better (the new models replace the teacher only when their held-out
    # labeled error, train.val_fraction, beats the current teacher's)
    replace_teacher: str = "always"
    student_init: str = "scratch"  # scratch | teacher: the student starts from the teacher's first member
    split_seed: int = 0
    baselines: bool = True  # also train on labeled only and on all data with true labels

    def validate(self) -> None:
        if self.retrain not in ("single", "ensemble"):
            raise ConfigError(f"ssl.retrain must be single or ensemble, got {self.retrain!r}")
        if self.fusion not in ("none", *FUSION_METHODS, "triangulate"):
            raise ConfigError(f"ssl.fusion must be none, triangulate or one of {FUSION_METHODS}, got {self.fusion!r}")
        if self.student_init not in ("scratch", "teacher"):
            raise ConfigError(f"ssl.student_init must be scratch or teacher, got {self.student_init!r}")
        if self.weighting not in ("none", "inverse"):
            raise ConfigError(f"ssl.weighting must be none or inverse, got {self.weighting!r}")
        if self.replace_teacher not in ("always", "if_better"):
            raise ConfigError(f"ssl.replace_teacher must be always or if_better, got {self.replace_teacher!r}")
        if self.order not in ("random", "uncertainty"):
            raise ConfigError(f"ssl.order must be random or uncertainty, got {self.order!r}")


@dataclass
class SSL3DConfig(EnsembleRunConfig):
    """The ensemble run's sections plus the semi-supervised ones."""

    ssl: SSLConfig = field(default_factory=SSLConfig)
    backprojection: BackProjectionConfig = field(default_factory=BackProjectionConfig)


def load_ssl_config(path=None, overrides: list[str] | None = None) -> SSL3DConfig:
    return load_config(SSL3DConfig, path, overrides)
