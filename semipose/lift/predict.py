"""A user's 2D keypoints (any detector's file) lifted to 3D and written as .npz and .json."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.errors import DataError
from ..data.keypoints2d import read_detections, select_person
from ..engine import environment_info
from ..io import atomic_save_npz, atomic_write_json
from ..skeletons import Skeleton, convert_layout
from .evaluate import predict_sequences
from .model_file import load_model


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
    from ..data.cameras import normalize_screen_coordinates

    outputs = output_paths(output_path, input_path, model_path)
    model, skel = load_model(model_path)
    if causal and not model.causal:
        raise DataError(f"{model_path}: not a causal model (it looks ahead); --causal asks for one")
    inp = read_input_2d(input_path, skel, width, height, fill=not stream, **reading)
    if stream:  # frame by frame, as live: missing joints hold their last position
        from .stream import StreamingLifter

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
