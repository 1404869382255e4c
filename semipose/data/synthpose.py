"""SynthPose: a synthetic top-down 2D pose benchmark that semipose renders itself.

Each image shows one or more articulated figures (limbs as shaded capsules, torso, head; random
clothing colours, stripes and body proportions) on a cluttered background, with occluders and
truncation at the border. Poses come from the synthetic motion generator (walking, jogging, boxing)
or, when motion files are given, from real captures (HumanEva-I 3D, CMU BVH or ASF/AMC: see
:mod:`semipose.data.mocap`), seen by random cameras. Labels are COCO-17 keypoints (face points placed
from the head and the facing direction) or MPII-16 (pelvis, thorax, upper neck, head top), with
visibility from a depth buffer: 2 visible, 1 hidden by another body part, a figure or an occluder,
0 outside the image. The result is a COCO-format dataset, deterministic per seed.

The versions (``SynthPoseConfig.version``; ``semipose data synthpose`` writes the latest by default) differ in
what the figures show; the random draws are shared from version 2 on, so one seed gives the same people,
poses and labels in versions 2-5:

- 1: small figures on 128-pixel images. Their silhouette area, COCO's OKS scale, is so small that a 2-pixel
  error costs half the keypoint similarity: COCO AP means little on them (PCK does).
- 2: figures that fill most of a 256-pixel image, with full bodies; a fixed left/right cue (red gloves and
  shoes on the left, blue on the right) and a nose that shows which way the face looks.
- 3: and eyes and ears drawn, so that the five face keypoints, whose OKS tolerances are the tightest,
  have image evidence.
- 4: and every sleeve and trouser leg tinted half with its side's colour, so that shoulders, elbows, hips
  and knees show their side where they are.
- 5: and the torso two-toned the same way (the shoulders sit in the shoulder band, not on the sleeves).

``area`` is the visible silhouette's pixel count in every version, as COCO's mask area. The measurements
behind each step are in docs/pose2d_results.md.
"""
from __future__ import annotations

import io
import json
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..io import atomic_write_bytes, atomic_write_text
from ..skeletons import COCO17, MPII16, Skeleton
from .errors import DataError
from .synthetic import ACTIONS, generate_motion

# HumanEva-15 indices of the motion generator
_HE = {"pelvis": 0, "thorax": 1, "ls": 2, "le": 3, "lw": 4, "rs": 5, "re": 6, "rw": 7, "lh": 8, "lk": 9,
       "la": 10, "rh": 11, "rk": 12, "ra": 13, "head": 14}
# capsules: (from, to, radius as a share of body height, colour slot); slots: 0 skin, 1 shirt, 2 trousers
_LIMBS = [("ls", "le", 0.030, 1), ("le", "lw", 0.025, 0), ("rs", "re", 0.030, 1), ("re", "rw", 0.025, 0),
          ("lh", "lk", 0.040, 2), ("lk", "la", 0.032, 2), ("rh", "rk", 0.040, 2), ("rk", "ra", 0.032, 2)]


@dataclass
class SynthPoseConfig:
    image_size: int = 128
    figures: tuple[int, int] = (1, 2)  # how many figures an image holds, at least and at most
    occluders: tuple[int, int] = (0, 2)
    clutter: int = 12  # background shapes
    layout: str = "coco17"  # coco17 | mpii16: the labels' joints
    motion: tuple[str, ...] = ()  # .bvh, .amc or VideoPose3D .npz files; empty: the synthetic generator
    version: int = 1  # 2: large full-bodied figures with a left/right cue; 3: and a drawn face; 4: and side-tinted
    # sleeves and trouser legs; 5: and a torso two-toned by side (module docstring)


VERSIONS = (1, 2, 3, 4, 5)


def image_scale(version: int) -> int:
    """How many times the person crop's side an image of ``version`` is rendered at: version 2 and 3
    figures fill the image, so crops of them keep their detail at twice the crop's size."""
    return 1 if version == 1 else 2


LAYOUTS: dict[str, Skeleton] = {"coco17": COCO17, "mpii16": MPII16}
# what render_image computes: COCO-17, then the MPII-only points
_RENDERED = list(COCO17.joints) + ["pelvis", "thorax", "neck", "head_top"]


class PoseSource:
    """Draws HumanEva-15 world poses (metres, z up): from loaded captures, or from the motion generator."""

    def __init__(self, motion_files: tuple[str, ...] = ()):
        from .mocap import load_motion

        self.clips = [load_motion(p) for p in motion_files]
        self.clips = [c[::4] for c in self.clips]  # 120 / 60 fps captures: every 4th frame is varied enough

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        if not self.clips:
            motion = generate_motion(str(rng.choice(list(ACTIONS))), 60, rng.uniform(0.85, 1.15), rng)
            return motion[int(rng.integers(60))]
        clip = self.clips[int(rng.integers(len(self.clips)))]
        pose = clip[int(rng.integers(len(clip)))]
        return (pose - pose[0]) * rng.uniform(0.9, 1.1)


