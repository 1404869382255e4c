import json

import numpy as np
import pytest

from semipose.data.cameras import (
    image_coordinates,
    load_h36m_cameras,
    load_humaneva_cameras,
    matrix_to_quaternion,
    normalize_screen_coordinates,
    quaternion_to_matrix,
)
from semipose.data.errors import DataError
from semipose.data.npz3d import load_sequences, match_actions
from semipose.data.synthetic import write_synthetic_humaneva
from semipose.io import atomic_write
from semipose.skeletons import H36M17, HUMANEVA15

TRAIN = ["Train/S1", "Train/S2", "Train/S3"]
TEST = ["Validate/S1", "Validate/S2", "Validate/S3"]


def _humaneva(root):
    h = root / "humaneva"
    return h / "data_3d_humaneva15.npz", h / "data_2d_humaneva15_gt.npz", h / "cameras.json"


def test_humaneva_protocol_counts(shared_data):
    f3, f2, cams = _humaneva(shared_data)
    train, skel = load_sequences(f3, f2, cams, TRAIN, ["Walk", "Jog", "Box"])
    test, _ = load_sequences(f3, f2, cams, TEST, ["Walk", "Jog", "Box"])
    assert skel is HUMANEVA15
    assert sum(s.num_frames for s in train) == 10041  # as VideoPose3D counts them
    assert sum(s.num_frames for s in test) == 10569
    assert len(test) == 72
    assert {s.action_name for s in test} == {"Walking", "Jog", "Box"}


def test_humaneva_cameras_agree_with_2d(shared_data):
    """World -> camera by the extrinsics, then the estimated intrinsics, reproduce the 2D files."""
    f3, f2, cams = _humaneva(shared_data)
    seqs, _ = load_sequences(f3, f2, cams, ["Train/S1", "Validate/S2"], ["Walk"])
    for s in seqs:
        px = s.camera.project(s.positions_3d)
        gt = image_coordinates(s.keypoints_2d, 640, 480)
        assert np.median(np.linalg.norm(px - gt, axis=-1)) < 2.0, (s.subject, s.action, s.camera_index)
        assert (s.positions_3d[..., 2] > 1.0).all()  # in front of the camera
        rr = s.root_relative_3d()
        assert np.all(rr[:, 0] == 0)


def test_action_prefix_matching():
    names = ["Walking 1 chunk0", "Jog 1 chunk2", "Box 1 chunk1", "Gestures 1 chunk0"]
    assert match_actions(names, ["Walk", "Box"]) == ["Walking 1 chunk0", "Box 1 chunk1"]
    assert match_actions(names, None) == names


def test_screen_normalisation_round_trip():
    x = np.array([[0.0, 0.0], [640.0, 480.0], [320.0, 240.0]])
    n = normalize_screen_coordinates(x, 640, 480)
    np.testing.assert_allclose(n, [[-1, -0.75], [1, 0.75], [0, 0]])
    np.testing.assert_allclose(image_coordinates(n, 640, 480), x, atol=1e-4)


def test_quaternion_matrix_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q *= np.sign(q[0])
        np.testing.assert_allclose(matrix_to_quaternion(quaternion_to_matrix(q)), q, atol=1e-9)


# --- Human3.6M: MMPose's camera file and a tiny file in the VideoPose3D layout ----------------------------


def test_h36m_cameras_and_reader(shared_data, tmp_path):
    h36m = shared_data / "mmpose_fixtures" / "h36m"
    cams = load_h36m_cameras(h36m / "cameras.pkl")
    assert set(cams) >= {"S1", "S5", "S9", "S11"}
    for c in cams["S1"]:
        np.testing.assert_allclose(c.R @ c.R.T, np.eye(3), atol=1e-6)
    fix = np.load(h36m / "test_h36m_body3d.npz")
    # The fixture's 'S' is in the camera frame of its image; the pinhole intrinsics map it to 'part'
    # up to the lens distortion (which we do not model): within 2 pixels.
    cam = cams["S1"][0]
    np.testing.assert_allclose(cam.project(fix["S"][0, :, :3]), fix["part"][0, :, :2], atol=2.0)
    # Put that pose into the world through camera 0, write the VideoPose3D layout, and read it back.
    frames = np.repeat(fix["S"][:1, :, :3], 5, axis=0).astype(np.float32)
    world = cam.camera_to_world(frames)
    views = [c.project(c.world_to_camera(world)) for c in cams["S1"]]
    np.savez(tmp_path / "d3.npz", positions_3d={"S1": {"Directions 1": world}})
    np.savez(
        tmp_path / "d2.npz",
        positions_2d={"S1": {"Directions 1": views}},
        metadata={"layout_name": "h36m", "num_joints": 17},
    )
    seqs, skel = load_sequences(tmp_path / "d3.npz", tmp_path / "d2.npz", h36m / "cameras.pkl", ["S1"])
    assert skel is H36M17 and len(seqs) == 4
    np.testing.assert_allclose(seqs[0].positions_3d, frames, atol=1e-4)
    assert seqs[1].camera.name == "55011271"


