"""COCO-format keypoint datasets (COCO itself, or any dataset in its layout with its own joints).

Each person annotation becomes a :class:`PersonInstance` with its box turned into a centre and a
scale (the box's aspect ratio fixed to the network input's, then padded by 1.25, in pixels). For
training, crowd annotations and those without a labeled keypoint are left out, as the COCO tools
ignore them. The skeleton comes from the ``categories`` field (joint names, 1-based ``skeleton``
links); left and right joints pair up by their names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..skeletons import COCO17, Skeleton
from .errors import DataError, guard_reader, read_json


@dataclass
class PersonInstance:
    image_path: Path
    image_id: int
    annotation_id: int
    keypoints: np.ndarray  # (K, 3): x, y, visibility (0 unlabeled, 1 occluded, 2 visible)
    bbox: np.ndarray  # (4,) x, y, w, h
    center: np.ndarray  # (2,)
    scale: np.ndarray  # (2,) w, h in pixels, aspect fixed and padded
    area: float
    iscrowd: bool
    headbox: np.ndarray | None = None  # (2, 2) head box corners, for PCKh (MPII)


def box_to_center_scale(bbox: np.ndarray, aspect_ratio: float, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Centre of an (x, y, w, h) box and its size grown to ``aspect_ratio`` (w / h), times ``padding``."""
    x, y, w, h = (float(v) for v in bbox)
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return center, np.array([w, h], dtype=np.float32) * padding


def skeleton_from_categories(category: dict, path: Path) -> Skeleton:
    names = category.get("keypoints")
    if not isinstance(names, list) or not names:
        raise DataError(f"{path}: categories[{category.get('id')}] has no 'keypoints' list of joint names")
    if len(names) == COCO17.num_joints and list(names) == [n for n in COCO17.joints]:
        return COCO17
    left = [i for i, n in enumerate(names) if n.startswith("left_")]
    right = [names.index("right_" + names[i][5:]) for i in left if "right_" + names[i][5:] in names]
    left = [i for i in left if "right_" + names[i][5:] in names]
    # links are for drawing only: some datasets copy COCO's and point past their own joints; keep the valid ones
    links = tuple((a - 1, b - 1) for a, b in category.get("skeleton", []) if 0 < a <= len(names) and 0 < b <= len(names))
    return Skeleton(str(category.get("name", "coco_format")), tuple(names), parents=(-1,) * len(names),
                    joints_left=tuple(left), joints_right=tuple(right), links=links)


