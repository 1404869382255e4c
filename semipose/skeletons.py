"""Joint sets used across semipose: names, kinematic parents, left/right pairs, OKS sigmas.

Joint names are canonical across layouts (``left_shoulder`` means the same joint everywhere),
so :func:`joint_mapping` can pair up the joints two layouts share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]
    oks_sigmas: tuple[float, ...] | None = None
    links: tuple[tuple[int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.joints)
        if len(self.parents) != n:
            raise ValueError(f"skeleton {self.name}: {len(self.parents)} parents for {n} joints")
        if len(self.joints_left) != len(self.joints_right):
            raise ValueError(f"skeleton {self.name}: left and right joint lists differ in length")
        if self.oks_sigmas is not None and len(self.oks_sigmas) != n:
            raise ValueError(f"skeleton {self.name}: {len(self.oks_sigmas)} OKS sigmas for {n} joints")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(child, parent) pairs of the kinematic tree, or the explicit links when given."""
        if self.links:
            return list(self.links)
        return [(j, p) for j, p in enumerate(self.parents) if p >= 0]

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints (applied after mirroring x)."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm

    def index(self, joint: str) -> int:
        return self.joints.index(joint)


def _sym(names: list[str]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    left = [i for i, n in enumerate(names) if n.startswith("left_")]
    right = [names.index("right_" + names[i][len("left_") :]) for i in left]
    return tuple(left), tuple(right)


_HUMANEVA_NAMES = [
    "pelvis",
    "thorax",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_hip",
    "right_knee",
    "right_ankle",
    "head",
]
HUMANEVA15 = Skeleton(
    "humaneva15",
    tuple(_HUMANEVA_NAMES),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    joints_left=(2, 3, 4, 8, 9, 10),
    joints_right=(5, 6, 7, 11, 12, 13),
)

_H36M_NAMES = [
    "pelvis",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "spine",
    "thorax",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
]
H36M17 = Skeleton(
    "h36m17",
    tuple(_H36M_NAMES),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

_COCO_NAMES = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]
COCO17 = Skeleton(
    "coco17",
    tuple(_COCO_NAMES),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    joints_left=_sym(_COCO_NAMES)[0],
    joints_right=_sym(_COCO_NAMES)[1],
    # pycocotools' keypoint sigmas
    oks_sigmas=tuple(
        s / 10.0
        for s in (0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89)
    ),
    # the COCO 'skeleton' field, 0-based
    links=(
        (15, 13),
        (13, 11),
        (16, 14),
        (14, 12),
        (11, 12),
        (5, 11),
        (6, 12),
        (5, 6),
        (5, 7),
        (6, 8),
        (7, 9),
        (8, 10),
        (1, 2),
        (0, 1),
        (0, 2),
        (1, 3),
        (2, 4),
        (3, 5),
        (4, 6),
    ),
)

_MPII_NAMES = [
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "pelvis",
    "thorax",
    "neck",
    "head_top",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
]
MPII16 = Skeleton(
    "mpii16",
    tuple(_MPII_NAMES),
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14),
    joints_left=_sym(_MPII_NAMES)[0],
    joints_right=_sym(_MPII_NAMES)[1],
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (HUMANEVA15, H36M17, COCO17, MPII16)}


def skeleton_to_dict(skel: Skeleton) -> dict[str, Any]:
    """A skeleton as plain data (saved beside model weights, so a file names its own joint set)."""
    return {
        k: getattr(skel, k) for k in ("name", "joints", "parents", "joints_left", "joints_right", "oks_sigmas", "links")
    }


def skeleton_from_dict(d: dict[str, Any]) -> Skeleton:
    """The inverse of :func:`skeleton_to_dict` (lists back to tuples)."""
    tup = {
        k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, (list, tuple)) else v
        for k, v in d.items()
    }
    return Skeleton(**cast(dict[str, Any], tup))


def get_skeleton(name: str) -> Skeleton:
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton {name!r}; expected one of {sorted(SKELETONS)}") from None


def joint_mapping(src: Skeleton | str, dst: Skeleton | str) -> tuple[np.ndarray, np.ndarray]:
    """Indices (src_idx, dst_idx) of the joints both layouts name the same way."""
    src = get_skeleton(src) if isinstance(src, str) else src
    dst = get_skeleton(dst) if isinstance(dst, str) else dst
    pairs = [(i, dst.joints.index(n)) for i, n in enumerate(src.joints) if n in dst.joints]
    s, d = zip(*pairs) if pairs else ((), ())
    return np.asarray(s, dtype=np.int64), np.asarray(d, dtype=np.int64)


