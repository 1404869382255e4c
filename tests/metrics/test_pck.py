import numpy as np
import pytest

from semipose.metrics.pck import pck, pckh


def test_pck_hand_computed():
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[1.0, 0.0], [3.0, 0.0], [0.0, 10.0]]])
    boxes = np.array([[0, 0, 10, 5]])  # larger side 10 -> threshold 0.2 * 10 = 2 px
    out = pck(pred, gt, np.array([[1, 1, 0]]), boxes, alpha=0.2)
    assert out["per_joint"][:2].tolist() == [1.0, 0.0] and np.isnan(out["per_joint"][2])
    assert out["mean"] == pytest.approx(0.5)


def test_pckh_hand_computed():
    # two people, 16 MPII joints; head box diagonal 10 -> head size 6 -> threshold 3 px
    gt = np.zeros((2, 16, 2))
    pred = np.zeros((2, 16, 2))
    pred[0, 0] = [2.9, 0]  # within
    pred[1, 0] = [3.1, 0]  # outside
    pred[:, 6] = [100, 0]  # pelvis wrong, but left out of the mean
    pred[1, 9] = [0, 50]  # head top wrong, but not visible for person 1
    vis = np.ones((2, 16))
    vis[1, 9] = 0
    boxes = np.array([[[0, 0], [6, 8]], [[0, 0], [8, 6]]], dtype=float)
    out = pckh(pred, gt, vis, boxes)
    assert out["per_joint"][0] == pytest.approx(0.5) and out["per_joint"][6] == 0.0 and out["per_joint"][9] == 1.0
    # the mean over 14 joints weighted by visible counts: 27 hits of 28 visible... minus joint 0's miss
    counts = np.array([2] * 16, float)
    counts[9] = 1
    counts[[6, 7]] = 0
    hits = counts.copy()
    hits[0] = 1
    assert out["mean"] == pytest.approx(hits.sum() / counts.sum())


def test_shape_error():
    with pytest.raises(ValueError, match="expected"):
        pck(np.zeros((1, 3, 3)), np.zeros((1, 3, 3)), np.ones((1, 3)), np.ones((1, 4)))
