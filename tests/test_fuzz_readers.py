"""Every reader fed random bytes and random JSON / NPZ / pickle structures: it either reads the file or
raises the documented error class (DataError, CheckpointError, ConfigError), never another exception,
never a hang."""

import io
import json
import pickle
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest

from semipose.config import ConfigError
from semipose.data.errors import DataError
from semipose.engine import CheckpointError

DOCUMENTED = (DataError, CheckpointError, ConfigError)
CASES = 25


def _random_json(rng, depth=0):
    kind = rng.integers(0, 8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return bool(rng.integers(0, 2))
    if kind == 2:
        return float(rng.choice([0, -1, 1e9, np.nan, np.inf, rng.normal()]))
    if kind == 3:
        return int(rng.integers(-5, 100))
    if kind == 4:
        return str(rng.choice(["", "x", "keypoints", "../../etc", "1", "bbox", "image_id", "id", "file_name"]))
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.integers(0, 4))]
    keys = [
        "keypoints",
        "image_size",
        "images",
        "annotations",
        "categories",
        "bbox",
        "score",
        "image_id",
        "id",
        "file_name",
        "extrinsics",
        "orientation",
        "translation",
        "num_keypoints",
        "train",
        "model",
        "data",
    ]
    return {str(rng.choice(keys)): _random_json(rng, depth + 1) for _ in range(rng.integers(0, 5))}


def _random_npz(rng) -> bytes:
    buf = io.BytesIO()
    arrays = {}
    for _ in range(rng.integers(0, 4)):
        key = str(rng.choice(["keypoints", "image_size", "positions_2d", "positions_3d", "metadata", "x"]))
        kind = rng.integers(0, 4)
        if kind == 0:
            arrays[key] = rng.normal(size=tuple(rng.integers(0, 5, size=rng.integers(0, 4))))
        elif kind == 1:
            arrays[key] = np.array(_random_json(rng), dtype=object)
        elif kind == 2:
            arrays[key] = np.array({"S1": {"Walk": [rng.normal(size=(3, 15, 2))]}}, dtype=object)
        else:
            arrays[key] = np.array(["a", "b"])
    np.savez(buf, **arrays)
    return buf.getvalue()


def _evil_pickle() -> bytes:
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned > /dev/null",))

    return pickle.dumps({"positions_3d": Evil()})


def _evil_npz() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": ()})
        z.writestr("positions_3d.npy", b"\x93NUMPY" + bytes([1, 0]) + header.getvalue()[8:] + _evil_pickle())
    return buf.getvalue()


