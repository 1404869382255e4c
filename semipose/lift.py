"""3D lifting: the config, and train / evaluate / predict as the CLI and the studies call them."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import FRACTION, POSITIVE, PROBABILITY, ConfigError, checked, dump_yaml, load_config
from .data.errors import DataError
from .data.keypoints2d import read_detections, select_person
from .data.noise2d import DetectorNoiseConfig, noisy_sequences_2d
from .data.npz3d import Sequence, expand_path, load_sequences
from .data.windows import WindowSampler, flip_2d, flip_3d, pad_sequence
from .engine import (
    CheckpointError,
    TrainConfig,
    environment_info,
    fit_run,
    prepare_run_dir,
    resolve_device,
    set_threads,
)
from .engine.precision import precision_for_run
from .engine.saved import load_foreign_checkpoint, model_record, read_model
from .io import atomic_save_npz, atomic_torch_save, atomic_write_json
from .methods.base import EarlyStopping
from .methods.supervised_lift import Schedule, SupervisedLifting
from .metrics.mpjpe import evaluate_sequences
from .models.profile import count_parameters
from .models.tcn import TCNConfig, TemporalModel, TemporalModelStrided, build_tcn, tcn_config_from_weights
from .plots import plot_training_curve
from .reports import write_lifting_metrics
from .skeletons import Skeleton, as_layout, convert_layout, get_skeleton


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


def load_split(data: DataConfig, subjects: list[str]) -> tuple[list[Sequence], Skeleton]:
    """The sequences of ``subjects``; with ``data.noise.enabled`` their 2D made detector-like (the
    noise of each sequence depends only on the seed and the sequence, so splits and methods share it)."""
    seqs, skel = load_sequences(
        data.path(data.file_3d),
        data.path(data.file_2d),
        data.path(data.cameras),
        subjects,
        data.actions,
        allow_longer_2d=data.allow_longer_2d,
    )
    if data.noise.enabled:
        keys = [f"{s.subject}/{s.action}/{s.camera_index}" for s in seqs]
        for s, kp in zip(seqs, noisy_sequences_2d([s.keypoints_2d for s in seqs], keys, skel, data.noise)):
            s.keypoints_2d = kp
    if data.via_layout is not None:
        for s in seqs:
            s.keypoints_2d = convert_layout(as_layout(s.keypoints_2d, skel, data.via_layout), data.via_layout, skel)
    return seqs, skel


def length_batches(lengths: list[int], max_frames: int = 8192) -> list[list[int]]:
    """Indices of sequences grouped by similar length so that a group padded to its longest member
    holds at most ``max_frames`` frames (a longer sequence goes alone)."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if groups and (len(groups[-1]) + 1) * lengths[i] <= max_frames:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


@torch.no_grad()
def predict_sequences(
    model: TemporalModel,
    keypoints: list[np.ndarray],
    skeleton: Skeleton,
    flip: bool = True,
    device: torch.device | None = None,
) -> list[np.ndarray]:
    """Lift whole sequences (normalised 2D, (T, J, 2)) to root-relative 3D.

    With ``flip``, the mirrored input is lifted too and its mirrored output averaged in. Sequences of
    similar length go through the model together (many short held-out runs would otherwise cost a
    pass each): each is edge-padded as alone, then repeated at its end to the group's length, which
    changes no output frame of its own.
    """
    device = device or next(model.parameters()).device
    model.eval()
    out: list[np.ndarray] = [np.empty(0)] * len(keypoints)
    for group in length_batches([len(kp) for kp in keypoints]):
        padded = [pad_sequence(keypoints[i], model.receptive_field, model.causal) for i in group]
        longest = max(len(p) for p in padded)
        x = torch.from_numpy(
            np.stack([np.pad(p, ((0, longest - len(p)), (0, 0), (0, 0)), mode="edge") for p in padded])
        ).to(device)
        if flip:
            x = torch.cat([x, flip_2d(x, skeleton)])
        y = model(x).float()
        if flip:
            y = (y[: len(group)] + flip_3d(y[len(group) :], skeleton)) / 2
        y_np = y.cpu().numpy()
        for row, i in enumerate(group):
            out[i] = y_np[row, : len(keypoints[i])]
    return out


