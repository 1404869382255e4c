"""Heatmap codec: the usual target formula, round trips, DARK, flip back."""

import numpy as np
import pytest

from semipose.codecs.heatmap import HeatmapCodec, flip_back
from semipose.skeletons import COCO17


def test_usual_target_formula():
    codec = HeatmapCodec((192, 256), (48, 64), sigma=2.0)
    kp = np.array([[50.0, 61.0], [10.0, 10.0], [500.0, 20.0], [-26.0, 5.0]])
    hm, w = codec.encode(kp, np.array([2, 0, 1, 1]))
    # joint 0: centre int(50/4 + 0.5) = 13, int(61/4 + 0.5) = 15
    assert hm[0].max() == pytest.approx(1.0) and hm[0][15, 13] == pytest.approx(1.0)
    assert hm[0][15, 14] == pytest.approx(np.exp(-1 / 8))  # one pixel off: exp(-1 / (2 sigma^2))
    assert hm[0][15, 13 + 7] == 0.0  # outside the 3-sigma square (radius 6)
    assert w.tolist() == [1.0, 0.0, 0.0, 1.0]  # invisible; outside the map; square still touches the map
    assert hm[1].max() == 0 and hm[2].max() == 0
    assert hm[3][1, 0] == pytest.approx(np.exp(-(36 + 0) / 8))  # centre (-6, 1): its square reaches column 0


@pytest.mark.parametrize(
    "unbiased,method,tolerance", [(False, "argmax", 0.5), (True, "argmax", 0.25), (True, "dark", 0.05)]
)
def test_round_trip_on_the_heatmap_grid(unbiased, method, tolerance):
    codec = HeatmapCodec((256, 256), (64, 64), sigma=2.0, unbiased=unbiased)
    rng = np.random.default_rng(0)
    kp = rng.uniform(24, 232, size=(200, 2))
    hm, w = codec.encode(kp, np.ones(len(kp)))
    dec, scores = codec.decode(hm, method)
    err = np.abs(dec - kp) / codec.stride  # in heatmap pixels
    assert err.max() <= tolerance + 1e-6
    assert (scores > 0.8).all()


def test_flip_back_recovers_the_original_frame():
    codec = HeatmapCodec((192, 256), (48, 64), sigma=2.0)
    rng = np.random.default_rng(1)
    kp = rng.uniform(20, 170, size=(17, 2))
    kp[:, 1] = rng.uniform(20, 230, size=17)
    mirrored = kp.copy()
    mirrored[:, 0] = 192 - 1 - kp[:, 0]
    mirrored = mirrored[COCO17.flip_permutation()]
    hm_flip, _ = codec.encode(mirrored, np.ones(17))
    back = flip_back(hm_flip, COCO17.flip_permutation())
    dec, _ = codec.decode(back)
    assert np.abs(dec - kp).max() <= codec.stride.max() * 1.0 + 1e-6  # within one heatmap pixel
    # averaging with the unflipped prediction keeps the joints where they are
    hm, _ = codec.encode(kp, np.ones(17))
    avg, _ = codec.decode((hm + back) / 2)
    assert np.abs(avg - kp).max() <= codec.stride.max() * 1.0 + 1e-6


def test_bad_method():
    with pytest.raises(ValueError, match="argmax or dark"):
        HeatmapCodec((64, 64), (16, 16)).decode(np.zeros((1, 16, 16)), "soft")


def test_encode_with_fractional_radius():
    """sigma 1.5 (radius 4.5): the Gaussian stays centred on the keypoint, also next to the border."""
    codec = HeatmapCodec((64, 64), (16, 16), sigma=1.5)
    for x, y in ((8 * 4.0, 8 * 4.0), (1 * 4.0, 14 * 4.0), (0.0, 0.0)):
        hm, w = codec.encode(np.array([[x, y]]), np.array([2]))
        assert w[0] == 1 and hm[0].max() == 1.0
        iy, ix = np.unravel_index(hm[0].argmax(), hm[0].shape)
        assert (ix, iy) == (int(x / 4 + 0.5), int(y / 4 + 0.5))
        assert abs(hm[0, iy, min(ix + 1, 15)] - np.exp(-1 / (2 * 1.5**2))) < 1e-6 or ix == 15


def test_decode_defaults_to_dark_for_an_unbiased_codec_and_the_data_config_chooses_it():
    from semipose.pose2d.config import Pose2DDataConfig
    from semipose.pose2d.data import make_codec

    kp = np.array([[101.3, 77.9], [40.6, 150.2]])
    for unbiased, method in ((False, "argmax"), (True, "dark")):
        codec = make_codec(Pose2DDataConfig(input_size=[192, 256], unbiased=unbiased))
        assert codec.unbiased is unbiased
        hm, _ = codec.encode(kp, np.ones(2))
        assert np.array_equal(codec.decode(hm)[0], codec.decode(hm, method)[0])
    assert np.abs(codec.decode(hm)[0] - kp).max() < 0.05 * 4  # unbiased + DARK: within 0.05 heatmap pixels
