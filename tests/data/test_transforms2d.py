"""Affine views: points and crops agree, flips swap joints, heatmap warps between views round-trip."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from semipose.codecs.heatmap import HeatmapCodec
from semipose.data.transforms2d import (
    Augmentation,
    affine_matrix,
    crop,
    invert_affine,
    sample_view,
    transform_keypoints,
    view_to_view,
    warp_heatmaps,
    warp_points,
)
from semipose.skeletons import COCO17


def test_affine_maps_the_box_onto_the_crop():
    m = affine_matrix(np.array([100.0, 50.0]), np.array([40.0, 80.0]), 0.0, (64, 128))
    np.testing.assert_allclose(
        warp_points(np.array([[100.0, 50.0], [80.0, 10.0], [120.0, 90.0]]), m), [[32, 64], [0, 0], [64, 128]], atol=1e-5
    )
    r = affine_matrix(np.array([0.0, 0.0]), np.array([10.0, 10.0]), 90.0, (10, 10))
    # 90 degrees counter-clockwise in the image (y down): a point to the right moves up
    np.testing.assert_allclose(warp_points(np.array([[2.0, 0.0]]), r), [[5, 3]], atol=1e-5)
    np.testing.assert_allclose(
        warp_points(warp_points(np.array([[3.0, 4.0]]), r), invert_affine(r)), [[3, 4]], atol=1e-5
    )


def test_crop_moves_pixels_with_the_points():
    img = np.zeros((100, 120, 3), np.uint8)
    img[30, 40] = 255  # one white pixel at x=40, y=30
    rng = np.random.default_rng(0)
    for _ in range(5):
        view = sample_view(np.array([60.0, 50.0]), np.array([80.0, 80.0]), (64, 64), "affine60", rng)
        out = crop(Image.fromarray(img), view)
        where = np.unravel_index(out[0].argmax(), out[0].shape)
        expected = warp_points(np.array([[40.0, 30.0]]), view.matrix)[0]
        assert abs(where[1] - expected[0]) <= 1.0 and abs(where[0] - expected[1]) <= 1.0


def test_flipped_view_swaps_left_and_right():
    kp = np.zeros((17, 3), np.float32)
    kp[:, 2] = 2
    kp[5, :2] = [40, 50]  # left shoulder on the left of the image
    kp[6, :2] = [80, 50]
    view = sample_view(
        np.array([60.0, 50.0]), np.array([80.0, 80.0]), (64, 64), Augmentation(flip_prob=1.0), np.random.default_rng(0)
    )
    out = transform_keypoints(kp, view, COCO17.flip_permutation())
    assert view.flipped and out[5, 0] < out[6, 0]  # the new left shoulder is the old right one, mirrored


def test_weak_noflip_is_weak_without_the_mirror():
    from semipose.data.transforms2d import AUGMENTATIONS

    weak, noflip = AUGMENTATIONS["weak"], AUGMENTATIONS["weak_noflip"]
    assert noflip.flip_prob == 0 < weak.flip_prob and dataclasses.replace(weak, flip_prob=0.0) == noflip
    rng = np.random.default_rng(0)
    views = [sample_view(np.array([60.0, 50.0]), np.array([80.0, 80.0]), (64, 64), "weak_noflip", rng) for _ in range(200)]
    assert not any(v.flipped for v in views)


def test_heatmap_warp_between_views_round_trips():
    codec = HeatmapCodec((64, 64), (16, 16), sigma=1.5, unbiased=True)
    rng = np.random.default_rng(3)
    easy = sample_view(np.array([60.0, 60.0]), np.array([100.0, 100.0]), (64, 64), "none", rng)
    hard = sample_view(np.array([60.0, 60.0]), np.array([100.0, 100.0]), (64, 64), "affine30", rng)
    kp_img = np.array([[55.0, 52.0], [70.0, 65.0]])
    hm_easy, _ = codec.encode(warp_points(kp_img, easy.matrix), np.ones(2))
    to_hard = view_to_view(easy, hard, 4.0)
    warped = warp_heatmaps(torch.from_numpy(hm_easy)[None], to_hard)[0].numpy()
    dec, _ = codec.decode(warped, "dark")
    np.testing.assert_allclose(dec, warp_points(kp_img, hard.matrix), atol=1.0)  # input pixels
    back = warp_heatmaps(torch.from_numpy(warped)[None], view_to_view(hard, easy, 4.0))[0].numpy()
    dec_back, _ = codec.decode(back, "dark")
    np.testing.assert_allclose(dec_back, warp_points(kp_img, easy.matrix), atol=1.0)


def test_unknown_augmentation_name():
    with pytest.raises(KeyError):
        sample_view(np.zeros(2), np.ones(2), (8, 8), "no-such-set", np.random.default_rng(0))


def test_randaugment_is_photometric_and_seeded():
    from semipose.data.transforms2d import RANDAUGMENT_OPS, randaugment

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (3, 16, 16)).astype(np.float32)
    image[:, :8] *= 0.2  # a dark left half: photometric operations keep it on the left
    a = randaugment(image, np.random.default_rng(5), ops=2, magnitude=10)
    b = randaugment(image, np.random.default_rng(5), ops=2, magnitude=10)
    assert a.shape == image.shape and a.dtype == np.float32 and np.array_equal(a, b)
    assert a.min() >= 0.0 and a.max() <= 1.0
    for name, op in RANDAUGMENT_OPS.items():
        out = op(image, 0.3)
        assert out.shape == image.shape and out.min() >= -1e-6 and out.max() <= 1 + 1e-6, name
    # brightness by hand: blend towards black by 1 + 0.3 * 0.9
    assert np.allclose(RANDAUGMENT_OPS["brightness"](image, 0.3), np.clip(image * 1.27, 0, 1))
    changed = [randaugment(image, np.random.default_rng(s), 2, 30) for s in range(8)]
    assert any(not np.allclose(c, image) for c in changed)


def test_randaugment_geometric_operations_by_hand():
    from semipose.data.transforms2d import RANDAUGMENT_GEOMETRIC, warp_points

    w, h = 40, 20  # crop centre (20, 10)
    centre = np.array([[20.0, 10.0]])
    for name in ("rotate", "shear_x", "shear_y"):  # about the centre: the centre stays
        assert np.allclose(warp_points(centre, RANDAUGMENT_GEOMETRIC[name](0.5, w, h)), centre, atol=1e-5), name
    point = np.array([[30.0, 10.0]])  # 10 px right of the centre
    # magnitude 1 = 30 degrees; the crop's y axis points down, so a positive angle turns x towards -y
    expected = centre + 10 * np.array([[np.cos(np.pi / 6), -np.sin(np.pi / 6)]])
    assert np.allclose(warp_points(point, RANDAUGMENT_GEOMETRIC["rotate"](1.0, w, h)), expected, atol=1e-5)
    assert np.allclose(warp_points(np.array([[20.0, 20.0]]), RANDAUGMENT_GEOMETRIC["shear_x"](1.0, w, h)), [[23.0, 20.0]])
    assert np.allclose(warp_points(point, RANDAUGMENT_GEOMETRIC["shear_y"](-1.0, w, h)), [[30.0, 7.0]])
    assert np.allclose(warp_points(point, RANDAUGMENT_GEOMETRIC["translate_x"](0.5, w, h)), [[39.0, 10.0]])
    assert np.allclose(warp_points(point, RANDAUGMENT_GEOMETRIC["translate_y"](-0.5, w, h)), [[30.0, 5.5]])


def test_randaugment_view_moves_pixels_and_keypoints_together():
    """A bright dot lands in the RandAugmented crop where the composed view maps its image position."""
    from PIL import Image

    from semipose.data.transforms2d import crop, draw_randaugment, randaugment_view, warp_points

    pixels = np.zeros((120, 120, 3), np.uint8)
    dot = np.array([70.0, 48.0])
    pixels[47:50, 69:72] = 255  # a 3x3 dot centred at (70, 48)
    image = Image.fromarray(pixels)
    base = sample_view(np.array([60.0, 60.0]), np.array([80.0, 80.0]), (64, 64), "affine30", np.random.default_rng(1))
    moved = checked = 0
    for seed in range(12):
        draws = draw_randaugment(np.random.default_rng(seed), ops=2, magnitude=20)
        view = randaugment_view(base, draws)
        moved += not np.allclose(view.matrix, base.matrix)
        expected = warp_points(dot[None], view.matrix)[0]
        if not (4 <= expected[0] <= 59 and 4 <= expected[1] <= 59):
            continue  # moved out of the crop
        out = crop(image, view)[0]
        ys, xs = np.nonzero(out > 0.2)
        weights = out[ys, xs]
        found = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
        assert np.allclose(found, expected, atol=0.5), (draws, found, expected)
        checked += 1
    assert checked >= 6 and moved >= 6  # most draws of two operations out of 13 include a geometric one
    photometric_only = draw_randaugment(np.random.default_rng(0), ops=50, magnitude=20, geometric=False)
    assert np.array_equal(randaugment_view(base, photometric_only).matrix, base.matrix)


def test_half_body_of_joints_on_one_spot_keeps_the_person_box():
    # a weak teacher can put every pseudo-labeled joint on one pixel: that spans no box (scale 0 made the
    # crop divide by zero), so the person's own box stays
    from semipose.data.transforms2d import half_body

    kp = np.column_stack([np.full((17, 2), 30.0), np.full(17, 2.0)])
    assert half_body(kp, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], np.random.default_rng(0), 0.75) is None
    kp[:, 0] += np.arange(17)  # spread out: a real box again
    center, scale = half_body(kp, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], np.random.default_rng(0), 0.75)
    assert np.all(scale > 0) and np.all(np.isfinite(center))


def test_beta_draws_stay_in_range_and_favour_the_extremes():
    from semipose.data.transforms2d import AUGMENTATIONS, Augmentation

    rng = np.random.default_rng(0)
    uniform = np.array([Augmentation(rotation=60).draw(rng, -60, 60) for _ in range(4000)]) / 60
    beta = np.array([AUGMENTATIONS["affine60_beta"].draw(rng, -60, 60) for _ in range(4000)]) / 60
    assert np.abs(beta).max() <= 1 and np.abs(uniform).max() <= 1
    # E|x| over [-1, 1]: 1/2 for the uniform, 2/pi for Beta(1/2, 1/2) stretched (the arcsine law)
    assert abs(np.abs(uniform).mean() - 0.5) < 0.02 and abs(np.abs(beta).mean() - 2 / np.pi) < 0.02
