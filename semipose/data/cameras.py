"""Cameras: extrinsics, pinhole projection and VideoPose3D's screen normalisation.

A :class:`Camera` stores the camera-to-world rotation ``R`` (3x3) and the camera centre ``T`` in
world coordinates (metres), so a world point maps to camera coordinates as ``R^T (X - T)``. This is
the convention of both VideoPose3D (a quaternion) and MMPose's Human3.6M ``cameras.pkl`` (a matrix).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, guard_reader, read_json
from .safe_pickle import safe_load_pickle

H36M_CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")


@dataclass
class Camera:
    name: str
    R: np.ndarray  # (3, 3) camera-to-world rotation
    T: np.ndarray  # (3,) camera centre in world coordinates, metres
    res_w: int
    res_h: int
    focal: np.ndarray | None = None  # (2,) pixels
    center: np.ndarray | None = None  # (2,) pixels

    def world_to_camera(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.T) @ self.R).astype(np.float32)

    def camera_to_world(self, X: np.ndarray) -> np.ndarray:
        return (X @ self.R.T + self.T).astype(np.float32)

    def project(self, X_cam: np.ndarray) -> np.ndarray:
        """Pinhole projection of camera coordinates to pixels (no distortion)."""
        if self.focal is None or self.center is None:
            raise ValueError(f"camera {self.name} has no intrinsics")
        return (X_cam[..., :2] / X_cam[..., 2:3] * self.focal + self.center).astype(np.float32)

    def projection_matrix(self) -> np.ndarray:
        """3x4 matrix taking homogeneous world points (metres) to homogeneous pixels: K [R^T | -R^T T]."""
        if self.focal is None or self.center is None:
            raise ValueError(f"camera {self.name} has no intrinsics")
        K = np.array([[self.focal[0], 0, self.center[0]], [0, self.focal[1], self.center[1]], [0, 0, 1.0]])
        return K @ np.hstack([self.R.T, (-self.R.T @ self.T)[:, None]])

    def intrinsics_normalized(self) -> np.ndarray:
        """(fx, fy, cx, cy) in VideoPose3D's normalised screen units (divide by width/2, centre shifted)."""
        if self.focal is None or self.center is None:
            raise ValueError(f"camera {self.name} has no intrinsics")
        f = self.focal / self.res_w * 2.0
        c = normalize_screen_coordinates(self.center, self.res_w, self.res_h)
        return np.concatenate([f, c]).astype(np.float32)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _listed(a: np.ndarray | None) -> list | None:
    return None if a is None else a.tolist()


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix (w >= 0)."""
    m = np.asarray(R, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = np.sqrt(t + 1.0) * 2
        q = np.array([0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s])
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k]) * 2
        q = np.zeros(4)
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    return q if q[0] >= 0 else -q


def normalize_screen_coordinates(X: np.ndarray, w: int, h: int) -> np.ndarray:
    """Map pixels to [-1, 1] horizontally, keeping the aspect ratio (VideoPose3D's convention)."""
    return (np.asarray(X) / w * 2 - np.array([1, h / w])).astype(np.float32)


def image_coordinates(X: np.ndarray, w: int, h: int) -> np.ndarray:
    """Inverse of :func:`normalize_screen_coordinates`."""
    return ((np.asarray(X) + np.array([1, h / w])) * w / 2).astype(np.float32)


@guard_reader("HumanEva camera file")
def load_humaneva_cameras(path: str | Path) -> dict[str, list[Camera]]:
    """Read HumanEva-I ``cameras.json``: subject ('S1') -> cameras C1, C2, C3 (translations mm -> m)."""
    path = Path(path)
    doc = read_json(path, "camera file")
    for key in ("image_size", "extrinsics"):
        if key not in doc:
            raise DataError(f"{path}: missing field '{key}'")
    w, h = (int(v) for v in doc["image_size"])
    intr = doc.get("estimated_intrinsics", {})
    cams: dict[str, list[Camera]] = {}
    for subject, entries in doc["extrinsics"].items():
        lst = []
        for k, e in enumerate(entries):
            for key in ("orientation", "translation"):
                if key not in e:
                    raise DataError(f"{path}: extrinsics/{subject}[{k}] lacks '{key}'")
            focal = center = None
            if subject in intr and k < len(intr[subject]):
                focal = np.asarray(intr[subject][k]["focal_length"], dtype=np.float64)
                center = np.asarray(intr[subject][k]["center"], dtype=np.float64)
            lst.append(Camera(e.get("camera", f"C{k + 1}"), quaternion_to_matrix(e["orientation"]),
                              np.asarray(e["translation"], dtype=np.float64) / 1000.0, w, h, focal, center))
        cams[subject] = lst
    return cams


@guard_reader("Human3.6M camera file")
def load_h36m_cameras(path: str | Path) -> dict[str, list[Camera]]:
    """Read the Human3.6M ``cameras.pkl`` of MMPose: subject -> the four cameras in the standard order.

    The pickle is read through an allow-list (arrays, numbers, strings, containers): no code runs.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: camera file not found")
    raw = safe_load_pickle(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a dict of (subject, camera id) -> camera parameters")
    cams: dict[str, list[Camera]] = {}
    for entry, p in raw.items():
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(p, dict)):
            raise DataError(f"{path}: entry {entry!r:.60} must map (subject, camera id) to a dict of parameters")
        subject, cam_id = entry
        for key in ("R", "T", "f", "c", "w", "h"):
            if key not in p:
                raise DataError(f"{path}: camera ({subject}, {cam_id}) lacks '{key}'")
        if cam_id not in H36M_CAMERA_IDS:
            raise DataError(f"{path}: unknown Human3.6M camera id {cam_id!r}")
        cams.setdefault(str(subject), [None] * len(H36M_CAMERA_IDS))  # type: ignore[list-item]
        try:
            cams[str(subject)][H36M_CAMERA_IDS.index(cam_id)] = Camera(
                cam_id, np.asarray(p["R"], dtype=np.float64).reshape(3, 3),
                np.asarray(p["T"], dtype=np.float64).reshape(3), int(p["w"]), int(p["h"]),
                np.asarray(p["f"], dtype=np.float64).reshape(2), np.asarray(p["c"], dtype=np.float64).reshape(2))
        except (ValueError, TypeError) as e:
            raise DataError(f"{path}: camera ({subject}, {cam_id}): R must be 3x3, T 3, f and c 2 numbers, "
                            f"w and h integers ({e})") from None
    return cams


def cameras_to_json(cams: dict[str, list[Camera]], fps: float) -> dict:
    """The HumanEva-style ``cameras.json`` document for a set of cameras (used by the synthetic writer)."""
    any_cam = next(iter(cams.values()))[0]
    return {
        "image_size": [any_cam.res_w, any_cam.res_h],
        "fps": fps,
        "units": {"translation": "millimetres, world frame",
                  "orientation": "unit quaternion (w, x, y, z), camera-to-world rotation"},
        "extrinsics": {s: [{"camera": c.name, "orientation": matrix_to_quaternion(c.R).tolist(),
                            "translation": (c.T * 1000.0).tolist()} for c in lst] for s, lst in cams.items()},
        "estimated_intrinsics": {s: [{"camera": c.name, "focal_length": _listed(c.focal),
                                      "center": _listed(c.center)} for c in lst] for s, lst in cams.items()},
    }