def convert_joints(x: np.ndarray, src: Skeleton | str, dst: Skeleton | str, fill: float = np.nan) -> np.ndarray:
    """Re-index the joint axis (second to last) of ``x`` from ``src`` to ``dst`` layout.

    Joints of ``dst`` that ``src`` lacks are set to ``fill``.
    """
    dst_s = get_skeleton(dst) if isinstance(dst, str) else dst
    s, d = joint_mapping(src, dst_s)
    out = np.full(x.shape[:-2] + (dst_s.num_joints, x.shape[-1]), fill, dtype=np.result_type(x, np.float32))
    out[..., d, :] = x[..., s, :]
    return out


# Joints a layout lacks, made from joints it has: the mean of the named joints, each found in the source
# layout or derived in turn. With these a lifter trained on HumanEva-15 or Human3.6M-17 takes COCO-17
# detector output. The offsets are known and not corrected: a dataset's pelvis and thorax are not exactly
# the hips' and shoulders' midpoints, the head joints of HumanEva and Human3.6M sit above the eyes'
# midpoint, and Human3.6M's "neck" (VideoPose3D: neck/nose) is taken as the nose. docs/lifting.md gives
# what the conversion costs on HumanEva-I.
DERIVED_JOINTS: dict[str, tuple[str, ...]] = {
    "pelvis": ("left_hip", "right_hip"),
    "thorax": ("left_shoulder", "right_shoulder"),
    "spine": ("pelvis", "thorax"),
    "neck": ("nose",),
    "head": ("left_eye", "right_eye"),
}


def _joint_weights(name: str, src: Skeleton, seen: tuple[str, ...] = ()) -> np.ndarray:
    if name in src.joints:
        w = np.zeros(src.num_joints)
        w[src.index(name)] = 1.0
        return w
    if name not in DERIVED_JOINTS or name in seen:
        raise ValueError(f"the {src.name} layout has no joint {name!r} and none to derive it from")
    return np.mean([_joint_weights(p, src, (*seen, name)) for p in DERIVED_JOINTS[name]], axis=0)


def conversion_matrix(src: Skeleton | str, dst: Skeleton | str) -> np.ndarray:
    """(dst joints, src joints) weights, each row summing to one: ``dst = M @ src`` over the joint axis."""
    src = get_skeleton(src) if isinstance(src, str) else src
    dst = get_skeleton(dst) if isinstance(dst, str) else dst
    return np.stack([_joint_weights(n, src) for n in dst.joints])


def convert_layout(x: np.ndarray, src: Skeleton | str, dst: Skeleton | str) -> np.ndarray:
    """Keypoints (..., src joints, C) in the ``dst`` layout: shared joints copied, the others derived
    (:data:`DERIVED_JOINTS`). A derived joint is missing (NaN) where any joint it is made from is."""
    m = conversion_matrix(src, dst)
    finite = np.isfinite(x).all(axis=-1)
    out = np.einsum("dk,...kc->...dc", m, np.where(finite[..., None], x, 0.0)).astype(np.result_type(x, np.float32))
    missing = np.einsum("dk,...k->...d", (m > 0).astype(np.float64), (~finite).astype(np.float64)) > 0
    out[missing] = np.nan
    return out


# Joints a dataset lacks but a detector's layout has (COCO-17's face), placed at the first of these joints
# the dataset has: what the detector would report, as near as the dataset can say.
STAND_INS: dict[str, tuple[str, ...]] = {
    "nose": ("neck", "head"),
    "left_eye": ("head",),
    "right_eye": ("head",),
    "left_ear": ("head",),
    "right_ear": ("head",),
}


def as_layout(x: np.ndarray, src: Skeleton | str, dst: Skeleton | str) -> np.ndarray:
    """Keypoints (..., src joints, C) in a detector's ``dst`` layout: shared joints copied, the others at
    their stand-in (:data:`STAND_INS`). With :func:`convert_layout` back, it gives the 2D a lifter sees
    when it is fed that detector's joints."""
    src = get_skeleton(src) if isinstance(src, str) else src
    dst = get_skeleton(dst) if isinstance(dst, str) else dst
    index = []
    for name in dst.joints:
        found = [n for n in (name, *STAND_INS.get(name, ())) if n in src.joints]
        if not found:
            raise ValueError(f"the {src.name} layout has no joint {name!r} and no stand-in for it")
        index.append(src.index(found[0]))
    return x[..., index, :]