def _rendered_from_humaneva(J: np.ndarray) -> np.ndarray:
    """(15, 3) HumanEva-15 world joints -> (21, 3): COCO-17 (face points from the head and the facing
    direction), then pelvis, thorax, upper neck and head top."""
    he = {k: J[v] for k, v in _HE.items()}
    up = he["head"] - he["thorax"]
    up /= np.linalg.norm(up) + 1e-9
    left = he["ls"] - he["rs"]
    left -= up * (left @ up)
    left /= np.linalg.norm(left) + 1e-9
    fwd = np.cross(left, up)
    h = he["head"]
    nose = h + 0.10 * fwd - 0.02 * up
    eyes = [h + 0.08 * fwd + 0.02 * up + s * 0.035 * left for s in (1, -1)]
    ears = [h + s * 0.075 * left for s in (1, -1)]
    out = [nose, eyes[0], eyes[1], ears[0], ears[1], he["ls"], he["rs"], he["le"], he["re"], he["lw"], he["rw"],
           he["lh"], he["rh"], he["lk"], he["rk"], he["la"], he["ra"],
           (he["lh"] + he["rh"]) / 2, (he["ls"] + he["rs"]) / 2, h - 0.10 * up, h + 0.11 * up]
    return np.stack(out)


def _camera_project(points: np.ndarray, rng: np.random.Generator, size: int, scale: float,
                    center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points through a random camera around them: pixels (N, 2) and depths (N,)."""
    az, el = rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(-10, 30))
    roll = np.deg2rad(rng.uniform(-15, 15))
    target = points[:17].mean(0)  # framed by the COCO-17 points (the extra MPII points ride along)
    dist = 6.0
    eye = target + dist * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    f = target - eye
    f /= np.linalg.norm(f)
    r = np.cross(f, [0, 0, 1.0])
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    cam = (points - eye) @ np.stack([r, d, f], axis=1)
    px = cam[:, :2] / cam[:, 2:3]
    c, s = np.cos(roll), np.sin(roll)
    px = px @ np.array([[c, -s], [s, c]])
    height = np.ptp(px[:17, 1]) + 1e-6
    px = (px - px[:17].mean(0)) / height * scale * size + center
    return px, cam[:, 2]


def _capsule(yy: np.ndarray, xx: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance of every pixel to segment a-b (and the position t along it), for a capsule of radius r."""
    ab = b - a
    t = np.clip(((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / (ab @ ab + 1e-9), 0, 1)
    dx, dy = xx - (a[0] + t * ab[0]), yy - (a[1] + t * ab[1])
    return np.sqrt(dx * dx + dy * dy) / r, t


def _background(rng: np.random.Generator, size: int, clutter: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    angle = rng.uniform(0, 2 * np.pi)
    g = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    img = c0 * (1 - g) + c1 * g
    for _ in range(clutter):
        cx, cy, rx, ry = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.03, 0.2), rng.uniform(0.03, 0.2)
        mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1 if rng.random() < 0.5 else \
            (np.abs(xx - cx) < rx) & (np.abs(yy - cy) < ry)
        img[mask] = rng.uniform(0, 1, 3)
    img += rng.normal(0, 0.03, img.shape)
    return img


def render_image(rng: np.random.Generator, cfg: SynthPoseConfig, poses: PoseSource | None = None
                 ) -> tuple[np.ndarray, list[dict]]:
    """One image (H, W, 3 uint8) and its person annotations (keypoints in ``cfg.layout``, bbox, area)."""
    S = cfg.image_size
    poses = poses or PoseSource()
    label_index = [_RENDERED.index(n) for n in LAYOUTS[cfg.layout].joints]
    img = _background(rng, S, cfg.clutter)
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    zbuf = np.full((S, S), np.inf, dtype=np.float32)
    owner = np.full((S, S), -1, dtype=np.int32)
    people = []
    n_fig = int(rng.integers(cfg.figures[0], cfg.figures[1] + 1))
    v2 = cfg.version >= 2
    face = cfg.version >= 3
    tinted = cfg.version >= 4
    two_tone = cfg.version >= 5
    thick = 1.7 if v2 else 1.0  # v2: full bodies, not sticks
    for fig in range(n_fig):
        world = _rendered_from_humaneva(poses(rng))
        main = fig == 0
        if v2:
            scale = rng.uniform(0.75, 0.92) if main else rng.uniform(0.6, 0.85)
        else:
            scale = rng.uniform(0.55, 0.85) if main else rng.uniform(0.35, 0.7)
        center = np.array([S / 2, S / 2]) + (rng.uniform(-0.12, 0.12, 2) if main else rng.uniform(-0.5, 0.5, 2)) * S
        px, depth = _camera_project(world, rng, S, scale, center)
        depth = depth + fig * 0.8 * rng.choice([-1, 1])
        body_h = scale * S
        colours = [rng.uniform(0.45, 0.95, 3) * np.array([1.0, 0.8, 0.65]), rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)]
        stripes = rng.uniform(2, 6) if rng.random() < 0.5 else 0.0
        parts: list[tuple[Any, Any, Any, Any, float, int, tuple[int, ...]]] = []
        for a, b, r, slot in _LIMBS:
            ia, ib = COCO17.joints.index(_coco_name(a)), COCO17.joints.index(_coco_name(b))
            radius = r * thick * body_h * rng.uniform(0.85, 1.2)
            if tinted and slot in (1, 2):  # slots 8-11: left sleeve, right sleeve, left leg, right leg
                slot = 8 + 2 * (slot - 1) + int(a[0] == "r")
            parts.append((px[ia], px[ib], depth[ia], depth[ib], radius, slot, (ia, ib)))
        sh, hp = (px[5] + px[6]) / 2, (px[11] + px[12]) / 2
        dsh, dhp = (depth[5] + depth[6]) / 2, (depth[11] + depth[12]) / 2
        torso = 0.09 * (1.35 if v2 else 1.0) * body_h * rng.uniform(0.85, 1.15)
        parts.append((sh, hp, dsh, dhp, torso, 1, (5, 6, 11, 12, 17, 18)))
        if v2:  # shoulders and hips as wide as a body's
            parts.append((px[5], px[6], depth[5], depth[6], torso * 0.75, 1, (5, 6, 18)))
            parts.append((px[11], px[12], depth[11], depth[12], torso * 0.75, 2, (11, 12, 17)))
        head = (px[3] + px[4]) / 2
        head_r = 0.065 * (1.2 if v2 else 1.0) * body_h
        parts.append((head, head + 1e-3, depth[0], depth[0], head_r, 0, (0, 1, 2, 3, 4, 19, 20)))
        if v2:  # the nose shows the facing direction; gloves and shoes: red left, blue right
            if depth[0] < (depth[3] + depth[4]) / 2:  # facing the camera: the nose in front of the head
                parts.append((head, px[0], depth[0] - 0.05, depth[0] - 0.05, head_r * 0.3, 3, (0,)))
            for j, slot in ((9, 4), (15, 4), (10, 5), (16, 5)):
                z = depth[j] - 0.03
                parts.append((px[j], px[j] + 1e-3, z, z, 0.05 * body_h, slot, (j,)))
            colours += [colours[0] * 0.8, np.array([0.85, 0.1, 0.1]), np.array([0.1, 0.25, 0.9])]
        if face:  # eyes on the half of the head facing the camera, ears unless behind it; drawn on the head
            centre = (depth[3] + depth[4]) / 2
            for j, slot, size, margin in ((1, 6, 0.16, 0.0), (2, 6, 0.16, 0.0), (3, 7, 0.3, 0.02), (4, 7, 0.3, 0.02)):
                if depth[j] <= centre + margin:
                    z = min(depth[0], depth[j]) - 0.03  # just over the head's surface (at most 0.023 in front)
                    parts.append((px[j], px[j] + 1e-3, z, z, head_r * size, slot, (j,)))
            colours += [np.array([0.08, 0.06, 0.05]), colours[0] * 0.6]
        if tinted:
            red, blue = colours[4], colours[5]
            colours += [(colours[c] + side) / 2 for c in (1, 2) for side in (red, blue)]
        for k, (a, b, za, zb, r, slot, joints) in enumerate(parts):
            dist, t = _capsule(yy, xx, a, b, max(r, 0.8))
            inside = dist < 1
            z = za + (zb - za) * t - np.sqrt(np.clip(1 - dist ** 2, 0, 1)) * r / body_h * 0.3
            draw = inside & (z < zbuf)
            if not draw.any():
                continue
            shade = (0.55 + 0.45 * np.sqrt(np.clip(1 - dist ** 2, 0, 1)))[..., None]
            colour = colours[slot] * shade
            if two_tone and slot in (1, 2):  # the left sleeve's or leg's tint left of the body's midline
                axis = hp - sh
                side = axis[0] * (yy - sh[1]) - axis[1] * (xx - sh[0])
                left = side * (axis[0] * (px[5, 1] - sh[1]) - axis[1] * (px[5, 0] - sh[0])) > 0
                base = 8 if slot == 1 else 10
                colour = np.where(left[..., None], colours[base], colours[base + 1]) * shade
            if stripes and slot == 1:
                colour = colour * (0.75 + 0.25 * np.sign(np.sin(yy / S * stripes * 2 * np.pi * 4)))[..., None]
            img[draw] = colour[draw]
            zbuf[draw] = z[draw]
            owner[draw] = fig * 100 + k
        people.append({"px": px, "depth": depth, "parts": parts, "fig": fig})
    for _ in range(int(rng.integers(cfg.occluders[0], cfg.occluders[1] + 1))):
        cx, cy = rng.uniform(0.2, 0.8, 2) * S
        w, h = rng.uniform(0.08, 0.3, 2) * S
        occ = (np.abs(xx - cx) < w / 2) & (np.abs(yy - cy) < h / 2)
        img[occ] = rng.uniform(0, 1, 3) * (0.8 + 0.2 * np.sin(xx[occ] / 3))[..., None]
        zbuf[occ] = -np.inf
        owner[occ] = -2
    anns = []
    for p in people:
        kps = np.zeros((len(_RENDERED), 3), np.float32)
        own_parts = {k: joints for k, (*_, joints) in enumerate(p["parts"])}
        mask = (owner // 100 == p["fig"]) & (owner >= 0)
        for j in range(len(_RENDERED)):
            x, y = p["px"][j]
            if not (0 <= x < S and 0 <= y < S):
                continue  # truncated: unlabeled, as COCO leaves joints outside the image
            ix, iy = int(x), int(y)
            o = owner[iy, ix]
            visible = o >= 0 and o // 100 == p["fig"] and j in own_parts.get(o % 100, ())
            if not visible and o >= 0 and o // 100 == p["fig"]:
                visible = zbuf[iy, ix] >= p["depth"][j] - 0.05  # on its own body, not behind another part
            kps[j] = [x, y, 2 if visible else 1]
        kps = kps[label_index]
        if mask.sum() < 20 or (kps[:, 2] > 0).sum() < 3:
            continue
        ys, xs = np.nonzero(mask)
        bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        anns.append({"keypoints": kps, "bbox": bbox, "area": float(mask.sum())})
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), anns


def _coco_name(he: str) -> str:
    side = {"l": "left_", "r": "right_"}[he[0]]
    return side + {"s": "shoulder", "e": "elbow", "w": "wrist", "h": "hip", "k": "knee", "a": "ankle"}[he[1]]


def write_synthpose(out_dir: str | Path, num_images: int, seed: int = 0, split: str = "train",
                    cfg: SynthPoseConfig | None = None) -> Path:
    """Render ``num_images`` images to ``out_dir/<split>/`` and ``out_dir/annotations/person_keypoints_<split>.json``."""
    cfg = cfg or SynthPoseConfig()
    if cfg.layout not in LAYOUTS:
        raise DataError(f"SynthPose layout must be one of {sorted(LAYOUTS)}, got {cfg.layout!r}")
    if cfg.version not in VERSIONS:
        raise DataError(f"SynthPose version must be one of {list(VERSIONS)}, got {cfg.version!r}")
    skel = LAYOUTS[cfg.layout]
    poses = PoseSource(cfg.motion)
    out_dir = Path(out_dir)
    (out_dir / split).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, sum(map(ord, split))])  # deterministic per seed and split
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i in range(num_images):
        img, anns = render_image(rng, cfg, poses)
        name = f"{i:06d}.png"
        # temporary file, then rename: two studies writing the same folder side by side (their images are
        # identical) never show a reader half an image
        png = io.BytesIO()
        Image.fromarray(img).save(png, format="PNG", compress_level=1)
        atomic_write_bytes(out_dir / split / name, png.getvalue())
        images.append({"id": i + 1, "file_name": name, "width": cfg.image_size, "height": cfg.image_size})
        for a in anns:
            kp = a["keypoints"]
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                                "keypoints": [round(float(v), 2) for v in kp.ravel()],
                                "num_keypoints": int((kp[:, 2] > 0).sum()), "bbox": a["bbox"], "area": a["area"]})
    source = ", ".join(Path(m).name for m in cfg.motion) or "synthetic motion"
    doc = {"info": {"description": f"SynthPose (semipose), seed {seed}, split {split}, poses from {source}"},
           "images": images, "annotations": annotations,
           "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(skel.joints),
                           "skeleton": [[a + 1, b + 1] for a, b in skel.bones]}]}
    path = out_dir / "annotations" / f"person_keypoints_{split}.json"
    atomic_write_text(path, json.dumps(doc))
    return path