def evaluate_model(
    model: TemporalModel, sequences: list[Sequence], skeleton: Skeleton, flip: bool = True
) -> dict[str, Any]:
    preds = predict_sequences(model, [s.keypoints_2d for s in sequences], skeleton, flip)
    return evaluate_sequences(
        preds,
        [s.root_relative_3d() for s in sequences],
        [s.subject for s in sequences],
        [s.action_name for s in sequences],
    )


def hold_out(
    sequences: list[Sequence], skel: Skeleton, t: LiftTrainConfig
) -> tuple[list[Sequence], EarlyStopping | None]:
    """With ``train.val_fraction``: the training sequences less a held-out run of each recording, and
    the early stopping that validates on that run (MPJPE in mm, no flip averaging)."""
    if t.val_fraction <= 0:
        return sequences, None
    from .data.splits import cut, split_labeled

    held, rest = split_labeled(sequences, t.val_fraction, seed=t.seed)
    val = cut(sequences, held)
    return cut(sequences, rest), early_stopping(
        t, [s.keypoints_2d for s in val], [s.root_relative_3d() for s in val], skel
    )


def validation_error(
    model: TemporalModel, inputs: list[np.ndarray], targets: list[np.ndarray], skel: Skeleton
) -> float:
    """MPJPE in mm over all frames of held-out sequences (no flip averaging: validation is frequent)."""
    preds = predict_sequences(model, inputs, skel, flip=False)
    err = np.concatenate([np.linalg.norm(p - t, axis=-1).mean(axis=-1) for p, t in zip(preds, targets)])
    return float(err.mean() * 1000.0)


def early_stopping(
    t: LiftTrainConfig, inputs: list[np.ndarray], targets: list[np.ndarray], skel: Skeleton
) -> EarlyStopping:
    return EarlyStopping(lambda m: validation_error(m, inputs, targets, skel), t.val_every, t.patience)


