"""Motion capture readers: BVH and ASF/AMC (the CMU database's two formats), by forward kinematics, to
world joint positions in metres with z up; reduced to the HumanEva-15 joints that the synthetic data
and SynthPose use. A VideoPose3D ``positions_3d`` .npz (HumanEva-15 layout) is a motion source too.

BVH: each joint's channels rotate in the order listed (``Zrotation Yrotation Xrotation``: R = Rz Ry Rx);
a joint sits at its offset in its parent's frame. ASF/AMC: a bone's rotation is ``C M C^-1`` in its
parent's frame, with C from its ``axis`` and M from the frame's ``dof`` values, both applied about
fixed axes in the order given (``XYZ``: R = Rz Ry Rx); the bone ends ``length`` along ``direction``.
CMU lengths are in units of 0.45 inch (``:units length 0.45``), 0.0254 / 0.45 m each.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..skeletons import HUMANEVA15
from .errors import DataError, guard_reader
from .safe_pickle import safe_load_npz

CMU_UNIT_M = 0.0254 / 0.45


def rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations by ``degrees`` about the x, y or z axis."""
    t = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    c, s, o, z = np.cos(t), np.sin(t), np.ones_like(t), np.zeros_like(t)
    rows = {"x": [[o, z, z], [z, c, -s], [z, s, c]],
            "y": [[c, z, s], [z, o, z], [-s, z, c]],
            "z": [[c, -s, z], [s, c, z], [z, z, o]]}[axis.lower()]
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


def euler(order: str, angles: np.ndarray) -> np.ndarray:
    """Rotations applied about fixed axes in ``order`` (``XYZ``: x first): R = R_last ... R_first.
    ``angles`` (..., len(order)) in degrees, in the same order."""
    out = np.broadcast_to(np.eye(3), np.shape(angles)[:-1] + (3, 3)).copy()
    for i, axis in enumerate(order):
        out = rotation(axis, angles[..., i]) @ out
    return out


@dataclass
class Motion:
    """Joint positions (frames, joints, 3) of a capture in its own joint set, and the frame rate."""

    names: list[str]
    parents: list[int]
    positions: np.ndarray
    fps: float


