"""2D keypoints of a video from any detector, for lifting: readers of the formats detectors write, the
choice of one person per frame, and the confidence mask.

Formats (``read_detections(path, fmt="auto")``):

* ``semipose``: ``.npz`` or ``.json`` with ``keypoints`` (frames, joints, 2) in the model's own joint set,
  optional ``image_size`` [w, h] and ``scores`` (frames, joints); one person per frame.
* ``coco``: a COCO keypoint results JSON (a list of ``{"image_id", "keypoints": [x, y, score] * 17,
  "score"}``), frames in ``image_id`` order; or a COCO document with ``images`` and ``annotations``, or a
  results list with ``image_info`` (a COCO JSON whose ``images`` give file names): frames numbered by the
  last number in each file name (gaps are empty frames), the image size from ``images``.
* ``mmpose``: MMPose's saved predictions (``{"meta_info", "instance_info": [{"frame_id", "instances"}]}``,
  or the list of ``{"frame_id", "instances"}``, or one image's list of instances); each instance's
  ``keypoints`` [[x, y]], ``keypoint_scores``, ``bbox``, ``bbox_score``. 17 keypoints are COCO-17; Halpe-26
  and COCO-WholeBody-133 start with COCO-17's body joints, which are used.
* ``openpose``: a folder of OpenPose's per-frame ``*_keypoints.json`` (frames by the number in the file
  name), BODY_25 or COCO-18 ``pose_keypoints_2d``, converted to COCO-17.
* ``vp3d``: VideoPose3D's custom-video ``data_2d_custom_*.npz`` (``positions_2d``, ``metadata``).

One person per frame (:func:`select_person`): ``score`` takes each frame's highest-scoring person;
``iou`` starts from the highest-scoring person of the first frame with anyone and then follows the box
that overlaps the last chosen box most (frames where none overlaps by ``min_iou`` are missing). Joints
below ``min_score`` and frames without the person become NaN, for the lifter's temporal interpolation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, guard_reader, read_json
from .safe_pickle import safe_load_npz

FORMATS = ("auto", "semipose", "coco", "mmpose", "openpose", "vp3d")
TRACKS = ("score", "iou")

# COCO-17 from OpenPose's layouts: for each COCO joint (nose, eyes, ears, shoulders, elbows, wrists, hips,
# knees, ankles; left before right) its index in BODY_25 and in COCO-18
BODY25_TO_COCO17 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)
COCO18_TO_COCO17 = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)


@dataclass
class Person2D:
    keypoints: np.ndarray  # (K, 2) image pixels
    scores: np.ndarray  # (K,) confidence; 1 where the format has none, 0 where a joint was not found
    score: float  # the instance's score (the mean keypoint score where the format has none)
    box: np.ndarray | None = None  # x1, y1, x2, y2

    def bounding_box(self, min_score: float = 0.0) -> np.ndarray | None:
        """The given box, else the one around the keypoints scoring above ``min_score``."""
        if self.box is not None:
            return self.box
        ok = (self.scores > min_score) & np.isfinite(self.keypoints).all(axis=1)
        if not ok.any():
            return None
        pts = self.keypoints[ok]
        return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


@dataclass
class Detections2D:
    """Everyone a detector found, frame by frame (an empty list: nobody)."""

    frames: list[list[Person2D]]
    layout: str | None  # the keypoints' skeleton name; None: the model's own (semipose files)
    image_size: tuple[int, int] | None
    source: str  # the format read
    frame_ids: list[int] = field(default_factory=list)


def detect_format(path: Path) -> str:
    """The format of ``path`` by its kind and contents (see the module docstring)."""
    if path.is_dir():
        return "openpose"
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                return "vp3d" if "positions_2d" in f.files else "semipose"
        except Exception as e:  # not a zip, truncated
            raise DataError(f"{path}: not a readable .npz ({type(e).__name__}: {str(e)[:120]})") from None
    if path.suffix != ".json":
        raise DataError(f"{path}: unsupported input {path.suffix!r}; expected .json, .npz or an OpenPose folder")
    return _json_format(path, read_json(path, "2D keypoint file"))


def _json_format(path: Path, doc: Any) -> str:
    """The format of a parsed JSON document (see the module docstring)."""
    if isinstance(doc, dict):
        if "keypoints" in doc:
            return "semipose"
        if "annotations" in doc:
            return "coco"
        if "instance_info" in doc:
            return "mmpose"
        if "people" in doc:
            return "openpose"
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        if "image_id" in doc[0]:
            return "coco"
        if "instances" in doc[0] or "keypoint_scores" in doc[0]:
            return "mmpose"
    raise DataError(
        f"{path}: not a 2D keypoint format semipose knows: expected an object with field 'keypoints' (semipose), "
        "'annotations' (COCO), 'instance_info' (MMPose) or 'people' (OpenPose), or a list of COCO keypoint "
        "results or MMPose instances"
    )


def read_detections(
    path: str | Path, fmt: str = "auto", image_info: str | Path | None = None, video: str | None = None
) -> Detections2D:
    """Read a detector's output (``fmt`` one of :data:`FORMATS`); ``image_info`` and ``video`` as the
    ``coco`` and ``vp3d`` formats need them. Errors name the file, the field and what was expected."""
    path = Path(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown 2D input format {fmt!r}; expected one of {FORMATS}")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    doc = read_json(path, "2D keypoint file") if path.is_file() and path.suffix == ".json" else None
    if fmt == "auto":  # a JSON file is parsed once, for the format and the reading alike
        fmt = detect_format(path) if doc is None else _json_format(path, doc)
    if fmt == "openpose":
        return _read_openpose(path)
    if fmt == "vp3d":
        return _read_vp3d(path, video)
    if fmt == "semipose":
        return _read_semipose(path, doc)
    if doc is None:
        raise DataError(f"{path}: the {fmt} format is a .json file")
    return _read_coco(path, doc, image_info) if fmt == "coco" else _read_mmpose(path, doc)


def _array(value: Any, path: Path, name: str, shape: str) -> np.ndarray:
    try:
        out = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise DataError(f"{path}: field {name!r} is not an array of numbers; expected {shape}") from None
    return out


def _person(kp: np.ndarray, scores: np.ndarray, score: float | None, box: Any = None) -> Person2D:
    kp = kp.astype(np.float32)
    scores = np.where(np.isfinite(kp).all(axis=1), scores, 0.0).astype(np.float32)
    b = None
    if box is not None:
        b = np.asarray(box, dtype=np.float64).reshape(-1)[:4].astype(np.float32)
    return Person2D(kp, scores, float(scores.mean()) if score is None else float(score), b)


def _frame_number(name: str) -> int | None:
    numbers = re.findall(r"\d+", Path(name).stem)
    return int(numbers[-1]) if numbers else None


def _by_number(path: Path, numbered: dict[int, list[Person2D]], layout: str, size, source: str) -> Detections2D:
    """Frames from the first to the last number; numbers no file names are empty frames."""
    first, last = min(numbered), max(numbered)
    if last - first + 1 > 100 * len(numbered):
        raise DataError(f"{path}: frame numbers {first}..{last} for {len(numbered)} frames; are they frame numbers?")
    ids = list(range(first, last + 1))
    return Detections2D([numbered.get(i, []) for i in ids], layout, size, source, ids)


@guard_reader("COCO keypoint file")
def _read_coco(path: Path, doc: Any, image_info: str | Path | None) -> Detections2D:
    results = doc["annotations"] if isinstance(doc, dict) else doc
    images = doc.get("images") if isinstance(doc, dict) else None
    if image_info is not None:
        info = read_json(image_info, "image info file")
        if not isinstance(info, dict) or not isinstance(info.get("images"), list):
            raise DataError(f"{image_info}: expected a COCO JSON with an 'images' list (id, file_name)")
        images = info["images"]
    if not isinstance(results, list) or not results:
        raise DataError(f"{path}: expected a non-empty list of keypoint results (image_id, keypoints, score)")
    is_doc = isinstance(doc, dict)
    people: dict[int, list[Person2D]] = {}
    for n, r in enumerate(results):
        if not isinstance(r, dict) or "image_id" not in r or "keypoints" not in r:
            raise DataError(f"{path}: result {n} lacks 'image_id' or 'keypoints'; expected COCO keypoint results")
        kp = _array(r["keypoints"], path, f"[{n}].keypoints", "17 x (x, y, score)")
        if kp.size != 51:
            raise DataError(f"{path}: result {n}: 'keypoints' has {kp.size} numbers; expected 51 (17 x x, y, score)")
        kp = kp.reshape(17, 3)
        # an annotation's third number is a visibility flag (0: not labeled), a result's a confidence
        scores = (kp[:, 2] > 0).astype(np.float64) if is_doc else kp[:, 2]
        score = None if is_doc else r.get("score")
        people.setdefault(int(r["image_id"]), []).append(_person(kp[:, :2], scores, score, _xywh(r.get("bbox"))))
    if images is None:
        ids = sorted(people)
        return Detections2D([people[i] for i in ids], "coco17", None, "coco", ids)
    by_id = {int(im["id"]): im for im in images}
    missing = [i for i in people if i not in by_id]
    if missing:
        raise DataError(f"{image_info or path}: 'images' has no entry for image_id {missing[0]}")
    numbered: dict[int, list[Person2D]] = {}
    for i, ps in people.items():
        number = _frame_number(str(by_id[i]["file_name"]))
        if number is None:
            raise DataError(f"{image_info or path}: file name {by_id[i]['file_name']!r} holds no frame number")
        numbered.setdefault(number, []).extend(ps)
    sizes = {(int(im["width"]), int(im["height"])) for im in images if "width" in im and "height" in im}
    return _by_number(path, numbered, "coco17", sizes.pop() if len(sizes) == 1 else None, "coco")


def _xywh(box: Any) -> np.ndarray | None:
    if box is None:
        return None
    x, y, w, h = (float(v) for v in box)
    return np.array([x, y, x + w, y + h], np.float32)


@guard_reader("MMPose prediction file")
def _read_mmpose(path: Path, doc: Any) -> Detections2D:
    frames = doc["instance_info"] if isinstance(doc, dict) else doc
    if not isinstance(frames, list):
        raise DataError(f"{path}: field 'instance_info' must be a list of frames ({{frame_id, instances}})")
    if frames and isinstance(frames[0], dict) and "instances" not in frames[0]:
        frames = [{"frame_id": 0, "instances": frames}]  # one image's instances
    out, ids = [], []
    for n, f in enumerate(frames):
        if not isinstance(f, dict) or not isinstance(f.get("instances"), list):
            raise DataError(f"{path}: frame {n} lacks an 'instances' list")
        people = []
        for m, inst in enumerate(f["instances"]):
            kp = _array(inst["keypoints"], path, f"instance_info[{n}].instances[{m}].keypoints", "(K, 2)")
            if kp.ndim != 2 or kp.shape[1] < 2 or kp.shape[0] not in (17, 26, 133):
                raise DataError(
                    f"{path}: frame {n}, instance {m}: 'keypoints' has shape {kp.shape}; expected 17 (COCO), "
                    "26 (Halpe) or 133 (COCO-WholeBody) rows of (x, y)"
                )
            sc = inst.get("keypoint_scores")
            scores = np.ones(len(kp)) if sc is None else _array(sc, path, "keypoint_scores", "(K,)").reshape(-1)
            box = inst.get("bbox")
            box_score = inst.get("bbox_score")
            score = float(np.asarray(box_score).reshape(-1)[0]) if box_score is not None else None
            people.append(_person(kp[:17, :2], scores[:17], score, box))
        out.append(people)
        ids.append(int(f.get("frame_id", n)))
    if not out:
        raise DataError(f"{path}: no frames in 'instance_info'")
    return Detections2D(out, "coco17", None, "mmpose", ids)


@guard_reader("OpenPose keypoint file")
def _openpose_frame(path: Path) -> list[Person2D]:
    doc = read_json(path, "OpenPose keypoint file")
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise DataError(f"{path}: expected OpenPose's {{'people': [{{'pose_keypoints_2d': [...]}}]}}")
    people = []
    for m, p in enumerate(doc["people"]):
        flat = _array(p["pose_keypoints_2d"], path, f"people[{m}].pose_keypoints_2d", "25 or 18 x (x, y, c)")
        if flat.size not in (75, 54):
            raise DataError(
                f"{path}: people[{m}].pose_keypoints_2d has {flat.size} numbers; expected 75 (BODY_25) or 54 (COCO-18)"
            )
        kp = flat.reshape(-1, 3)[list(BODY25_TO_COCO17 if flat.size == 75 else COCO18_TO_COCO17)]
        xy = np.where((kp[:, 2:] > 0), kp[:, :2], np.nan)  # OpenPose writes 0, 0, 0 for a joint not found
        people.append(_person(xy, kp[:, 2], None))
    return people


def _read_openpose(folder: Path) -> Detections2D:
    files = sorted(folder.glob("*_keypoints.json"))
    if not files:
        raise DataError(f"{folder}: no OpenPose '*_keypoints.json' files in this folder")
    numbered: dict[int, list[Person2D]] = {}
    for f in files:
        number = _frame_number(f.name.removesuffix("_keypoints.json"))
        if number is None or number in numbered:
            raise DataError(f"{f}: no frame number in the file name, or one that another file has too")
        numbered[number] = _openpose_frame(f)
    return _by_number(folder, numbered, "coco17", None, "openpose")


@guard_reader("VideoPose3D custom 2D file")
def _read_vp3d(path: Path, video: str | None) -> Detections2D:
    data = safe_load_npz(path)
    if "positions_2d" not in data or "metadata" not in data:
        raise DataError(f"{path}: expected VideoPose3D's custom 2D file (keys 'positions_2d' and 'metadata')")
    positions = data["positions_2d"].item()
    meta = data["metadata"].item()
    if not isinstance(positions, dict) or not positions:
        raise DataError(f"{path}: field 'positions_2d' must map video names to {{'custom': [keypoints]}}")
    if video is None:
        if len(positions) > 1:
            raise DataError(f"{path}: {len(positions)} videos ({sorted(positions)[:5]}...); choose one with --video")
        video = next(iter(positions))
    if video not in positions:
        raise DataError(f"{path}: no video {video!r} in 'positions_2d' (found {sorted(positions)[:5]})")
    kp = _array(positions[video]["custom"][0], path, f"positions_2d[{video!r}]['custom'][0]", "(frames, 17, 2)")
    if kp.ndim != 3 or kp.shape[1] != 17 or kp.shape[2] < 2:
        raise DataError(f"{path}: positions_2d[{video!r}] has shape {kp.shape}; expected (frames, 17, 2)")
    layout = str(meta.get("layout_name", "coco"))
    if layout != "coco":
        raise DataError(f"{path}: metadata layout_name {layout!r}; semipose reads the 'coco' layout")
    vm = meta.get("video_metadata", {}).get(video)
    size = (int(vm["w"]), int(vm["h"])) if vm else None
    scores = kp[..., 2] if kp.shape[2] > 2 else np.ones(kp.shape[:2])
    frames = [[_person(k[:, :2], s, None)] for k, s in zip(kp, scores)]
    return Detections2D(frames, "coco17", size, "vp3d", list(range(len(frames))))


@guard_reader("keypoint file")
def _read_semipose(path: Path, doc: Any = None) -> Detections2D:
    """semipose's own file; ``doc``: the JSON file already parsed."""
    if doc is None:
        if path.suffix != ".npz":
            raise DataError(f"{path}: semipose's keypoint files are .npz or .json")
        try:
            with np.load(path, allow_pickle=False) as f:
                doc = {k: f[k] for k in f.files}
        except Exception as e:  # object arrays (pickle refused), truncated
            raise DataError(f"{path}: not a readable .npz of arrays ({type(e).__name__}: {str(e)[:120]})") from None
    if not isinstance(doc, dict) or "keypoints" not in doc:
        raise DataError(f"{path}: missing key 'keypoints'; expected (frames, joints, 2) in pixels")
    kp = _array(doc["keypoints"], path, "keypoints", "(frames, joints, 2)")
    if kp.ndim != 3 or kp.shape[-1] != 2 or kp.shape[0] < 1 or kp.shape[1] < 1:
        raise DataError(f"{path}: field 'keypoints' has shape {kp.shape}, expected (frames >= 1, joints >= 1, 2)")
    scores = np.ones(kp.shape[:2])
    if doc.get("scores") is not None:
        scores = _array(doc["scores"], path, "scores", "(frames, joints)")
        if scores.shape != kp.shape[:2]:
            raise DataError(f"{path}: field 'scores' has shape {scores.shape}; expected {kp.shape[:2]}")
    size = None
    if doc.get("image_size") is not None:
        try:
            w, h = (int(v) for v in np.asarray(doc["image_size"], dtype=np.float64).reshape(2))
        except (ValueError, TypeError):
            raise DataError(f"{path}: field 'image_size' is {doc['image_size']!r}; expected [width, height]") from None
        size = (w, h)
    frames = [[_person(k, s, None)] for k, s in zip(kp, scores)]
    return Detections2D(frames, None, size, "semipose", list(range(len(frames))))


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union) if union > 0 else 0.0