def _payloads(rng, suffix):
    out = [rng.bytes(int(n)) for n in rng.integers(0, 3000, size=CASES // 3)]
    out += [json.dumps(_random_json(rng)).encode() for _ in range(CASES // 3)]
    if suffix in (".npz",):
        out += [_random_npz(rng) for _ in range(CASES // 3)] + [_evil_npz()]
    if suffix in (".pkl",):
        out += [pickle.dumps(_random_json(rng)) for _ in range(CASES // 3)] + [_evil_pickle()]
    if suffix in (".bvh", ".asf", ".amc", ".yaml"):
        words = [
            "HIERARCHY",
            "ROOT",
            "JOINT",
            "OFFSET",
            "CHANNELS",
            "MOTION",
            "Frames:",
            "Frame Time:",
            "{",
            "}",
            ":root",
            ":bonedata",
            "begin",
            "end",
            "id",
            "name",
            "direction",
            "length",
            "dof",
            "rx",
            "ry",
            "train:",
            "model:",
            "  epochs: 3",
            "[",
            "]",
            "1",
            "-2.5",
            "nan",
            "\n",
            "\t",
        ]
        out += [" ".join(rng.choice(words, size=rng.integers(1, 60))).encode() for _ in range(CASES // 3)]
    return out


def _openpose_folder(path: Path):
    """The file as the one frame of an OpenPose output folder."""
    from semipose.data.keypoints2d import read_detections

    frame = path.parent / "pose" / "clip_000000000001_keypoints.json"
    path.replace(frame)
    return read_detections(frame.parent, "openpose")


def _readers(tmp: Path):
    from semipose.data import cameras, coco, mocap, npz3d
    from semipose.data.errors import open_image
    from semipose.data.keypoints2d import read_detections
    from semipose.engine import load_checkpoint
    from semipose.lift.config import load_lift_config
    from semipose.lift.model_file import load_model
    from semipose.pose2d.predict import instances_from_detections

    (tmp / "img").mkdir(exist_ok=True)
    good_info = tmp / "info.json"
    good_info.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}]}))
    good_results = tmp / "results.json"
    good_results.write_text(json.dumps([{"image_id": 1, "keypoints": [1.0] * 51, "score": 1.0}]))
    (tmp / "pose").mkdir(exist_ok=True)
    good_2d = tmp / "good2d.npz"
    np.savez(good_2d, positions_2d=np.array({}, dtype=object), metadata=np.array({}, dtype=object))
    return {
        "lift predict json": (".json", read_detections),
        "lift predict npz": (".npz", read_detections),
        "COCO keypoint results": (".json", lambda p: read_detections(p, "coco")),
        "COCO results + image info": (".json", lambda p: read_detections(good_results, "coco", image_info=p)),
        "MMPose predictions": (".json", lambda p: read_detections(p, "mmpose")),
        "OpenPose frame": (".json", _openpose_folder),
        "VideoPose3D custom npz": (".npz", lambda p: read_detections(p, "vp3d")),
        "checkpoint": (".pt", load_checkpoint),
        "lift model": (".pt", lambda p: load_model(p)),
        "HumanEva cameras": (".json", cameras.load_humaneva_cameras),
        "Human3.6M cameras": (".pkl", cameras.load_h36m_cameras),
        "VideoPose3D 3D npz": (".npz", lambda p: npz3d.load_sequences(p, good_2d, None, ["S1"])),
        "VideoPose3D 2D npz": (".npz", lambda p: npz3d.load_sequences(good_2d, p, None, ["S1"])),
        "COCO keypoints": (".json", lambda p: coco.load_coco_keypoints(p, tmp / "img")),
        "MPII": (".json", lambda p: coco.load_mpii(p, tmp / "img")),
        "detections": (".json", lambda p: instances_from_detections(p, good_info, tmp / "img", 17, 1.0)),
        "image info": (".json", lambda p: instances_from_detections(good_info, p, tmp / "img", 17, 1.0)),
        "BVH": (".bvh", mocap.read_bvh),
        "ASF": (".asf", lambda p: mocap.read_asf_amc(p, p)),
        "motion npz": (".npz", mocap.load_motion),
        "config": (".yaml", lambda p: load_lift_config(p)),
        "image": (".png", open_image),
    }


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


@pytest.mark.parametrize(
    "reader",
    [
        "lift predict json",
        "lift predict npz",
        "COCO keypoint results",
        "COCO results + image info",
        "MMPose predictions",
        "OpenPose frame",
        "VideoPose3D custom npz",
        "checkpoint",
        "lift model",
        "HumanEva cameras",
        "Human3.6M cameras",
        "VideoPose3D 3D npz",
        "VideoPose3D 2D npz",
        "COCO keypoints",
        "MPII",
        "detections",
        "image info",
        "BVH",
        "ASF",
        "motion npz",
        "config",
        "image",
    ],
)
def test_reader_raises_only_the_documented_errors(tmp_path, reader):
    suffix, read = _readers(tmp_path)[reader]
    rng = np.random.default_rng(abs(hash(reader)) % 2**32)
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for k, payload in enumerate(_payloads(rng, suffix)):
            path = tmp_path / f"input{k}{suffix}"
            path.write_bytes(payload)
            signal.alarm(10)
            try:
                read(path)
            except DOCUMENTED as e:
                assert str(tmp_path) in str(e), f"{reader}: the error does not name the file: {e}"
            except _Hang:
                pytest.fail(f"{reader} hung on case {k}")
            except Exception as e:
                pytest.fail(f"{reader} raised {type(e).__name__}: {e} on case {k} ({payload[:80]!r})")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)


def test_a_pickle_that_names_code_is_refused_not_run(tmp_path):
    from semipose.data.cameras import load_h36m_cameras
    from semipose.data.mocap import load_motion

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    (tmp_path / "cams.pkl").write_bytes(pickle.dumps({("S1", "54138969"): Evil()}))
    with pytest.raises(DataError, match="holds a pickled posix.system"):
        load_h36m_cameras(tmp_path / "cams.pkl")
    (tmp_path / "m.npz").write_bytes(_evil_npz())
    with pytest.raises(DataError, match="holds a pickled"):
        load_motion(tmp_path / "m.npz")
    assert not marker.exists()
