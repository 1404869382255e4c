"""Top-down inference outside the training data: people from a COCO detection json (or whole images),
keypoints as a COCO result json, overlays as PNGs, and COCO AP with detected boxes.

As in MMPose and SimpleBaseline, a person's score is its box score times the mean of its keypoint
scores above 0.2, and per image the poses pass through OKS non-maximum suppression (threshold 0.9).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import ImageDraw

from ..config import dump_yaml
from ..data.coco import PersonInstance, box_to_center_scale
from ..data.crops import CropDataset
from ..data.errors import DataError, guard_reader, open_image, read_json
from ..data.npz3d import expand_path
from ..engine import prepare_run_dir
from ..io import atomic_write_json
from ..methods.supervised_pose2d import predict_people
from ..metrics.coco import coco_keypoint_eval, oks
from ..skeletons import Skeleton
from .data import load_people, make_codec
from .model_file import load_run

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
KEYPOINT_SCORE_THRESHOLD = 0.2
OKS_NMS_THRESHOLD = 0.9


def _instance(
    path: Path, image_id: int, index: int, bbox: np.ndarray, num_joints: int, aspect: float
) -> PersonInstance:
    center, scale = box_to_center_scale(bbox, aspect)
    return PersonInstance(
        path,
        image_id,
        index,
        np.zeros((num_joints, 3), np.float32),
        bbox.astype(np.float32),
        center,
        scale,
        float(bbox[2] * bbox[3]),
        False,
    )


@guard_reader("detection file")
def instances_from_detections(
    det_file: str | Path,
    image_info: str | Path,
    image_dir: str | Path,
    num_joints: int,
    aspect: float,
    min_score: float = 0.0,
    category_id: int = 1,
) -> tuple[list[PersonInstance], list[float]]:
    """People of a COCO detection result json (``image_id``, ``bbox``, ``score``, ``category_id``), with
    file names from the ``images`` of a COCO json; returns them and their box scores."""
    det_file, image_dir = Path(det_file), Path(image_dir)
    dets = read_json(det_file, "detection file")
    if not isinstance(dets, list):
        raise DataError(f"{det_file}: expected a list of detections (COCO result format)")
    info = read_json(Path(image_info), "image info file")
    if not isinstance(info, dict) or not isinstance(info.get("images"), list):
        raise DataError(f"{image_info}: expected a COCO json with a list 'images'")
    names = {}
    for k, im in enumerate(info["images"]):
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise DataError(f"{image_info}: images[{k}] must be an object with 'id' and a string 'file_name'")
        if not isinstance(im["id"], (int, str)) or isinstance(im["id"], bool):
            raise DataError(f"{image_info}: images[{k}] 'id' must be an integer or string, got {im['id']!r}")
        names[im["id"]] = im["file_name"]
    people, scores = [], []
    for n, d in enumerate(dets):
        if not isinstance(d, dict):
            raise DataError(f"{det_file}: detection {n} must be an object with image_id, bbox, score; got {d!r:.60}")
        for key in ("image_id", "bbox", "score"):
            if key not in d:
                raise DataError(f"{det_file}: detection {n} lacks '{key}'")
        score = d["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
            raise DataError(f"{det_file}: detection {n} 'score' must be a finite number, got {score!r}")
        if d.get("category_id", category_id) != category_id or score < min_score:
            continue
        if not isinstance(d["image_id"], (int, str)) or d["image_id"] not in names:
            raise DataError(
                f"{det_file}: detection {n} has image_id {d['image_id']!r}, which {image_info} does not list"
            )
        try:
            bbox = np.asarray(d["bbox"], np.float64)
        except (ValueError, TypeError):
            bbox = np.zeros(0)
        if bbox.shape != (4,) or not np.isfinite(bbox).all() or bbox[2] <= 0 or bbox[3] <= 0:
            raise DataError(
                f"{det_file}: detection {n} 'bbox' must be four finite numbers x, y, w, h with "
                f"positive size, got {d['bbox']!r:.80}"
            )
        path = image_dir / names[d["image_id"]]
        if not path.is_file():
            raise DataError(f"{det_file}: detection {n}: image file {path} not found")
        people.append(_instance(path, int(d["image_id"]), n, bbox, num_joints, aspect))
        scores.append(float(d["score"]))
    return people, scores


def instances_from_images(
    paths: list[Path], num_joints: int, aspect: float
) -> tuple[list[PersonInstance], list[float]]:
    """One person per image, its box the whole image; image ids are numeric file stems (COCO names) or indices."""
    people = []
    for i, path in enumerate(paths):
        w, h = open_image(path).size
        image_id = int(path.stem) if path.stem.isdigit() else i
        people.append(_instance(path, image_id, i, np.array([0, 0, w, h], np.float32), num_joints, aspect))
    return people, [1.0] * len(people)


def list_images(source: str | Path) -> list[Path]:
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise DataError(f"{source}: no such image file or folder")
    paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DataError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return paths


def _by_image(results: list[dict[str, Any]]) -> dict[int, list[int]]:
    """Indices of the results, grouped by image id."""
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(results):
        groups.setdefault(r["image_id"], []).append(i)
    return groups


def oks_nms(results: list[dict[str, Any]], sigmas: np.ndarray, threshold: float = OKS_NMS_THRESHOLD) -> list[int]:
    """Indices of the poses kept: per image, highest score first, dropping any whose OKS with a kept
    pose exceeds ``threshold``."""
    keep: list[int] = []
    poses = [np.asarray(r["keypoints"]).reshape(-1, 3)[:, :2] for r in results]
    for idx in _by_image(results).values():
        kept: list[int] = []
        for i in sorted(idx, key=lambda i: -results[i]["score"]):
            if all(oks(poses[i], poses[j], results[j]["area"], sigmas) <= threshold for j in kept):
                kept.append(i)
        keep += kept
    return sorted(keep)


def pose_results(
    people: list[PersonInstance],
    keypoints: np.ndarray,
    scores: np.ndarray,
    box_scores: list[float],
    skel: Skeleton,
    nms: bool = True,
) -> list[dict[str, Any]]:
    """COCO keypoint results, rescored by the mean keypoint score above 0.2 and OKS-NMS'd."""
    results = []
    for p, k, s, bs in zip(people, keypoints, scores, box_scores):
        good = s > KEYPOINT_SCORE_THRESHOLD
        results.append(
            {
                "image_id": int(p.image_id),
                "category_id": 1,
                "keypoints": np.column_stack([k, s]).ravel().round(2).tolist(),
                "score": float(bs * (s[good].mean() if good.any() else 0.0)),
                "bbox": [round(float(v), 2) for v in p.bbox],
                "area": float(p.area),
            }
        )
    if nms and skel.oks_sigmas is not None:
        results = [results[i] for i in oks_nms(results, np.asarray(skel.oks_sigmas))]
    return results


