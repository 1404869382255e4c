"""Semi-supervised 3D levers: multi-view fusion in world coordinates, detector-like 2D noise."""

import numpy as np
import pytest

from semipose.data.cameras import quaternion_to_matrix
from semipose.data.noise2d import DetectorNoiseConfig, detector_like, joint_sigmas, noisy_sequences_2d, person_size
from semipose.methods.multiview import fuse_views
from semipose.skeletons import COCO17, HUMANEVA15


def _rot_z(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def _two_cameras():
    # camera 1 looks along world +y (x right, z up -> camera y down), camera 2 is camera 1 turned 90 deg
    base = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # camera-to-world: cam x->world x, cam y->-z, cam z->y
    return [base, _rot_z(90) @ base]


def test_world_fusion_inverts_exactly_on_a_hand_built_two_camera_case():
    R1, R2 = _two_cameras()
    world = np.array([[[0, 0, 0], [0.1, 0.2, 0.3], [-0.2, 0.05, 0.5]]], dtype=np.float64)  # (T=1, J=3, 3)
    # camera coordinates of a root-relative world pose: P_cam = P_world R
    cam1, cam2 = world @ R1, world @ R2
    # by hand: camera 1 (x, -z, y) of world (x, y, z)... P_cam = P_world R1: rows (x, y, z) -> (x, -z, y)
    np.testing.assert_allclose(cam1[0, 1], [0.1, -0.3, 0.2])
    fused = fuse_views([cam1[None], cam2[None]], [R1, R2], method="mean")
    np.testing.assert_allclose(fused.world, world, atol=1e-6)
    np.testing.assert_allclose(fused.per_view[0], cam1, atol=1e-6)
    np.testing.assert_allclose(fused.per_view[1], cam2, atol=1e-6)
    assert np.abs(fused.disagreement).max() < 1e-6


def test_fusion_averages_in_world_frame_and_reports_disagreement():
    R1, R2 = _two_cameras()
    world = np.zeros((1, 2, 3))
    world[0, 1] = [0.0, 0.0, 0.5]
    err = np.array([0.02, 0.0, 0.0])  # view 1 is 2 cm off along world x, view 2 is right
    v1 = world.copy()
    v1[0, 1] += err
    fused = fuse_views([(v1 @ R1)[None], (world @ R2)[None]], [R1, R2], method="mean")
    np.testing.assert_allclose(fused.world[0, 1], [0.01, 0, 0.5], atol=1e-6)
    assert fused.disagreement[0, 1] == pytest.approx(0.01, abs=1e-6)  # both views 1 cm from the fused pose


def test_spread_weighting_trusts_the_confident_view():
    R1, R2 = _two_cameras()
    truth = np.zeros((1, 2, 3))
    truth[0, 1] = [0.0, 0.0, 0.5]
    # view 1: two members agreeing on the truth; view 2: members 10 cm apart around a point 5 cm off
    v1 = np.stack([truth, truth]) @ R1
    off = truth.copy()
    off[0, 1] += [0.05, 0, 0]
    a, b = off.copy(), off.copy()
    a[0, 1, 1] += 0.05
    b[0, 1, 1] -= 0.05
    v2 = np.stack([a, b]) @ R2
    eps = 0.005
    fused = fuse_views([v1, v2], [R1, R2], method="spread", eps=eps)
    w1, w2 = 1 / eps**2, 1 / (0.05**2 + eps**2)  # spread: 0 in view 1, 5 cm in view 2
    np.testing.assert_allclose(fused.world[0, 1], [0.05 * w2 / (w1 + w2), 0, 0.5], atol=1e-6)
    assert fused.spread[0, 1] == pytest.approx(0.025, abs=1e-6)  # mean of 0 and 5 cm
    plain = fuse_views([v1, v2], [R1, R2], method="mean")
    np.testing.assert_allclose(plain.world[0, 1], [0.025, 0, 0.5], atol=1e-6)


def test_median_fusion_ignores_one_wild_view():
    Rs = [quaternion_to_matrix(q) for q in ([1, 0, 0, 0], [0.9, 0.1, 0.3, 0.2], [0.5, -0.5, 0.5, 0.5])]
    truth = np.random.default_rng(0).normal(size=(4, 5, 3))
    views = [(truth @ R)[None] for R in Rs]
    views[2] = views[2] + 1.0  # one view far off
    fused = fuse_views(views, Rs, method="median")
    # the median of three with one outlier lies within the two good views' (here identical) values
    np.testing.assert_allclose(fused.world, truth, atol=1e-5)
    with pytest.raises(ValueError, match="fusion method"):
        fuse_views(views, Rs, method="max")
    with pytest.raises(ValueError, match="disagree"):
        fuse_views([views[0], views[1][:, :2]], Rs[:2])


def test_joint_sigmas_follow_coco_and_the_documented_derived_joints():
    s = dict(zip(HUMANEVA15.joints, joint_sigmas(HUMANEVA15)))
    assert s["left_wrist"] == 0.062 and s["right_knee"] == 0.087 and s["pelvis"] == 0.107
    assert s["thorax"] == 0.079 and s["head"] == 0.035
    np.testing.assert_allclose(joint_sigmas(COCO17), COCO17.oks_sigmas)


def _still_pose(frames=20000):
    pose = np.random.default_rng(1).uniform(0, 100, size=(15, 2))
    pose[0], pose[1] = [0, 0], [100, 200]  # a 100 x 200 box: person size sqrt(20000)
    return np.repeat(pose[None], frames, 0)


def test_jitter_has_the_oks_scaled_standard_deviation():
    kp = _still_pose()
    cfg = DetectorNoiseConfig(enabled=True, jitter=0.5, outlier_rate=0.0, swap_rate=0.0)
    noisy = detector_like(kp, HUMANEVA15, cfg, np.random.default_rng(0))
    d = (noisy - kp).astype(np.float64)
    size = np.sqrt(100 * 200)
    assert person_size(kp)[0] == pytest.approx(size)
    expected = 0.5 * 2 * joint_sigmas(HUMANEVA15) * size  # per axis
    np.testing.assert_allclose(d.std(axis=0)[:, 0], expected, rtol=0.03)
    np.testing.assert_allclose(d.std(axis=0)[:, 1], expected, rtol=0.03)
    assert np.abs(d.mean(axis=0)).max() < 0.05 * expected.max()


def test_outliers_and_swaps_happen_at_their_rates_and_noise_is_seeded():
    kp = _still_pose()
    swaps = DetectorNoiseConfig(enabled=True, jitter=0.0, outlier_rate=0.0, swap_rate=0.1)
    a = detector_like(kp, HUMANEVA15, swaps, np.random.default_rng(3))
    np.testing.assert_array_equal(a, detector_like(kp, HUMANEVA15, swaps, np.random.default_rng(3)))
    swapped = np.all(np.isclose(a, kp[:, HUMANEVA15.flip_permutation()], atol=1e-3), axis=(1, 2))
    assert np.all(swapped | np.all(np.isclose(a, kp, atol=1e-3), axis=(1, 2)))  # each frame swapped whole, or untouched
    assert swapped.mean() == pytest.approx(0.1, abs=0.01)

    outliers = DetectorNoiseConfig(enabled=True, jitter=0.0, outlier_rate=0.05, swap_rate=0.0)
    b = detector_like(kp, HUMANEVA15, outliers, np.random.default_rng(3))
    moved = np.linalg.norm(b - kp, axis=-1) > 1e-3  # (float32 output)
    assert moved.mean() == pytest.approx(0.05, abs=0.003)
    lo, hi = kp.min(axis=1)[0], kp.max(axis=1)[0]
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * outliers.outlier_box
    assert np.all(np.abs(b - centre) <= half + 1e-3)  # outliers stay in the grown box
    assert np.abs(b[moved] - centre).max() > 0.9 * half.min()  # ... and do reach across it


def test_noise_per_sequence_depends_on_its_key_only():
    kp = _still_pose(50)
    cfg = DetectorNoiseConfig(enabled=True, seed=7)
    one = noisy_sequences_2d([kp, kp], ["S1/Walk/0", "S1/Walk/1"], HUMANEVA15, cfg)
    again = noisy_sequences_2d([kp], ["S1/Walk/1"], HUMANEVA15, cfg)
    np.testing.assert_array_equal(one[1], again[0])
    assert not np.array_equal(one[0], one[1])


def _synthetic_unlabeled(tmp_path, frames=40):
    """Synthetic HumanEva-style S1 (three calibrated views): sequences, skeleton, and the unlabeled 75%."""
    from semipose.data.npz3d import load_sequences
    from semipose.data.splits import cut, split_labeled
    from semipose.data.synthetic import write_synthetic_humaneva

    root = write_synthetic_humaneva(tmp_path / "data", frames=frames, seed=1, subjects=("S1",), splits=("Train",))
    seqs, skel = load_sequences(
        root / "data_3d_humaneva15.npz", root / "data_2d_humaneva15_gt.npz", root / "cameras.json", ["Train/S1"]
    )
    _, unl_segs = split_labeled(seqs, 0.25, seed=0)
    return seqs, skel, unl_segs, cut(seqs, unl_segs)


def test_fused_pseudo_labels_agree_across_views_in_world_frame(tmp_path):
    import torch

    from semipose.lift.pseudo_labels import pseudo_label
    from semipose.lift.triangulated import view_groups
    from semipose.models.tcn import TCNConfig, build_tcn

    seqs, skel, unl_segs, unlabeled = _synthetic_unlabeled(tmp_path)
    groups = view_groups(seqs, unl_segs)
    assert all(len(g) == 3 for g in groups)  # three cameras show the same frames
    assert sorted(i for g in groups for i in g) == list(range(len(unlabeled)))
    torch.manual_seed(0)
    models = [build_tcn(TCNConfig([3, 3], channels=16), 15).eval() for _ in range(2)]
    mono, _ = pseudo_label(models, unlabeled, skel, flip=False)
    fused, unc = pseudo_label(models, unlabeled, skel, flip=False, fusion="mean", view_groups=groups)
    for g in groups:
        worlds = [fused[i] @ unlabeled[i].camera.R.T for i in g]
        for w in worlds[1:]:
            np.testing.assert_allclose(w, worlds[0], atol=1e-5)  # one pose, seen from three cameras
        # the fused pose is the mean of the views' monocular poses in world axes
        np.testing.assert_allclose(
            worlds[0], np.mean([mono[i] @ unlabeled[i].camera.R.T for i in g], axis=0), atol=1e-5
        )
        assert unc[g[0]].shape == (unlabeled[g[0]].num_frames,) and (unc[g[0]] > 0).all()
    assert not np.allclose(
        mono[groups[0][0]] @ unlabeled[groups[0][0]].camera.R.T,
        mono[groups[0][1]] @ unlabeled[groups[0][1]].camera.R.T,
        atol=1e-3,
    )


def test_load_split_applies_the_same_noise_to_every_split_and_method(tmp_path):
    from semipose.config import ConfigError
    from semipose.data.synthetic import write_synthetic_humaneva
    from semipose.lift.config import load_lift_config
    from semipose.lift.data import load_split

    root = write_synthetic_humaneva(tmp_path / "data", frames=40, seed=1)
    clean_cfg = load_lift_config(None, [f"data.root={root}"])
    noisy_cfg = load_lift_config(None, [f"data.root={root}", "data.noise.enabled=true", "data.noise.seed=3"])
    clean, _ = load_split(clean_cfg.data, ["Train/S1", "Validate/S1"])
    noisy, _ = load_split(noisy_cfg.data, ["Train/S1", "Validate/S1"])
    again, _ = load_split(noisy_cfg.data, ["Validate/S1"])  # another selection, same sequence noise
    assert not np.allclose(clean[0].keypoints_2d, noisy[0].keypoints_2d)
    by_key = {(s.subject, s.action, s.camera_index): s.keypoints_2d for s in noisy}
    for s in again:
        np.testing.assert_array_equal(s.keypoints_2d, by_key[(s.subject, s.action, s.camera_index)])
    np.testing.assert_array_equal(clean[0].positions_3d, noisy[0].positions_3d)  # the 3D stays true
    with pytest.raises(ConfigError, match=r"data.noise.swap_rate: 1.5 is not allowed; expected >= 0 and < 1"):
        load_lift_config(None, ["data.noise.swap_rate=1.5"])


def _pinhole(R, centre, f=800.0, c=(320.0, 240.0)):
    """3x4 projection of a camera with camera-to-world rotation R at world position ``centre``."""
    K = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1.0]])
    return K @ np.hstack([R.T, (-R.T @ np.asarray(centre))[:, None]])