def lift_example(model: TemporalModel | TemporalModelStrided, skel: Skeleton, batch_size: int) -> torch.Tensor:
    """A training batch's input shape for the precision micro-benchmark (random, from a fixed generator)."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch_size, model.receptive_field, skel.num_joints, 2, generator=g)


def train(cfg: LiftConfig, run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """Train a lifting model into ``run_dir``; returns the final test metrics."""
    run_dir = Path(run_dir)
    if resume and not (run_dir / "checkpoint.pt").is_file():
        raise FileNotFoundError(f"{run_dir}: nothing to resume (no checkpoint.pt)")
    set_threads(cfg.train.threads)
    device = resolve_device(cfg.train.device)
    train_seqs, skel = load_split(cfg.data, cfg.data.subjects_train)
    test_seqs, _ = load_split(cfg.data, cfg.data.subjects_test)
    train_seqs, early = hold_out(train_seqs, skel, cfg.train)
    torch.manual_seed(cfg.train.seed)  # initial weights from the run's seed
    model = build_tcn(cfg.model, skel.num_joints, strided=True)
    eval_model = build_tcn(cfg.model, skel.num_joints)
    sampler = WindowSampler(
        [s.keypoints_2d for s in train_seqs],
        [s.root_relative_3d() for s in train_seqs],
        model.receptive_field,
        skel,
        cfg.model.causal,
        cfg.train.flip_augment,
    )
    t = cfg.train
    epochs = t.epochs_for(len(sampler))
    schedule = Schedule.from_train(t, epochs)
    choice = precision_for_run(t.precision, device, model, lift_example(model, skel, t.batch_size), t.progress)
    recipe = SupervisedLifting(
        model,
        eval_model,
        sampler,
        schedule,
        t.batch_size,
        lambda m: evaluate_model(m, test_seqs, skel, t.test_flip),
        device,
        choice.used,
        t.amsgrad,
        early,
    )
    prepare_run_dir(
        run_dir,
        dump_yaml(cfg),
        t.seed,
        {
            "skeleton": skel.name,
            "parameters": count_parameters(model),
            "receptive_field": model.receptive_field,
            "train_frames": sampler.num_frames,
            "train_samples_per_epoch": len(sampler),
            "test_frames": sum(s.num_frames for s in test_seqs),
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "precision": choice.record(),
        },
    )
    _, metrics = fit_run(recipe, run_dir, epochs, t, choice.used, resume)
    if early is not None:
        metrics.update(
            val_best_mm=early.best, val_best_epoch=early.best_epoch, stopped_early=bool(recipe.should_stop())
        )
    save_lifting_model(run_dir / "model.pt", recipe.eval_model, cfg, skel)
    write_lifting_metrics(run_dir, metrics)
    plot_training_curve(run_dir / "log.csv", run_dir / "training_curve.png")
    return metrics


def save_lifting_model(path: Path, model: TemporalModel, cfg: LiftConfig, skel: Skeleton) -> None:
    atomic_torch_save(model_record("lifting", model.state_dict(), dataclasses.asdict(cfg.model), skel), path)


def skeleton_by_joint_count(weights: dict[str, Any]) -> Skeleton:
    """The skeleton of a lifting model file from before files named theirs: the one with as many joints."""
    n = weights["expand_conv.weight"].shape[1] // 2 if "expand_conv.weight" in weights else -1
    found = [s for s in map(get_skeleton, ("humaneva15", "h36m17", "coco17", "mpii16")) if s.num_joints == n]
    if not found:
        raise CheckpointError(f"a lifting model for {n} joints; no known skeleton has that many")
    return found[0]


def load_model(path: str | Path, device: str = "cpu", cfg: Any = None) -> tuple[TemporalModel, Skeleton]:
    """A dilated model from ``model.pt``, a run's ``checkpoint.pt`` or an ensemble member's file.

    Files without their own model description take it from ``cfg`` or the ``config.yaml`` beside them.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt" if (path / "model.pt").is_file() else path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file")

    def run_config() -> dict[str, Any]:  # files from before the format described their model
        return dataclasses.asdict((cfg or load_lift_config(path.parent / "config.yaml")).model)

    saved = read_model(path, "lifting", run_config, skeleton_by_joint_count)
    fields = {f.name for f in dataclasses.fields(TCNConfig)}
    if set(saved["model_config"]) != fields:
        raise CheckpointError(
            f"{path}: its model config has {sorted(saved['model_config'])}, expected {sorted(fields)}"
        )
    mc, skel, weights = TCNConfig(**saved["model_config"]), saved["skeleton"], saved["model"]
    model = build_tcn(mc, skel.num_joints)
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(
            f"{path}: the weights do not fit the model its config describes ({str(e).splitlines()[0][:200]})"
        ) from None
    return model.to(resolve_device(device)).eval(), skel


def evaluate(model_path: str | Path, cfg: LiftConfig, out_dir: str | Path) -> dict[str, Any]:
    set_threads(cfg.train.threads)
    model, skel = load_model(model_path, cfg.train.device)
    test_seqs, data_skel = load_split(cfg.data, cfg.data.subjects_test)
    if data_skel.num_joints != skel.num_joints:
        raise ValueError(f"model expects {skel.name} joints, data has {data_skel.name}")
    out_dir = prepare_run_dir(out_dir, dump_yaml(cfg), cfg.train.seed, {"model": str(model_path)})
    metrics = evaluate_model(model, test_seqs, skel, cfg.train.test_flip)
    write_lifting_metrics(out_dir, metrics)
    return metrics


def fill_missing_keypoints(kp: np.ndarray, where: str = "keypoints") -> tuple[np.ndarray, int]:
    """Non-finite keypoints (NaN, inf: a detector's missing joints) replaced by linear interpolation over
    time from the joint's finite frames (the nearest one at the ends); returns the filled array and
    how many keypoints were filled. A joint with no finite frame at all is an error."""
    kp = np.array(kp, dtype=np.float32)
    bad = ~np.isfinite(kp).all(axis=-1)  # (T, J)
    if not bad.any():
        return kp, 0
    frames = np.arange(kp.shape[0])
    for j in np.flatnonzero(bad.any(axis=0)):
        good = ~bad[:, j]
        if not good.any():
            raise DataError(f"{where}: joint {j} is missing (non-finite) in every frame; cannot lift it")
        for c in range(2):
            kp[bad[:, j], j, c] = np.interp(frames[bad[:, j]], frames[good], kp[good, j, c])
    return kp, int(bad.sum())