def draw_overlay(
    image_path: Path,
    results: list[dict[str, Any]],
    skel: Skeleton,
    out_png: Path,
    min_score: float = KEYPOINT_SCORE_THRESHOLD,
) -> Path:
    """The image with each pose's links (left joints blue, right orange) and confident joints drawn."""
    image = open_image(image_path)
    draw = ImageDraw.Draw(image)
    r = max(2, round(max(image.size) / 160))
    left, right = set(skel.joints_left), set(skel.joints_right)
    colour = {**dict.fromkeys(left, (40, 120, 255)), **dict.fromkeys(right, (255, 140, 0))}
    for res in results:
        kp = np.asarray(res["keypoints"]).reshape(-1, 3)
        for a, b in skel.bones:
            if kp[a, 2] > min_score and kp[b, 2] > min_score:
                draw.line(
                    [tuple(kp[a, :2]), tuple(kp[b, :2])], fill=colour.get(a, (0, 200, 80)), width=max(1, r // 2 + 1)
                )
        for j, (x, y, s) in enumerate(kp):
            if s > min_score:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour.get(j, (0, 200, 80)), outline=(0, 0, 0))
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(out_png.name + ".tmp")
    image.save(tmp, format="PNG")
    tmp.replace(out_png)
    return out_png


def predict(
    run_dir: str | Path,
    out_dir: str | Path,
    images: str | Path,
    detections: str | Path | None = None,
    image_info: str | Path | None = None,
    min_box_score: float = 0.0,
    overlays: bool = True,
    flip_test: bool | None = None,
) -> dict[str, Any]:
    """Keypoints of the people in ``images`` (boxes from ``detections``, else whole images) as
    ``<out>/keypoints.json`` (COCO results) and ``<out>/overlays/*.png``; flip test as the run's
    ``train.test_flip`` unless ``flip_test`` says."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    model, cfg, skel = load_run(run_dir)
    flip_test = cfg.train.test_flip if flip_test is None else flip_test
    aspect = cfg.data.input_size[0] / cfg.data.input_size[1]
    if detections is not None:
        if image_info is None:
            raise DataError(f"{detections}: detections need --image-info, a COCO json whose 'images' name the files")
        people, box_scores = instances_from_detections(
            expand_path(detections),
            expand_path(image_info),
            expand_path(images),
            skel.num_joints,
            aspect,
            min_box_score,
        )
    else:
        people, box_scores = instances_from_images(list_images(expand_path(images)), skel.num_joints, aspect)
    written = {Path(out_dir, name).resolve() for name in ("keypoints.json", "config.yaml", "run_info.json")}
    given = [Path(run_dir), expand_path(images)] + [expand_path(x) for x in (detections, image_info) if x]
    if Path(out_dir).resolve() in {Path(run_dir).resolve(), expand_path(images).resolve()} or any(
        g.resolve() in written for g in given
    ):
        raise DataError(f"{out_dir}: writing predictions there would replace the run or an input; choose another -o")
    prepare_run_dir(
        out_dir,
        dump_yaml(cfg),
        cfg.train.seed,
        {"model": str(run_dir / "model.pt"), "images": str(images), "detections": str(detections)},
    )
    if not people:
        atomic_write_json(out_dir / "keypoints.json", [])
        return {"people": 0, "images": 0}
    kp, sc = predict_people(model, CropDataset(people, skel, make_codec(cfg.data), "none"), flip_test)
    results = pose_results(people, kp, sc, box_scores, skel)
    atomic_write_json(out_dir / "keypoints.json", [{k: v for k, v in r.items() if k != "area"} for r in results])
    paths = {p.image_id: p.image_path for p in people}
    if overlays:
        groups = _by_image(results)
        for image_id, path in paths.items():
            draw_overlay(
                path, [results[i] for i in groups.get(image_id, [])], skel, out_dir / "overlays" / f"{path.stem}.png"
            )
    return {"people": len(results), "images": len(paths)}


def evaluate_detections(
    run_dir: str | Path,
    detections: str | Path,
    min_box_score: float = 0.0,
    flip_test: bool | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """COCO AP of a run on its validation set with people from ``detections`` instead of the true boxes;
    writes ``<run>/evaluation_detections/{metrics,keypoints}.json``. Flip test as the run's
    ``train.test_flip`` unless ``flip_test`` says."""
    run_dir = Path(run_dir)
    model, cfg, skel = load_run(run_dir, overrides)
    flip_test = cfg.train.test_flip if flip_test is None else flip_test
    d = cfg.data
    if d.format != "coco":
        raise DataError(f"{detections}: evaluation with detected boxes needs a COCO-format validation set")
    _, _, doc = load_people(d, "val")
    assert doc is not None  # a COCO-format set comes with its document
    aspect = d.input_size[0] / d.input_size[1]
    people, box_scores = instances_from_detections(
        expand_path(detections),
        expand_path(d.val_ann),
        expand_path(d.val_images),
        skel.num_joints,
        aspect,
        min_box_score,
    )
    kp, sc = predict_people(model, CropDataset(people, skel, make_codec(d), "none"), flip_test)
    results = [{k: v for k, v in r.items() if k != "area"} for r in pose_results(people, kp, sc, box_scores, skel)]
    stats = {f"coco_{k}": float(v) for k, v in coco_keypoint_eval(doc, results).items()}
    out = run_dir / "evaluation_detections"
    prepare_run_dir(
        out, dump_yaml(cfg), cfg.train.seed, {"model": str(run_dir / "model.pt"), "detections": str(detections)}
    )
    atomic_write_json(out / "keypoints.json", results)
    atomic_write_json(out / "metrics.json", stats | {"people": len(results)})
    return stats | {"people": len(results)}


__all__ = [
    "instances_from_detections",
    "instances_from_images",
    "oks_nms",
    "pose_results",
    "draw_overlay",
    "predict",
    "evaluate_detections",
]