@guard_reader("COCO keypoint file")
def load_coco_keypoints(ann_file: str | Path, image_dir: str | Path, aspect_ratio: float = 0.75,
                        padding: float = 1.25, training: bool = True, check_images: bool = True
                        ) -> tuple[list[PersonInstance], Skeleton, dict]:
    """Person instances of a COCO keypoint file; returns them, the skeleton and the raw document."""
    ann_file, image_dir = Path(ann_file), Path(image_dir)
    doc = read_json(ann_file, "annotation file")
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            raise DataError(f"{ann_file}: missing list '{key}' (a COCO keypoint file has images, annotations, categories)")
    cats = {c.get("id"): c for c in doc["categories"]}
    person = next((c for c in doc["categories"] if c.get("keypoints")), None)
    if person is None:
        raise DataError(f"{ann_file}: no category with 'keypoints'")
    skel = skeleton_from_categories(person, ann_file)
    K = skel.num_joints
    images = {}
    for n, im in enumerate(doc["images"]):
        for key in ("id", "file_name", "width", "height"):
            if key not in im:
                raise DataError(f"{ann_file}: images[{n}] lacks '{key}'")
        images[im["id"]] = im
    out = []
    for n, a in enumerate(doc["annotations"]):
        where = f"{ann_file}: annotation {a.get('id', n)}"
        if a.get("category_id") not in cats or cats[a["category_id"]] is not person:
            continue
        for key in ("image_id", "bbox", "keypoints"):
            if key not in a:
                raise DataError(f"{where} lacks '{key}'")
        if a["image_id"] not in images:
            raise DataError(f"{where}: image_id {a['image_id']} is not in 'images'")
        kp = np.asarray(a["keypoints"], dtype=np.float32)
        if kp.size != 3 * K:
            raise DataError(f"{where}: 'keypoints' has {kp.size} numbers, expected {3 * K} (x, y, v for {K} joints)")
        kp = kp.reshape(K, 3)
        if not np.isin(kp[:, 2], (0, 1, 2)).all():
            raise DataError(f"{where}: keypoint visibility must be 0, 1 or 2, got {sorted(set(kp[:, 2].tolist()))}")
        im = images[a["image_id"]]
        labeled = kp[:, 2] > 0
        outside = labeled & ((kp[:, 0] < 0) | (kp[:, 1] < 0) | (kp[:, 0] > im["width"]) | (kp[:, 1] > im["height"]))
        if outside.any():
            j = int(np.argmax(outside))
            raise DataError(f"{where}: keypoint {j} ({skel.joints[j]}) at ({kp[j, 0]:g}, {kp[j, 1]:g}) lies outside "
                            f"its {im['width']}x{im['height']} image")
        crowd = bool(a.get("iscrowd", 0))
        if training and (crowd or not labeled.any()):
            continue
        bbox = np.asarray(a["bbox"], dtype=np.float32)
        if bbox.shape != (4,) or bbox[2] <= 0 or bbox[3] <= 0:
            raise DataError(f"{where}: 'bbox' must be x, y, w, h with positive size, got {a['bbox']}")
        center, scale = box_to_center_scale(bbox, aspect_ratio, padding)
        path = image_dir / im["file_name"]
        if check_images and not path.is_file():
            raise DataError(f"{where}: image file {path} not found")
        out.append(PersonInstance(path, a["image_id"], a.get("id", n), kp, bbox, center, scale,
                                  float(a.get("area", bbox[2] * bbox[3])), crowd))
    return out, skel, doc


MPII_SCALE_UNIT = 200.0  # MPII's 'scale' is the person's size in units of 200 pixels


@guard_reader("MPII annotation file")
def load_mpii(ann_file: str | Path, image_dir: str | Path, aspect_ratio: float = 0.75, padding: float = 1.25,
              check_images: bool = True) -> list[PersonInstance]:
    """MPII in MMPose's json layout (``joints``, ``joints_vis``, ``center``, ``scale``, ``image``;
    ``headbox`` [[x1, y1], [x2, y2]] kept where given, for PCKh). As MMPose does, the 1-based MATLAB
    centre is moved to 0-based and down by 15/200 of the scale, so that limbs are not cropped."""
    from ..skeletons import MPII16

    ann_file, image_dir = Path(ann_file), Path(image_dir)
    doc = read_json(ann_file, "annotation file")
    if not isinstance(doc, list):
        raise DataError(f"{ann_file}: expected a list of person annotations")
    out = []
    for n, a in enumerate(doc):
        where = f"{ann_file}: entry {n}"
        for key in ("joints", "joints_vis", "center", "scale", "image"):
            if key not in a:
                raise DataError(f"{where} lacks '{key}'")
        joints = np.asarray(a["joints"], dtype=np.float32)
        vis = np.asarray(a["joints_vis"], dtype=np.float32)
        if joints.shape != (MPII16.num_joints, 2) or vis.shape != (MPII16.num_joints,):
            raise DataError(f"{where}: 'joints' {joints.shape} and 'joints_vis' {vis.shape}, expected (16, 2) and (16,)")
        size = float(a["scale"]) * MPII_SCALE_UNIT
        center = np.asarray(a["center"], dtype=np.float32)
        if center[0] != -1:
            center[1] += 15.0 / MPII_SCALE_UNIT * size
        center -= 1
        path = image_dir / a["image"]
        if check_images and not path.is_file():
            raise DataError(f"{where}: image file {path} not found")
        bbox = np.array([center[0] - size / 2, center[1] - size / 2, size, size], dtype=np.float32)
        _, scale = box_to_center_scale(bbox, aspect_ratio, padding)
        kp = np.concatenate([joints, (vis > 0)[:, None] * 2.0], axis=1).astype(np.float32)
        head = np.asarray(a["headbox"], dtype=np.float32) if "headbox" in a else None
        out.append(PersonInstance(path, n, n, kp, bbox, center, scale, size * size, False, head))
    return out
