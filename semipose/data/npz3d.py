"""Reader of the VideoPose3D ``.npz`` layout (HumanEva-I, Human3.6M, and semipose's synthetic data).

``positions_3d[subject][action]`` holds world coordinates (frames, joints, 3) in metres;
``positions_2d[subject][action]`` a list of (frames, joints, 2) pixel arrays, one per camera;
``metadata`` the layout name, joint count and left/right symmetry.

:func:`load_sequences` turns them into :class:`Sequence` objects: one per subject, action and
camera, with 2D in VideoPose3D's normalised screen coordinates and 3D in that camera's coordinates.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence as Seq

import numpy as np

from ..skeletons import Skeleton, get_skeleton
from .cameras import Camera, load_h36m_cameras, load_humaneva_cameras, normalize_screen_coordinates
from .errors import DataError, guard_reader
from .safe_pickle import safe_load_npz

# VideoPose3D keeps these 17 of Human3.6M's 32 mocap joints.
H36M_KEPT_JOINTS = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]

_LAYOUTS = {"humaneva15": "humaneva15", "h36m": "h36m17", "h36m17": "h36m17", "coco": "coco17"}


@dataclass
class Sequence:
    """One subject, action and camera: aligned 2D input and 3D target."""

    subject: str
    action: str
    camera_index: int
    keypoints_2d: np.ndarray  # (T, J, 2) normalised screen coordinates
    positions_3d: np.ndarray  # (T, J, 3) camera coordinates, metres (root keeps its trajectory)
    camera: Camera | None = field(default=None, repr=False)

    @property
    def num_frames(self) -> int:
        return int(self.keypoints_2d.shape[0])

    @property
    def action_name(self) -> str:
        """The action without take and chunk: 'Walking 1 chunk0' -> 'Walking'."""
        return self.action.split(" ")[0]

    def require_camera(self, intrinsics: bool = False) -> Camera:
        """The sequence's camera, or a ValueError naming the sequence (``intrinsics``: with a focal length)."""
        if self.camera is None or (intrinsics and self.camera.focal is None):
            what = "camera intrinsics" if intrinsics else "a camera"
            raise ValueError(f"{self.subject}/{self.action} (camera {self.camera_index}) has no {what}")
        return self.camera

    def root_relative_3d(self) -> np.ndarray:
        """3D target as VideoPose3D trains on it: joints relative to the root, root itself zero."""
        out = self.positions_3d - self.positions_3d[:, :1]
        return out.astype(np.float32)


def expand_path(path: str | os.PathLike) -> Path:
    """Expand ``$SEMIPOSE_DATA`` (default ``../shared/data``), other variables and ``~``."""
    env = dict(os.environ)
    env.setdefault("SEMIPOSE_DATA", "../shared/data")
    s = str(path)
    for key in sorted(env, key=len, reverse=True):
        s = s.replace("${" + key + "}", env[key]).replace("$" + key, env[key])
    return Path(s).expanduser()


def _load_npz(path: Path, required: Seq[str]) -> dict:
    # VideoPose3D's files store nested dicts, pickled: read through an allow-list (no code runs)
    out = safe_load_npz(path)
    for key in required:
        if key not in out:
            raise DataError(f"{path}: missing key '{key}' (found {sorted(out)}); expected the VideoPose3D layout")
    for key, value in out.items():
        if value.dtype == object and value.shape == ():
            out[key] = value.item()
    return out


def _camera_subject(subject: str) -> str:
    """'Train/S1' and 'Validate/S1' share the cameras of 'S1'."""
    return subject.split("/")[-1]


def load_cameras(path: str | os.PathLike) -> dict[str, list[Camera]]:
    path = expand_path(path)
    if path.suffix == ".json":
        return load_humaneva_cameras(path)
    if path.suffix == ".pkl":
        return load_h36m_cameras(path)
    raise DataError(f"{path}: unknown camera file type; expected .json (HumanEva-I) or .pkl (Human3.6M)")


def match_actions(available: Seq[str], actions: Seq[str] | None) -> list[str]:
    """Sequence names that start with one of ``actions`` ('Walk' selects 'Walking 1 chunk0')."""
    if not actions:
        return list(available)
    return [a for a in available if any(a.startswith(p) for p in actions)]