@dataclass
class Input2D:
    """A user's 2D keypoints ready for a lifter: one person, the model's joint set, pixels with gaps filled."""

    keypoints: np.ndarray  # (T, J, 2) pixels
    width: int
    height: int
    report: dict[str, Any]  # what was read and done: format, people, conversion, masked and filled joints


def read_input_2d(
    path: str | Path,
    skel: Skeleton,
    width: int | None = None,
    height: int | None = None,
    fmt: str = "auto",
    track: str = "score",
    min_score: float = 0.3,
    image_info: str | Path | None = None,
    video: str | None = None,
    fill: bool = True,
) -> Input2D:
    """Any supported detector output (:mod:`semipose.data.keypoints2d`) as one person's keypoints in the
    joint set of ``skel``: COCO-17 converted (:func:`semipose.skeletons.convert_layout`), joints below
    ``min_score`` and frames without the person filled by temporal interpolation (left NaN without ``fill``)."""
    det = read_detections(path, fmt, image_info, video)
    track_2d = select_person(det, track, min_score)
    kp = track_2d.keypoints
    if det.layout is not None and det.layout != skel.name:
        try:
            kp = convert_layout(kp, det.layout, skel)
        except ValueError as e:
            raise DataError(f"{path}: {det.layout} keypoints cannot feed a {skel.name} model: {e}") from None
    if kp.shape[1] != skel.num_joints:
        raise DataError(
            f"{path}: field 'keypoints' has {kp.shape[1]} joints, the model expects {skel.num_joints} ({skel.name})"
        )
    missing = int((~np.isfinite(kp).all(axis=-1)).sum())
    filled = 0
    if fill:
        kp, filled = fill_missing_keypoints(kp, f"{path}: field 'keypoints'")
    width, height = det.image_size or (width, height)
    if width is None or height is None:
        raise DataError(f"{path}: the file gives no image size; pass --width and --height")
    if width < 1 or height < 1:
        raise DataError(f"{path}: image size {width}x{height}; expected positive width and height")
    report = {
        "format": det.source,
        "frames": len(kp),
        "layout": det.layout or skel.name,
        "converted_to": skel.name if det.layout not in (None, skel.name) else None,
        "person_rule": track,
        "max_people_per_frame": int(track_2d.people_per_frame.max()),
        "frames_without_person": track_2d.frames_without_person,
        "min_score": min_score,
        "low_confidence_keypoints": track_2d.low_confidence,
        "missing_keypoints": missing,
        "filled_keypoints": filled,
    }
    return Input2D(kp, int(width), int(height), report)


def output_paths(output_path: str | Path, *inputs: str | Path) -> tuple[Path, Path]:
    """``<stem>.npz`` and ``<stem>.json``; refused when either would replace an input."""
    stem = Path(output_path).with_suffix("")
    outputs = (stem.with_suffix(".npz"), stem.with_suffix(".json"))
    clash = [o for o in outputs for i in inputs if o.resolve() == Path(i).resolve()]
    if clash:
        raise DataError(f"{clash[0]}: the output would replace an input; choose another -o")
    return outputs


def write_poses(
    outputs: tuple[Path, Path],
    poses: np.ndarray,
    skel: Skeleton,
    inp: Input2D,
    npz_only: dict[str, np.ndarray] | None = None,
    **extra: np.ndarray,
) -> None:
    """``.npz`` (``poses_3d``, ``joints``, the ``keypoints_2d`` lifted, ``extra`` and ``npz_only`` arrays) and
    ``.json`` (the same but ``npz_only``, rounded, with the input report)."""
    arrays = {**extra, **(npz_only or {})}
    atomic_save_npz(
        outputs[0],
        poses_3d=poses,
        joints=np.array(skel.joints),
        keypoints_2d=inp.keypoints,
        image_size=np.array([inp.width, inp.height]),
        **arrays,
    )
    doc: dict[str, Any] = {
        "skeleton": skel.name,
        "joints": list(skel.joints),
        "units": "metres, camera frame, root-relative",
        "input": inp.report,
        "filled_keypoints": inp.report["filled_keypoints"],
        "image_size": [inp.width, inp.height],
        "keypoints_2d": np.round(inp.keypoints, 2).tolist(),
        "poses_3d": np.round(poses, 5).tolist(),
        "environment": environment_info(),  # package versions, git commit, command
    }
    doc.update({k: np.round(v, 5).tolist() for k, v in extra.items()})
    atomic_write_json(outputs[1], doc)