def _project(P, X):
    x = np.concatenate([X, np.ones_like(X[..., :1])], -1) @ P.T
    return x[..., :2] / x[..., 2:]


def test_triangulation_recovers_points_from_two_hand_built_cameras():
    from semipose.methods.multiview import triangulate

    R1, R2 = _two_cameras()  # camera 1 looks along world +y, camera 2 along world -x
    P1, P2 = _pinhole(R1, [0, -4, 1]), _pinhole(R2, [4, 0, 1])
    X = np.array([[[0, 0, 1], [0.3, -0.2, 1.5], [-0.4, 0.1, 0.2]]])  # (T=1, J=3, 3) metres
    # by hand: camera 1 at (0, -4, 1) sees world (0, 0, 1) straight ahead at depth 4: the image centre
    np.testing.assert_allclose(_project(P1, X)[0, 0], [320, 240], atol=1e-9)
    tri = triangulate([_project(P1, X), _project(P2, X)], [P1, P2])
    np.testing.assert_allclose(tri.world, X, atol=1e-5)
    assert tri.residual.max() < 1e-3 and (tri.views_used == 2).all()


def test_triangulation_drops_one_wrong_view_of_three():
    from semipose.methods.multiview import triangulate

    R1, R2 = _two_cameras()
    Ps = [_pinhole(R1, [0, -4, 1]), _pinhole(R2, [4, 0, 1]), _pinhole(_rot_z(-90) @ R1, [-4, 0, 1])]
    X = np.array([[[0, 0, 1], [0.3, -0.2, 1.5]]])
    pts = [_project(P, X) for P in Ps]
    pts[2] = pts[2].copy()
    pts[2][0, 1] += [60.0, -40.0]  # view 3 misplaces joint 1 by 72 px (a detector's outlier)
    robust = triangulate(pts, Ps, outlier_px=20.0)
    np.testing.assert_allclose(robust.world, X, atol=1e-4)
    assert robust.views_used[0, 1] == 2 and robust.views_used[0, 0] == 3
    naive = triangulate(pts, Ps, outlier_px=None)
    assert np.linalg.norm(naive.world[0, 1] - X[0, 1]) > 0.01  # without the rule the outlier pulls it away
    assert naive.residual[0, 1] > 10


