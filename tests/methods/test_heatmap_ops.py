"""The semi-supervised 2D operations against hand-computed cases."""

import math

import numpy as np
import torch

from semipose.codecs.heatmap import HeatmapCodec, gaussian_heatmaps
from semipose.data.transforms2d import View, affine_matrix, view_to_view, warp_heatmaps
from semipose.methods.heatmap_ops import (
    aggregate_views,
    apply_cutout,
    cutout_boxes,
    heatmap_loss,
    max_response,
    mirror_weights,
    select_targets,
    sharpen_heatmaps,
    subpixel_argmax,
    threshold_and_refine,
    view_uncertainty,
)


def test_max_aggregation_and_uncertainty_by_hand():
    a = torch.zeros(1, 1, 2, 2)
    b = torch.zeros(1, 1, 2, 2)
    a[0, 0, 0, 0], b[0, 0, 0, 0], b[0, 0, 1, 1] = 0.8, 0.2, 0.6
    views = torch.stack([a, b])
    assert torch.allclose(aggregate_views(views, "max")[0, 0], torch.tensor([[0.8, 0.0], [0.0, 0.6]]))
    assert torch.allclose(aggregate_views(views, "mean")[0, 0], torch.tensor([[0.5, 0.0], [0.0, 0.3]]))
    # population std per pixel: |0.8 - 0.2| / 2 = 0.3 and |0 - 0.6| / 2 = 0.3; the maximum is 0.3
    assert math.isclose(float(view_uncertainty(views)[0, 0]), 0.3, rel_tol=1e-6)
    assert float(view_uncertainty(views[:1])[0, 0]) == 0.0


def test_threshold_and_refine_by_hand():
    hm = torch.zeros(1, 2, 5, 5)
    hm[0, 0, 1, 3] = 0.3  # above tau: refined to a Gaussian of peak 1 at x=3, y=1
    hm[0, 1, 2, 2] = 0.05  # below tau: dropped
    target, w = threshold_and_refine(hm, tau=0.1, refine=True, sigma=1.0)
    assert w.tolist() == [[1.0, 0.0]]
    assert target[0, 0, 1, 3] == 1.0 and math.isclose(float(target[0, 0, 1, 4]), math.exp(-0.5), rel_tol=1e-6)
    assert math.isclose(float(target[0, 0, 2, 2]), math.exp(-2 / 2), rel_tol=1e-6)  # dx=1, dy=1
    assert torch.equal(target[0, 1], hm[0, 1])  # not refined
    raw, w0 = threshold_and_refine(hm, tau=0.1, refine=False, sigma=1.0)
    assert torch.equal(raw, hm) and w0.tolist() == [[1.0, 0.0]]
    assert threshold_and_refine(hm, tau=0.0, refine=False, sigma=1.0)[1].tolist() == [[1.0, 1.0]]


def test_subpixel_maximum_and_sharpening_by_hand():
    hm = torch.zeros(1, 3, 6, 6)
    hm[0, 0, 3, 2], hm[0, 0, 3, 3], hm[0, 0, 2, 2] = 0.8, 0.5, 0.1  # right neighbour and upper one higher
    hm[0, 1, 0, 4] = 0.9  # on the border: no shift
    hm[0, 2, 2, 3] = 0.7  # neighbours equal: no shift
    xy = subpixel_argmax(hm)
    assert xy.tolist() == [[[2.25, 2.75], [4.0, 0.0], [3.0, 2.0]]]
    sharp = sharpen_heatmaps(hm, sigma=1.0, subpixel=True)
    # a Gaussian of sigma 1 centred at (2.25, 2.75): at pixel (2, 3) both offsets are 0.25
    assert math.isclose(float(sharp[0, 0, 3, 2]), math.exp(-(0.25**2 + 0.25**2) / 2), rel_tol=1e-6)
    assert float(sharp[0, 1, 0, 4]) == 1.0 and float(sharp[0, 2, 2, 3]) == 1.0
    # the codec's argmax decoding reads the redrawn heatmap where it read the original one
    codec = HeatmapCodec((24, 24), (6, 6), sigma=1.0)
    for k in range(3):
        assert np.allclose(codec.decode(sharp[0].numpy())[0][k], codec.decode(hm[0].numpy())[0][k])
    assert sharpen_heatmaps(hm, sigma=1.0)[0, 0, 3, 2] == 1.0  # without subpixel: at the maximum pixel