@guard_reader("VideoPose3D data file")
def load_sequences(
    file_3d: str | os.PathLike,
    file_2d: str | os.PathLike,
    cameras: str | os.PathLike | dict[str, list[Camera]],
    subjects: Seq[str],
    actions: Seq[str] | None = None,
    skeleton: str | None = None,
    min_frames: int = 1,
    allow_longer_2d: bool = False,
) -> tuple[list[Sequence], Skeleton]:
    """Load the selected subjects and actions as per-camera sequences.

    Raises :class:`DataError` naming the file, subject, action and what was expected on a missing
    file or key, an unknown subject or action, a wrong joint count, 2D and 3D frame counts that
    differ, a camera count that does not match, or a sequence shorter than ``min_frames``.
    """
    file_3d, file_2d = expand_path(file_3d), expand_path(file_2d)
    d3 = _load_npz(file_3d, ["positions_3d"])
    d2 = _load_npz(file_2d, ["positions_2d", "metadata"])
    pos3d, pos2d, meta = d3["positions_3d"], d2["positions_2d"], d2["metadata"]
    if not isinstance(pos3d, dict):
        raise DataError(f"{file_3d}: 'positions_3d' must be a dict subject -> action -> array")
    if not isinstance(pos2d, dict) or not isinstance(meta, dict):
        raise DataError(f"{file_2d}: 'positions_2d' and 'metadata' must be dicts")
    layout = skeleton or _LAYOUTS.get(str(meta.get("layout_name", "")))
    if layout is None:
        raise DataError(f"{file_2d}: metadata layout_name {meta.get('layout_name')!r} is unknown; "
                        f"expected one of {sorted(_LAYOUTS)} or pass the skeleton explicitly")
    skel = get_skeleton(layout)
    n_joints = skel.num_joints
    if "num_joints" in meta and int(meta["num_joints"]) != n_joints:
        raise DataError(f"{file_2d}: metadata num_joints is {meta['num_joints']}, expected {n_joints} for {skel.name}")
    cams = cameras if isinstance(cameras, dict) else load_cameras(cameras)

    sequences: list[Sequence] = []
    for subject in subjects:
        if subject not in pos3d:
            raise DataError(f"{file_3d}: unknown subject {subject!r}; available: {sorted(pos3d)}")
        if subject not in pos2d:
            raise DataError(f"{file_2d}: unknown subject {subject!r}; available: {sorted(pos2d)}")
        cam_subject = _camera_subject(subject)
        if cam_subject not in cams:
            raise DataError(f"cameras: no cameras for subject {cam_subject!r} (of {subject!r}); available: {sorted(cams)}")
        for action in match_actions(list(pos3d[subject]), actions):
            where = f"{subject}/{action}"
            p3 = np.asarray(pos3d[subject][action], dtype=np.float32)
            if p3.ndim != 3 or p3.shape[-1] != 3:
                raise DataError(f"{file_3d}: {where}: 3D array has shape {p3.shape}, expected (frames, joints, 3)")
            if skel.name == "h36m17" and p3.shape[1] == 32:
                p3 = p3[:, H36M_KEPT_JOINTS]
            if p3.shape[1] != n_joints:
                raise DataError(f"{file_3d}: {where}: {p3.shape[1]} joints, expected {n_joints} ({skel.name})")
            if action not in pos2d[subject]:
                raise DataError(f"{file_2d}: {where}: no 2D keypoints for this sequence")
            views = pos2d[subject][action]
            if len(views) != len(cams[cam_subject]):
                raise DataError(f"{file_2d}: {where}: {len(views)} camera views, expected "
                                f"{len(cams[cam_subject])} (cameras of {cam_subject})")
            for k, kp in enumerate(views):
                kp = np.asarray(kp, dtype=np.float32)
                if kp.ndim != 3 or kp.shape[1:] != (n_joints, 2):
                    raise DataError(f"{file_2d}: {where} camera {k}: 2D array has shape {kp.shape}, "
                                    f"expected (frames, {n_joints}, 2)")
                if kp.shape[0] != p3.shape[0]:
                    if allow_longer_2d and kp.shape[0] > p3.shape[0]:
                        kp = kp[: p3.shape[0]]
                    else:
                        raise DataError(f"{file_2d}: {where} camera {k}: 2D has {kp.shape[0]} frames but "
                                        f"{file_3d.name} has {p3.shape[0]}; expected equal frame counts")
                if kp.shape[0] < min_frames:
                    raise DataError(f"{file_2d}: {where} camera {k}: {kp.shape[0]} frames, "
                                    f"at least {min_frames} needed")
                cam = cams[cam_subject][k]
                sequences.append(Sequence(
                    subject, action, k,
                    normalize_screen_coordinates(kp, cam.res_w, cam.res_h),
                    cam.world_to_camera(p3), cam))
    if actions:
        found = {s.action for s in sequences}
        for prefix in actions:
            if not any(a.startswith(prefix) for a in found):
                raise DataError(f"{file_3d}: action {prefix!r} matches no sequence of subjects {list(subjects)}")
    if not sequences:
        raise DataError(f"{file_3d}: no sequences selected for subjects {list(subjects)} and actions {actions}")
    return sequences, skel