def predict(
    model_path: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    width: int | None = None,
    height: int | None = None,
    flip: bool = True,
    stream: bool = False,
    causal: bool = False,
    **reading: Any,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Lift a 2D keypoint file to 3D; writes ``.npz`` (``poses_3d``) and ``.json`` beside each other.
    ``reading``: :func:`read_input_2d`'s options (fmt, track, min_score, image_info, video). Returns the
    poses and the input report (what was read, converted, masked and filled). ``causal`` refuses a model
    that looks ahead; ``stream`` needs a causal one."""
    from .data.cameras import normalize_screen_coordinates

    outputs = output_paths(output_path, input_path, model_path)
    model, skel = load_model(model_path)
    if causal and not model.causal:
        raise DataError(f"{model_path}: not a causal model (it looks ahead); --causal asks for one")
    inp = read_input_2d(input_path, skel, width, height, fill=not stream, **reading)
    if stream:  # frame by frame, as live: missing joints hold their last position
        from .lift_stream import StreamingLifter

        lifter = StreamingLifter(model, skel, inp.width, inp.height, flip)
        started = time.perf_counter()
        poses = np.stack([lifter.push(kp) for kp in inp.keypoints])
        inp.report["stream_ms_per_frame"] = 1000 * (time.perf_counter() - started) / len(poses)
    else:
        poses = predict_sequences(
            model, [normalize_screen_coordinates(inp.keypoints, inp.width, inp.height)], skel, flip
        )[0]
    write_poses(outputs, poses, skel, inp)
    return poses, inp.report


def import_videopose3d(
    checkpoint: str | Path, output: str | Path, causal: bool = False, skeleton: str | None = None
) -> tuple[TCNConfig, Skeleton]:
    """Write a VideoPose3D checkpoint's ``model_pos`` (a ``.bin`` from its run.py, or a bare state dict) as a
    semipose lifting model file. Channels, filter widths and joints are read off the weights; causality is
    not stored there (``causal``); the skeleton by joint count unless named."""
    checkpoint = Path(checkpoint)
    state = load_foreign_checkpoint(checkpoint)
    weights = state.get("model_pos", state)
    if not isinstance(weights, dict):
        raise CheckpointError(f"{checkpoint}: field 'model_pos' is not a state dict")
    weights = {k.removeprefix("module."): v for k, v in weights.items()}  # saved through DataParallel
    try:
        cfg, joints_in, joints_out = tcn_config_from_weights(weights, causal)
    except (ValueError, ConfigError) as e:
        raise CheckpointError(f"{checkpoint}: {e}") from None
    if joints_in != joints_out:
        raise CheckpointError(
            f"{checkpoint}: lifts {joints_in} input joints to {joints_out}; semipose models lift a joint set to "
            "itself (a model trained on COCO detections for Human3.6M output cannot be imported yet)"
        )
    skel = get_skeleton(skeleton) if skeleton else skeleton_by_joint_count(weights)
    if skel.num_joints != joints_out:
        raise CheckpointError(f"{checkpoint}: {joints_out} joints, but skeleton {skel.name} has {skel.num_joints}")
    model = build_tcn(cfg, joints_in)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{checkpoint}: the weights do not fit ({str(e).splitlines()[0][:200]})") from None
    record = model_record("lifting", model.state_dict(), dataclasses.asdict(cfg), skel, imported_from=str(checkpoint))
    atomic_torch_save(record, Path(output))
    return cfg, skel
