"""Synthetic motion in the HumanEva-15 layout, written in the VideoPose3D ``.npz`` layout.

A kinematic body (bone lengths scaled per subject) follows joint-angle trajectories of three
actions (walking and jogging along a circle, boxing on the spot) with per-sequence variation and
smooth noise; three pinhole cameras around the scene project it to 640x480 pixels. The result has
the same files as the real HumanEva-I folder, so every reader and command works on it unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_save_npz, atomic_write_json
from ..skeletons import HUMANEVA15
from .cameras import Camera, cameras_to_json

FPS = 60.0
RES_W, RES_H = 640, 480


@dataclass(frozen=True)
class ActionStyle:
    freq: float  # gait or punch cycles per second
    speed: float  # root speed along the path, m/s
    hip: float  # hip flexion amplitude, degrees
    knee: tuple[float, float]  # knee flexion min, max
    shoulder: float  # shoulder swing amplitude
    elbow: tuple[float, float]  # elbow flexion min, max
    lean: float  # forward torso lean
    bounce: float  # vertical pelvis motion, metres


ACTIONS = {
    "Walking": ActionStyle(0.9, 1.2, 25, (5, 60), 20, (15, 35), 3, 0.02),
    "Jog": ActionStyle(1.4, 2.4, 35, (20, 100), 30, (70, 100), 10, 0.05),
    "Box": ActionStyle(1.6, 0.0, 6, (15, 25), 0, (20, 120), 8, 0.01),
}


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, amplitude_deg: float, n: int = 3) -> np.ndarray:
    out = np.zeros_like(t)
    for _ in range(n):
        out += np.sin(2 * np.pi * rng.uniform(0.1, 0.8) * t + rng.uniform(0, 2 * np.pi))
    return np.deg2rad(amplitude_deg / np.sqrt(n) * out)


def _limb(start: np.ndarray, flex: np.ndarray, abduct: float, side: float, length: float,
          up: np.ndarray, fwd: np.ndarray, left: np.ndarray) -> np.ndarray:
    """End point of a limb hanging down, rotated forward by ``flex`` and outward by ``abduct``.

    ``up``, ``fwd`` and ``left`` must be orthonormal, so the limb keeps its length.
    """
    d = np.cos(flex)[:, None] * -up + np.sin(flex)[:, None] * fwd
    d = np.cos(abduct) * d + np.sin(abduct) * side * left
    return start + length * d


def generate_motion(action: str, frames: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """World positions (frames, 15, 3) in metres, z up, for one sequence of ``action``."""
    style = ACTIONS[action]
    t = np.arange(frames) / FPS
    vary = rng.uniform(0.8, 1.2)
    phase = 2 * np.pi * (style.freq * rng.uniform(0.9, 1.1) * t) + rng.uniform(0, 2 * np.pi)
    radius = rng.uniform(1.2, 1.8)
    if style.speed > 0:
        angle0 = rng.uniform(0, 2 * np.pi)
        direction = rng.choice([-1.0, 1.0])
        angle = angle0 + direction * style.speed * vary * t / radius
        root_xy = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        heading = angle + direction * np.pi / 2
    else:
        centre = rng.uniform(-1.0, 1.0, size=2)
        root_xy = centre + 0.1 * np.stack([np.sin(0.3 * t + rng.uniform(0, 6)), np.cos(0.2 * t)], axis=1)
        heading = rng.uniform(0, 2 * np.pi) + 0.6 * np.sin(0.25 * t + rng.uniform(0, 6))
    heading = heading + _smooth_noise(rng, t, 5)
    fwd = np.stack([np.cos(heading), np.sin(heading), np.zeros_like(t)], axis=1)
    left = np.stack([-np.sin(heading), np.cos(heading), np.zeros_like(t)], axis=1)
    world_up = np.array([0.0, 0.0, 1.0])
    lean = np.deg2rad(style.lean * vary) + _smooth_noise(rng, t, 3)
    torso_up = np.cos(lean)[:, None] * world_up + np.sin(lean)[:, None] * fwd
    torso_fwd = np.cos(lean)[:, None] * fwd - np.sin(lean)[:, None] * world_up

    thigh, shin = 0.43 * scale, 0.42 * scale
    hip_l = np.deg2rad(style.hip * vary) * np.sin(phase) + _smooth_noise(rng, t, 4)
    hip_r = -np.deg2rad(style.hip * vary) * np.sin(phase) + _smooth_noise(rng, t, 4)
    kmin, kmax = np.deg2rad(style.knee)

    def knee(p: np.ndarray) -> np.ndarray:
        return kmin + (kmax - kmin) * (0.5 - 0.5 * np.cos(p)) ** 2

    knee_l, knee_r = knee(phase + 0.6), knee(phase + np.pi + 0.6)
    height = thigh + shin - 0.04 * scale + style.bounce * np.cos(2 * phase)
    pelvis = np.concatenate([root_xy, height[:, None]], axis=1)

    emin, emax = np.deg2rad(style.elbow)
    if action == "Box":
        punch_l = 0.5 + 0.5 * np.sin(phase)
        punch_r = 0.5 + 0.5 * np.sin(phase + np.pi * rng.uniform(0.7, 1.3))
        sh_l, sh_r = np.deg2rad(55 + 35 * punch_l), np.deg2rad(55 + 35 * punch_r)
        el_l, el_r = emax - (emax - emin) * punch_l, emax - (emax - emin) * punch_r
        abd_arm, abd_leg = np.deg2rad(15), np.deg2rad(10)
    else:
        sh_l = -np.deg2rad(style.shoulder * vary) * np.sin(phase)
        sh_r = np.deg2rad(style.shoulder * vary) * np.sin(phase)
        el_l = emin + (emax - emin) * (0.5 + 0.5 * np.sin(phase))
        el_r = emin + (emax - emin) * (0.5 - 0.5 * np.sin(phase))
        abd_arm, abd_leg = np.deg2rad(8), np.deg2rad(3)
    sh_l, sh_r = sh_l + _smooth_noise(rng, t, 6), sh_r + _smooth_noise(rng, t, 6)
    el_l, el_r = el_l + _smooth_noise(rng, t, 6), el_r + _smooth_noise(rng, t, 6)

    J = np.zeros((frames, 15, 3))
    J[:, 0] = pelvis
    J[:, 1] = pelvis + 0.45 * scale * torso_up
    J[:, 14] = J[:, 1] + 0.28 * scale * torso_up + 0.03 * scale * torso_fwd
    upper, fore = 0.29 * scale, 0.26 * scale
    for side, (s, e, w), sh, el in ((1.0, (2, 3, 4), sh_l, el_l), (-1.0, (5, 6, 7), sh_r, el_r)):
        J[:, s] = J[:, 1] + side * 0.18 * scale * left - 0.03 * scale * torso_up
        J[:, e] = _limb(J[:, s], sh, abd_arm, side, upper, torso_up, torso_fwd, left)
        J[:, w] = _limb(J[:, e], sh + el, abd_arm, side, fore, torso_up, torso_fwd, left)
    for side, (h, k, a), hf, kf in ((1.0, (8, 9, 10), hip_l, knee_l), (-1.0, (11, 12, 13), hip_r, knee_r)):
        J[:, h] = pelvis + side * 0.09 * scale * left
        J[:, k] = _limb(J[:, h], hf, abd_leg, side, thigh, world_up, fwd, left)
        J[:, a] = _limb(J[:, k], hf - kf, abd_leg, side, shin, world_up, fwd, left)
    return J.astype(np.float32)


def look_at_camera(name: str, centre: np.ndarray, target: np.ndarray, focal: float,
                   principal: np.ndarray) -> Camera:
    """A camera at ``centre`` looking at ``target`` (x right, y down, z forward in camera space)."""
    forward = (target - centre) / np.linalg.norm(target - centre)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward], axis=1)
    return Camera(name, R, centre.astype(np.float64), RES_W, RES_H, np.array([focal, focal]), principal)


def make_cameras(rng: np.random.Generator) -> list[Camera]:
    cams = []
    for k, azimuth in enumerate((0.0, 120.0, 240.0)):
        a = np.deg2rad(azimuth + rng.uniform(-10, 10))
        r = rng.uniform(5.5, 6.5)
        centre = np.array([r * np.cos(a), r * np.sin(a), rng.uniform(1.3, 1.8)])
        cams.append(look_at_camera(f"C{k + 1}", centre, np.array([0.0, 0.0, 1.0]), rng.uniform(650, 750),
                                   np.array([RES_W / 2, RES_H / 2]) + rng.uniform(-5, 5, size=2)))
    return cams


def write_synthetic_humaneva(out_dir: str | Path, frames: int = 300, seed: int = 0,
                             subjects: tuple[str, ...] = ("S1", "S2", "S3"),
                             splits: tuple[str, ...] = ("Train", "Validate"),
                             actions: tuple[str, ...] = ("Walking", "Jog", "Box")) -> Path:
    """Write ``data_3d_humaneva15.npz``, ``data_2d_humaneva15_gt.npz`` and ``cameras.json``."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    cams: dict[str, list[Camera]] = {}
    pos3d: dict[str, dict[str, np.ndarray]] = {}
    pos2d: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject in subjects:
        cams[subject] = make_cameras(rng)
        scale = rng.uniform(0.9, 1.1)
        for split in splits:
            key = f"{split}/{subject}"
            pos3d[key], pos2d[key] = {}, {}
            for action in actions:
                name = f"{action} 1 chunk0"
                world = generate_motion(action, frames, scale, rng)
                pos3d[key][name] = world
                pos2d[key][name] = [c.project(c.world_to_camera(world)) for c in cams[subject]]
    meta = {"layout_name": "humaneva15", "num_joints": 15,
            "keypoints_symmetry": [list(HUMANEVA15.joints_left), list(HUMANEVA15.joints_right)]}
    atomic_save_npz(out_dir / "data_3d_humaneva15.npz", positions_3d=np.array(pos3d, dtype=object))
    atomic_save_npz(out_dir / "data_2d_humaneva15_gt.npz", positions_2d=np.array(pos2d, dtype=object),
                    metadata=np.array(meta, dtype=object))
    doc = cameras_to_json(cams, FPS)
    doc["dataset"] = f"semipose synthetic HumanEva-15 motion (seed {seed}, {frames} frames a sequence)"
    atomic_write_json(out_dir / "cameras.json", doc)
    return out_dir