# --- error cases --------------------------------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path):
    """A small synthetic folder in the HumanEva layout."""
    write_synthetic_humaneva(tmp_path, frames=40, seed=3, subjects=("S1",), splits=("Train",))
    return tmp_path


def _rewrite(path, key, mutate):
    with np.load(path, allow_pickle=True) as f:
        content = {k: f[k].item() if f[k].dtype == object else f[k] for k in f.files}
    if key is not None:
        mutate(content[key])
    else:
        mutate(content)
    np.savez(path, **content)


def _load(root, subjects=("Train/S1",), actions=("Walk",), **kw):
    return load_sequences(
        root / "data_3d_humaneva15.npz",
        root / "data_2d_humaneva15_gt.npz",
        root / "cameras.json",
        list(subjects),
        list(actions) if actions else None,
        **kw,
    )


def test_tiny_loads(tiny):
    seqs, _ = _load(tiny)
    assert len(seqs) == 3 and seqs[0].num_frames == 40


def test_missing_file(tiny):
    (tiny / "data_2d_humaneva15_gt.npz").unlink()
    with pytest.raises(DataError, match=r"data_2d_humaneva15_gt.npz: file not found"):
        _load(tiny)


def test_missing_key(tiny):
    _rewrite(tiny / "data_2d_humaneva15_gt.npz", None, lambda c: c.pop("metadata"))
    with pytest.raises(DataError, match=r"data_2d_humaneva15_gt.npz: missing key 'metadata'"):
        _load(tiny)


def test_frame_count_mismatch(tiny):
    def cut(p2):
        p2["Train/S1"]["Walking 1 chunk0"][1] = p2["Train/S1"]["Walking 1 chunk0"][1][:30]

    _rewrite(tiny / "data_2d_humaneva15_gt.npz", "positions_2d", cut)
    with pytest.raises(DataError, match=r"Train/S1/Walking 1 chunk0 camera 1: 2D has 30 frames but .* has 40"):
        _load(tiny)


def test_wrong_joint_count(tiny):
    def drop(p3):
        p3["Train/S1"]["Walking 1 chunk0"] = p3["Train/S1"]["Walking 1 chunk0"][:, :14]

    _rewrite(tiny / "data_3d_humaneva15.npz", "positions_3d", drop)
    with pytest.raises(DataError, match=r"Train/S1/Walking 1 chunk0: 14 joints, expected 15"):
        _load(tiny)


def test_unknown_subject(tiny):
    with pytest.raises(DataError, match=r"unknown subject 'Train/S9'; available: \['Train/S1'\]"):
        _load(tiny, subjects=("Train/S9",))


def test_unknown_action(tiny):
    with pytest.raises(DataError, match=r"action 'Swim' matches no sequence"):
        _load(tiny, actions=("Walk", "Swim"))


def test_sequence_too_short(tiny):
    with pytest.raises(DataError, match=r"Walking 1 chunk0 camera 0: 40 frames, at least 100 needed"):
        _load(tiny, min_frames=100)


def test_camera_file_errors(tiny, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"image_size": [640, 480]}))
    with pytest.raises(DataError, match=r"bad.json: missing field 'extrinsics'"):
        load_humaneva_cameras(bad)
    with pytest.raises(DataError, match="unknown camera file type"):
        load_sequences(
            tiny / "data_3d_humaneva15.npz", tiny / "data_2d_humaneva15_gt.npz", tmp_path / "c.txt", ["Train/S1"]
        )


def test_not_an_npz(tiny):
    (tiny / "data_3d_humaneva15.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        _load(tiny)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_synthetic_is_deterministic_and_consistent(tmp_path):
    a = write_synthetic_humaneva(tmp_path / "a", frames=30, seed=5, subjects=("S1",))
    b = write_synthetic_humaneva(tmp_path / "b", frames=30, seed=5, subjects=("S1",))
    assert (a / "data_3d_humaneva15.npz").read_bytes() == (b / "data_3d_humaneva15.npz").read_bytes()
    seqs, _ = _load(a, subjects=("Train/S1", "Validate/S1"), actions=None)
    assert len(seqs) == 2 * 3 * 3
    for s in seqs:
        assert (s.positions_3d[..., 2] > 2.0).all()
        bones = np.linalg.norm(s.positions_3d[:, 1:] - s.positions_3d[:, list(HUMANEVA15.parents[1:])], axis=-1)
        assert bones.std(axis=0).max() < 1e-4  # rigid bones
        px = image_coordinates(s.keypoints_2d, 640, 480)
        assert np.median(np.abs(px - s.camera.project(s.positions_3d))) < 1e-3