def test_triangulated_pseudo_labels_match_the_truth_on_exact_2d(tmp_path):
    from semipose.lift.triangulated import triangulated_labels, view_groups

    seqs, _, unl_segs, unlabeled = _synthetic_unlabeled(tmp_path)
    labels, unc = triangulated_labels(unlabeled, view_groups(seqs, unl_segs))
    for lab, x, u in zip(labels, unlabeled, unc):
        assert np.abs(lab - x.root_relative_3d()).max() < 2e-3  # synthetic 2D are exact pinhole projections
        assert u.shape == (x.num_frames,) and u.max() < 1e-3
    with pytest.raises(ValueError, match="two or more synchronized views"):
        triangulated_labels(unlabeled[:1], [[0]])


def test_smoothing_is_chosen_on_labeled_views_and_only_against_noise(tmp_path):
    import dataclasses

    from semipose.data.npz3d import load_sequences
    from semipose.data.synthetic import write_synthetic_humaneva
    from semipose.lift.triangulated import choose_smoothing, synchronized_groups

    root = write_synthetic_humaneva(tmp_path / "data", frames=80, seed=2, subjects=("S1",), splits=("Train",))
    seqs, skel = load_sequences(
        root / "data_3d_humaneva15.npz", root / "data_2d_humaneva15_gt.npz", root / "cameras.json", ["Train/S1"]
    )
    groups = synchronized_groups(seqs)
    assert groups and all(len(g) == 3 for g in groups)
    assert all(len({seqs[i].camera_index for i in g}) == 3 for g in groups)
    best, errors = choose_smoothing(seqs)
    assert best == 0.0 and errors["0"] < 2.0  # exact 2D: smoothing only blurs the motion
    keys = [f"{x.subject}/{x.action}/{x.camera_index}" for x in seqs]
    noise = DetectorNoiseConfig(enabled=True, jitter=0.5, outlier_rate=0.0, swap_rate=0.0, seed=3)
    noisy = [
        dataclasses.replace(x, keypoints_2d=kp)
        for x, kp in zip(seqs, noisy_sequences_2d([x.keypoints_2d for x in seqs], keys, skel, noise))
    ]
    best, errors = choose_smoothing(noisy)
    assert best > 0 and errors[f"{best:g}"] < 0.8 * errors["0"]  # i.i.d. per-frame noise averages out