@guard_reader("BVH file")
def read_bvh(path: str | Path, scale: float = CMU_UNIT_M) -> Motion:
    """Joint positions of every frame (``End Site``s named ``<parent>_end``), times ``scale``."""
    path = Path(path)
    try:
        tokens = path.read_text().split()
    except OSError as e:
        raise DataError(f"{path}: cannot read BVH file ({e})") from None
    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i = 0
    if not tokens or tokens[0] != "HIERARCHY":
        raise DataError(f"{path}: not a BVH file (expected 'HIERARCHY' first)")
    i = 1
    while i < len(tokens) and tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT", "End"):
            names.append(tokens[i + 1] if tok != "End" else names[stack[-1]] + "_end")
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append([])
            i += 2
        elif tok == "{":
            stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            offsets[stack[-1]] = np.array([float(x) for x in tokens[i + 1:i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2:i + 2 + n]
            i += 2 + n
        else:
            raise DataError(f"{path}: unexpected token {tok!r} in the hierarchy")
    try:
        frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
        values = np.array(tokens[i + 6:], dtype=np.float64)
    except (IndexError, ValueError):
        raise DataError(f"{path}: MOTION section must give 'Frames: N', 'Frame Time: T' and numbers") from None
    width = sum(len(c) for c in channels)
    if values.size != frames * width:
        raise DataError(f"{path}: {values.size} motion values, expected {frames} frames x {width} channels")
    values = values.reshape(frames, width)
    pos = np.zeros((frames, len(names), 3))
    rot = np.zeros((frames, len(names), 3, 3))
    col = 0
    for j, (parent, offset, chans) in enumerate(zip(parents, offsets, channels)):
        local_t = np.broadcast_to(offset, (frames, 3)).copy()
        local_r = np.broadcast_to(np.eye(3), (frames, 3, 3)).copy()
        for c in chans:
            v = values[:, col]
            col += 1
            if c.endswith("position"):
                local_t[:, "XYZ".index(c[0])] += v
            else:
                local_r = local_r @ rotation(c[0], v)
        if parent < 0:
            pos[:, j], rot[:, j] = local_t, local_r
        else:
            pos[:, j] = pos[:, parent] + np.einsum("fij,fj->fi", rot[:, parent], local_t)
            rot[:, j] = rot[:, parent] @ local_r
    return Motion(names, parents, (pos * scale).astype(np.float32), 1.0 / frame_time)


def _asf_sections(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            key, _, rest = line[1:].partition(" ")
            current = key
            sections[current] = [rest] if rest else []
        elif current is not None:
            sections[current].append(line)
    return sections


@guard_reader("ASF/AMC motion")
def read_asf_amc(asf: str | Path, amc: str | Path, fps: float = 120.0) -> Motion:
    """Positions of the root and of every bone's end, each frame of ``amc`` on the skeleton of ``asf``."""
    asf, amc = Path(asf), Path(amc)
    try:
        sec = _asf_sections(asf)
    except OSError as e:
        raise DataError(f"{asf}: cannot read ASF file ({e})") from None
    for key in ("units", "root", "bonedata", "hierarchy"):
        if key not in sec:
            raise DataError(f"{asf}: missing section ':{key}' of an ASF skeleton")
    units = dict(line.split()[:2] for line in sec["units"])
    length_unit = 0.0254 / float(units.get("length", 0.45))  # file units -> metres (CMU: inches x 0.45)
    if units.get("angle", "deg") != "deg":
        raise DataError(f"{asf}: ':units angle' must be deg, got {units.get('angle')}")
    root = {line.split()[0]: line.split()[1:] for line in sec["root"]}
    root_order = [c.lower() for c in root["order"]]
    root_c = euler(root["axis"][0], np.array([float(x) for x in root["orientation"]]))
    bones: dict[str, dict] = {}
    bone: dict = {}
    for line in sec["bonedata"]:
        f = line.split()
        if f[0] == "begin":
            bone = {"dof": []}
        elif f[0] == "end":
            bones[bone["name"]] = bone
        elif f[0] == "name":
            bone["name"] = f[1]
        elif f[0] == "direction":
            bone["direction"] = np.array([float(x) for x in f[1:4]])
        elif f[0] == "length":
            bone["length"] = float(f[1])
        elif f[0] == "axis":
            bone["C"] = euler(f[4], np.array([float(x) for x in f[1:4]]))
        elif f[0] == "dof":
            bone["dof"] = f[1:]
    children: dict[str, list[str]] = {}
    for line in sec["hierarchy"]:
        f = line.split()
        if f[0] not in ("begin", "end"):
            children[f[0]] = f[1:]
    frames: list[dict[str, list[float]]] = []
    try:
        lines = amc.read_text().splitlines()
    except OSError as e:
        raise DataError(f"{amc}: cannot read AMC file ({e})") from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ":")):
            continue
        f = line.split()
        if f[0].isdigit() and len(f) == 1:
            frames.append({})
        elif frames:
            frames[-1][f[0]] = [float(x) for x in f[1:]]
    if not frames:
        raise DataError(f"{amc}: no frames")
    F = len(frames)
    names, parents = ["root"], [-1]
    root_vals = np.array([fr.get("root", [0.0] * 6) for fr in frames])
    t = np.stack([root_vals[:, root_order.index(a)] for a in ("tx", "ty", "tz")], axis=1)
    r = np.stack([root_vals[:, root_order.index(a)] for a in ("rx", "ry", "rz")], axis=1)
    m_root = euler("XYZ", r)
    mats, pos = [root_c @ m_root @ root_c.T], [t]
    order = [("root", c) for c in children.get("root", [])]
    while order:
        parent, name = order.pop(0)
        if name not in bones:
            raise DataError(f"{asf}: hierarchy names bone {name!r}, which :bonedata does not define")
        b = bones[name]
        angles = np.zeros((F, 3))
        for k, d in enumerate(b["dof"]):
            if d in ("rx", "ry", "rz"):
                angles[:, "xyz".index(d[1])] = [fr.get(name, [0.0] * len(b["dof"]))[k] for fr in frames]
        pi = names.index(parent)
        mat = mats[pi] @ b["C"] @ euler("XYZ", angles) @ b["C"].T
        names.append(name)
        parents.append(pi)
        mats.append(mat)
        pos.append(pos[pi] + b["length"] * mat @ b["direction"])
        order += [(name, c) for c in children.get(name, [])]
    positions = np.stack(pos, axis=1) * length_unit
    return Motion(names, parents, positions.astype(np.float32), fps)


# HumanEva-15 joints as (joint, joint) midpoints or single joints of each format
_FROM_BVH = {"pelvis": ("Hips",), "thorax": ("Neck",), "left_shoulder": ("LeftArm",), "left_elbow": ("LeftForeArm",),
             "left_wrist": ("LeftHand",), "right_shoulder": ("RightArm",), "right_elbow": ("RightForeArm",),
             "right_wrist": ("RightHand",), "left_hip": ("LeftUpLeg",), "left_knee": ("LeftLeg",),
             "left_ankle": ("LeftFoot",), "right_hip": ("RightUpLeg",), "right_knee": ("RightLeg",),
             "right_ankle": ("RightFoot",), "head": ("Head", "Head_end")}
_FROM_ASF = {"pelvis": ("root",), "thorax": ("thorax",), "left_shoulder": ("lclavicle",), "left_elbow": ("lhumerus",),
             "left_wrist": ("lradius",), "right_shoulder": ("rclavicle",), "right_elbow": ("rhumerus",),
             "right_wrist": ("rradius",), "left_hip": ("lhipjoint",), "left_knee": ("lfemur",),
             "left_ankle": ("ltibia",), "right_hip": ("rhipjoint",), "right_knee": ("rfemur",),
             "right_ankle": ("rtibia",), "head": ("upperneck", "head")}


def to_humaneva15(motion: Motion, source: Path) -> np.ndarray:
    """(frames, 15, 3) HumanEva-15 joints of a CMU-named BVH or ASF/AMC capture."""
    table = _FROM_BVH if "Hips" in motion.names else _FROM_ASF
    out = []
    for joint in HUMANEVA15.joints:
        missing = [n for n in table[joint] if n not in motion.names]
        if missing:
            raise DataError(f"{source}: no joint {missing[0]!r} for HumanEva-15 {joint!r} (CMU joint names expected)")
        out.append(np.mean([motion.positions[:, motion.names.index(n)] for n in table[joint]], axis=0))
    return np.stack(out, axis=1)


def z_up(positions: np.ndarray) -> np.ndarray:
    """Rotate (frames, 15, 3) HumanEva-15 poses so that the mean pelvis-to-head direction is +z."""
    up = (positions[:, 14] - positions[:, 0]).mean(0)
    axis = int(np.argmax(np.abs(up)))
    if axis == 2:
        return positions if up[2] > 0 else positions * np.array([1, -1, -1], np.float32)
    perm = {0: [1, 2, 0], 1: [2, 0, 1]}[axis]  # a cyclic permutation keeps the handedness
    out = positions[..., perm]
    return out if up[axis] > 0 else out * np.array([1, -1, -1], np.float32)


@guard_reader("motion file")
def load_motion(path: str | Path, asf: str | Path | None = None) -> np.ndarray:
    """(frames, 15, 3) HumanEva-15 poses, metres, z up, from a .bvh, an .amc (its ASF given, or
    ``<subject>.asf`` beside it for CMU's ``<subject>_<trial>.amc``) or a VideoPose3D 3D .npz."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: motion file not found")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return z_up(to_humaneva15(read_bvh(path), path))
    if suffix == ".amc":
        asf = Path(asf) if asf else path.with_name(path.stem.split("_")[0] + ".asf")
        if not asf.is_file():
            raise DataError(f"{path}: its skeleton {asf} not found (give the .asf explicitly)")
        return z_up(to_humaneva15(read_asf_amc(asf, path), path))
    if suffix == ".npz":
        f = safe_load_npz(path)  # VideoPose3D's files hold nested dicts: pickles read through an allow-list
        if "positions_3d" not in f or f["positions_3d"].shape != () or not isinstance(f["positions_3d"].item(), dict):
            raise DataError(f"{path}: no 'positions_3d' dict (a VideoPose3D 3D file expected)")
        tree = f["positions_3d"].item()
        clips = [np.asarray(a, np.float32) for actions in tree.values() for a in actions.values()]
        if not clips or clips[0].shape[1:] != (15, 3):
            raise DataError(f"{path}: positions_3d must hold (frames, 15, 3) HumanEva-15 arrays")
        return z_up(np.concatenate(clips))
    raise DataError(f"{path}: unknown motion format {suffix!r}; expected .bvh, .amc or .npz")