@dataclass
class Track2D:
    keypoints: np.ndarray  # (T, K, 2), NaN where the person or a joint was not found or scored too low
    scores: np.ndarray  # (T, K), 0 where not found
    people_per_frame: np.ndarray  # (T,) how many people the detector found
    frames_without_person: int
    low_confidence: int  # joints found but masked for scoring below min_score


def select_person(det: Detections2D, track: str = "score", min_score: float = 0.0, min_iou: float = 0.3) -> Track2D:
    """One person per frame by the rule ``track`` (see the module docstring); joints scoring below
    ``min_score`` are masked (NaN)."""
    if track not in TRACKS:
        raise DataError(f"unknown person rule --track {track!r}; expected one of {TRACKS}")
    if not any(det.frames):
        raise DataError(f"the {det.source} input holds no person in any of its {len(det.frames)} frames")
    K = next(len(p.keypoints) for f in det.frames for p in f)
    T = len(det.frames)
    kp = np.full((T, K, 2), np.nan, np.float32)
    sc = np.zeros((T, K), np.float32)
    last_box: np.ndarray | None = None
    found = 0
    for t, people in enumerate(det.frames):
        pick: Person2D | None = None
        if people and (track == "score" or last_box is None):
            pick = max(people, key=lambda p: p.score)
        elif people:
            assert last_box is not None
            overlaps = [(box_iou(b, last_box), p) for p in people if (b := p.bounding_box(min_score)) is not None]
            best = max(overlaps, key=lambda o: o[0], default=(0.0, None))
            pick = best[1] if best[0] >= min_iou else None
        if pick is None:
            continue
        found += 1
        kp[t], sc[t] = pick.keypoints, pick.scores
        last_box = pick.bounding_box(min_score) if track == "iou" else last_box
    low = (sc > 0) & (sc < min_score) & np.isfinite(kp).all(axis=-1)
    kp[(sc <= 0) | (sc < min_score)] = np.nan  # a score of 0: the detector did not find the joint
    return Track2D(kp, sc, np.array([len(f) for f in det.frames]), T - found, int(low.sum()))
