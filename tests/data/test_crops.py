"""Person crops and semi-supervised batches on a hand-made image: targets where the keypoints are, the
normalisation, and what each kind of unlabeled half holds."""

import numpy as np
import pytest
from helpers import person_crops

from semipose.codecs.heatmap import HeatmapCodec
from semipose.data.crops import IMAGENET_MEAN, IMAGENET_STD, CropDataset, SemiBatches, UnlabeledViews
from semipose.data.errors import DataError
from semipose.skeletons import COCO17


def test_crop_targets_peak_at_the_keypoints_and_images_are_normalised(tmp_path):
    codec = HeatmapCodec((64, 64), (16, 16), 1.0)
    data = CropDataset(person_crops(tmp_path, 1), COCO17, codec, "none")
    view = data.view(0, np.random.default_rng(0))
    image, heatmaps, weights = data.sample(0, view)
    # centre (50, 40) and scale 64 onto a 64x64 input: a shift by (-18, -8); heatmap pixels are 4 input pixels
    assert np.allclose(view.matrix, [[1, 0, -18], [0, 1, -8]], atol=1e-5)
    assert np.unravel_index(heatmaps[0].argmax(), heatmaps[0].shape) == (3, 8)  # (32, 12) / 4
    assert np.unravel_index(heatmaps[15].argmax(), heatmaps[15].shape) == (13, 6)  # (22, 52) / 4, rounded
    assert weights[0] == 1 and weights[15] == 1 and weights[16] == 0 and heatmaps[16].max() == 0
    white = ((1.0 - IMAGENET_MEAN) / IMAGENET_STD).ravel()
    assert image.shape == (3, 64, 64) and np.allclose(image[:, 32, 32], white, atol=1e-5)


def test_a_dataset_without_people_names_the_problem():
    with pytest.raises(DataError, match="no person instances"):
        CropDataset([], COCO17, HeatmapCodec((64, 64), (16, 16)), "none")


@pytest.mark.parametrize("kind", ["none", "views", "multi_view", "pseudo"])
def test_semi_batches_hold_what_the_unlabeled_views_ask_for(tmp_path, kind):
    codec = HeatmapCodec((64, 64), (16, 16), 1.0)
    labeled = CropDataset(person_crops(tmp_path, 2), COCO17, codec, "weak")
    unlabeled = CropDataset(person_crops(tmp_path, 5), COCO17, codec, "none")
    views = {
        "none": UnlabeledViews(),
        "views": UnlabeledViews("views", easy="none", hard="none"),
        "multi_view": UnlabeledViews("views", "none", "affine60", multi_view=True, weak_views=2, strong_views=1,
                                     strong="affine60"),
        "pseudo": UnlabeledViews("pseudo"),
    }[kind]  # fmt: skip
    batches = list(SemiBatches(labeled, unlabeled, views, 2, pseudo=unlabeled)(0, np.random.default_rng(0)))
    assert len(batches) == 2  # 5 unlabeled in batches of 2: the lone fifth is dropped (BatchNorm)
    images, targets, weights = batches[0]["labeled"]
    assert images.shape == (2, 3, 64, 64) and targets.shape == (2, 17, 16, 16) and weights.shape == (2, 17)
    if kind == "none":
        assert "unlabeled" not in batches[0]
        return
    u = batches[0]["unlabeled"]
    if kind == "pseudo":
        assert set(u) == {"hard", "targets", "target_weights"} and u["targets"].shape == (2, 17, 16, 16)
        return
    assert u["easy"].shape == u["hard"].shape == (2, 3, 64, 64) and u["easy_to_hard"].shape == (2, 2, 3)
    if kind == "views":  # two unaugmented views of a person: the same crop, the identity between them
        assert "views" not in u and np.allclose(u["easy"], u["hard"])
        assert np.allclose(u["easy_to_hard"], np.eye(3)[:2], atol=1e-5)
    else:  # the easy view first, one more weak and one strong
        assert u["views"].shape == (3, 2, 3, 64, 64) and u["views_to_hard"].shape == (3, 2, 2, 3)
        assert np.array_equal(u["views"][0], u["easy"]) and np.array_equal(u["views_to_hard"][0], u["easy_to_hard"])


def test_pseudo_batches_need_the_pseudo_labeled_people(tmp_path):
    codec = HeatmapCodec((64, 64), (16, 16))
    people = CropDataset(person_crops(tmp_path, 2), COCO17, codec, "none")
    with pytest.raises(ValueError, match="pseudo-labeled people"):
        SemiBatches(people, people, UnlabeledViews("pseudo"), 2)