def test_mirror_weights_drop_pairs_on_one_spot_by_hand():
    # joints: 0 nose (its own mirror), 1 left and 2 right wrist, 3 left and 4 right knee
    perm = torch.tensor([0, 2, 1, 4, 3])
    hm = torch.zeros(1, 5, 8, 8)
    peaks = [(4, 4), (1, 1), (2, 2), (1, 6), (6, 6)]  # (x, y): wrists 1.41 px apart, knees 5 px apart
    for j, (x, y) in enumerate(peaks):
        hm[0, j, y, x] = 1.0
    assert mirror_weights(hm, perm, radius=1.5).tolist() == [[1.0, 0.0, 0.0, 1.0, 1.0]]
    assert mirror_weights(hm, perm, radius=5.0).tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]
    assert mirror_weights(hm, perm, radius=1.0).tolist() == [[1.0] * 5]


def test_selection_rule_by_hand():
    own, other = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    u_own, u_other = torch.tensor([[0.1, 0.25, 0.5]]), torch.tensor([[0.3, 0.3, 0.2]])
    # margin 0.1: joint 0 (0.1 < 0.3 - 0.1) keeps its own; joint 1 (0.25 not < 0.2) and joint 2 take the other's
    targets, weights, kept = select_targets(
        own, other, u_own, u_other, 0.1, torch.tensor([[1.0, 1.0, 1.0]]), torch.tensor([[0.0, 1.0, 1.0]])
    )
    assert kept.tolist() == [[True, False, False]]
    assert [float(targets[0, j, 0, 0]) for j in range(3)] == [0.0, 1.0, 1.0]
    assert weights.tolist() == [[1.0, 1.0, 1.0]]
    _, _, kept0 = select_targets(own, other, u_own, u_other, 0.0)
    assert kept0.tolist() == [[True, True, False]]


def test_joint_cutout_boxes_land_where_asked_and_stay_inside():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[[30.0, 40.0], [5.0, 5.0], [60.0, 20.0]]])
    boxes = cutout_boxes(centers, (64, 48), g, num_joints=3, half_size=(4.0, 4.0), jitter=0.0)
    got = sorted(boxes[0].tolist())
    # no jitter, half-size 4: boxes [c - 4, c + 4) clipped to width 64 (x) and height 48 (y)
    assert got == sorted([[26, 36, 34, 44], [1, 1, 9, 9], [56, 16, 64, 24]])
    # a wide, short image: x clips at the width, y at the height (not the other way round)
    wide = cutout_boxes(torch.tensor([[[95.0, 18.0]]]), (100, 20), g, 1, (10.0, 10.0), 0.0)
    assert wide[0, 0].tolist() == [85, 8, 100, 20]
    many = cutout_boxes(torch.rand(50, 17, 2) * 64, (64, 48), g, 5, (10.0, 20.0), 10.0)
    assert many.shape == (50, 5, 4)
    assert (
        (many[..., 0] >= 0).all()
        and (many[..., 2] <= 64).all()
        and (many[..., 1] >= 0).all()
        and (many[..., 3] <= 48).all()
        and (many[..., 2] >= many[..., 0]).all()
    )
    img = torch.ones(1, 3, 48, 64)
    cut = apply_cutout(img, boxes)
    assert cut[0, :, 40, 30].tolist() == [0.0, 0.0, 0.0] and cut[0, 0, 0, 0] == 1.0 and img.min() == 1.0
    assert int((cut[0, 0] == 0).sum()) == 3 * 64


def test_heatmap_warp_between_views_round_trips():
    center, scale = np.array([50.0, 60.0]), np.array([80.0, 80.0])
    a = View(affine_matrix(center, scale, 0.0, (64, 64)), False, (64, 64))
    b = View(affine_matrix(center, scale * 0.9, 25.0, (64, 64)), False, (64, 64))
    hm = gaussian_heatmaps(torch.tensor([[[8.0, 7.0]]], dtype=torch.float64), (16, 16), 1.5)
    ab = torch.from_numpy(view_to_view(a, b, 4.0))
    ba = torch.from_numpy(view_to_view(b, a, 4.0))
    there = warp_heatmaps(hm, ab)
    back = warp_heatmaps(there, ba)
    peak = np.unravel_index(int(back[0, 0].argmax()), (16, 16))
    assert peak == (7, 8)  # row y = 7, column x = 8
    assert float((back - hm)[..., 3:13, 3:13].abs().max()) < 0.15
    # the warped peak sits where the point maps
    p = ab.numpy() @ np.array([8.0, 7.0, 1.0])
    q = np.unravel_index(int(there[0, 0].argmax()), (16, 16))
    assert abs(q[1] - p[0]) <= 1 and abs(q[0] - p[1]) <= 1
    assert float(max_response(there)) > 0.7


def test_heatmap_loss_weights_joints():
    pred = torch.zeros(1, 2, 2, 4, 4)
    target = torch.ones(1, 2, 4, 4)
    # two stacks, joint 1 weighted out: 0.5 * mean over (2 stacks x 2 joints x 16) of [1 for joint 0] x 2 stacks
    assert float(heatmap_loss(pred, target, torch.tensor([[1.0, 0.0]]))) == 0.5 * 0.5 * 2
