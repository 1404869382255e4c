import numpy as np
import pytest

from semipose.metrics.mpjpe import evaluate_sequences, mpjpe, mpjve, n_mpjpe, p_mpjpe, procrustes_align


def _pose(rng, frames=5, joints=15):
    return rng.normal(size=(frames, joints, 3))


def _rotation(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_mpjpe_hand_computed():
    target = np.zeros((1, 2, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]])
    assert mpjpe(pred, target) == pytest.approx((5.0 + 1.0) / 2)


def test_p_mpjpe_two_joints_aligns_exactly():
    target = np.array([[[0.0, 0, 0], [2, 0, 0]]])
    pred = np.array([[[0.0, 0, 0], [0, 1, 0]]])
    assert mpjpe(pred, target) == pytest.approx((0 + np.sqrt(5)) / 2)
    assert p_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-9)


def test_p_mpjpe_invariant_to_similarity_transform():
    rng = np.random.default_rng(0)
    target = _pose(rng)
    pred = 1.7 * target @ _rotation(rng).T + np.array([0.3, -2.0, 5.0])
    assert mpjpe(pred, target) > 1.0
    assert p_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-9)


def test_p_mpjpe_never_reflects():
    rng = np.random.default_rng(1)
    target = _pose(rng, frames=3)
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    aligned = procrustes_align(mirrored, target)
    # A reflection would fit exactly; a proper rotation cannot.
    assert p_mpjpe(mirrored, target) > 0.1
    for f in range(3):
        a, t = aligned[f] - aligned[f].mean(0), mirrored[f] - mirrored[f].mean(0)
        M = np.linalg.lstsq(t, a, rcond=None)[0]
        assert np.linalg.det(M) > 0


def test_p_mpjpe_not_above_mpjpe():
    rng = np.random.default_rng(2)
    target, pred = _pose(rng), _pose(rng)
    assert p_mpjpe(pred, target) <= mpjpe(pred, target) + 1e-12


def test_n_mpjpe_hand_computed():
    target = np.array([[[1.0, 0, 0], [0, 1, 0]]])
    pred = np.array([[[1.0, 0, 0], [0, 0, 1]]])
    # scale = <p,t>/<p,p> = 1/2 -> pred (0.5,0,0),(0,0,0.5)
    assert n_mpjpe(pred, target) == pytest.approx((0.5 + np.sqrt(1.25)) / 2)
    assert n_mpjpe(2.0 * target, target) == pytest.approx(0.0)


def test_mpjve_hand_computed():
    target = np.zeros((4, 2, 3))
    pred = np.zeros((4, 2, 3))
    pred[:, :, 0] = np.arange(4)[:, None]  # moves 1 unit a frame along x
    assert mpjve(pred, target) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mpjve(pred[:1], target[:1])


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        mpjpe(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))


def test_report_is_frame_weighted_per_cell_then_mean_of_cells():
    t1, t2, t3 = np.zeros((1, 1, 3)), np.zeros((3, 1, 3)), np.zeros((2, 1, 3))
    p1 = t1 + [0.001, 0, 0]  # 1 mm
    p2 = t2 + [0.002, 0, 0]  # 2 mm
    p3 = t3 + [0.010, 0, 0]  # 10 mm
    out = evaluate_sequences([p1, p2, p3], [t1, t2, t3], ["S1", "S1", "S2"], ["Walk", "Walk", "Walk"])
    cells = {(r["subject"]): r for r in out["cells"]}
    assert cells["S1"]["mpjpe_mm"] == pytest.approx((1 * 1 + 2 * 3) / 4)
    assert cells["S2"]["mpjpe_mm"] == pytest.approx(10.0)
    assert out["mpjpe_mm"] == pytest.approx((1.75 + 10.0) / 2)
    assert out["frame_weighted"]["mpjpe_mm"] == pytest.approx((1 + 6 + 20) / 6)
    assert out["frames"] == 6
