"""Our COCO keypoint AP/AR against pycocotools on real COCO annotations and perturbed detections."""

import json

import numpy as np
import pycocotools  # noqa: F401 - in the test extra: missing it is a failure, not a skip
import pytest

from semipose.metrics.coco import (
    coco_keypoint_eval,
    keypoint_similarities,
    oks,
    oks_matrix,
    oks_tolerance,
    pycocotools_keypoint_eval,
)


def _gt(shared_data, split="val2017"):
    return json.loads((shared_data / "coco_mini" / "annotations" / f"person_keypoints_{split}.json").read_text())


def _detections(gt, noise, rng, drop=0.0, extra=0):
    out = []
    for a in gt["annotations"]:
        if a["num_keypoints"] == 0 or rng.random() < drop:
            continue
        kp = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)
        scale = np.sqrt(a["area"]) * noise
        xy = kp[:, :2] + rng.normal(size=(len(kp), 2)) * scale
        missing = kp[:, 2] == 0  # unlabeled joints: guess around the box centre
        x, y, w, h = a["bbox"]
        xy[missing] = [x + w / 2, y + h / 2] + rng.normal(size=(int(missing.sum()), 2)) * w / 4
        out.append(
            {
                "image_id": a["image_id"],
                "category_id": 1,
                "keypoints": np.column_stack([xy, np.ones(len(kp))]).ravel().round(2).tolist(),
                "score": float(rng.uniform(0.3, 1.0)),
            }
        )
    for _ in range(extra):  # false positives
        im = gt["images"][int(rng.integers(len(gt["images"])))]
        xy = rng.uniform([0, 0], [im["width"], im["height"]], size=(17, 2))
        out.append(
            {
                "image_id": im["id"],
                "category_id": 1,
                "keypoints": np.column_stack([xy, np.ones(17)]).ravel().round(2).tolist(),
                "score": float(rng.uniform(0.0, 0.6)),
            }
        )
    return out


@pytest.mark.parametrize("split", ["val2017", "train2017"])
@pytest.mark.parametrize(
    "noise,drop,extra", [(0.0, 0.0, 0), (0.02, 0.0, 0), (0.05, 0.1, 5), (0.1, 0.3, 20), (0.3, 0.0, 10)]
)
def test_equals_pycocotools(shared_data, split, noise, drop, extra):
    gt = _gt(shared_data, split)
    dets = _detections(gt, noise, np.random.default_rng(int(noise * 100) + extra), drop, extra)
    ours = coco_keypoint_eval(gt, dets)
    ref = pycocotools_keypoint_eval(gt, dets)
    for k in ref:
        assert ours[k] == pytest.approx(ref[k], abs=1e-4), k
    if noise == 0.0:
        assert ours["AP"] == pytest.approx(1.0)


def test_crowd_and_empty_annotations_are_present_and_ignored(shared_data):
    gt = _gt(shared_data)
    assert any(a["iscrowd"] for a in gt["annotations"]) or any(a["num_keypoints"] == 0 for a in gt["annotations"])
    dets = _detections(gt, 0.0, np.random.default_rng(0))
    assert coco_keypoint_eval(gt, dets)["AR"] == pytest.approx(1.0)


def test_oks_hand_computed():
    sigmas = np.array([0.1, 0.1])
    gt = {"keypoints": [0, 0, 2, 10, 0, 2], "bbox": [0, 0, 10, 10], "area": 100.0}
    dt = {"keypoints": [3, 4, 1, 10, 0, 1]}
    # joint 0 off by 5 px: e = 25 / (0.2^2) / 100 / 2 = 3.125; joint 1 exact
    assert oks_matrix([dt], [gt], sigmas)[0, 0] == pytest.approx((np.exp(-3.125) + 1) / 2)


def test_keypoint_similarities_and_tolerance_by_hand():
    # one person of area 100 (s = 10), sigmas 0.1 and 0.05: 2 sigma s = 2 and 1 pixels
    sigmas = np.array([0.1, 0.05, 0.1])
    gt = np.array([[[0.0, 0.0, 2], [10.0, 10.0, 1], [5.0, 5.0, 0]]])
    pred = np.array([[[2.0, 0.0], [10.0, 11.0], [50.0, 50.0]]])
    ks = keypoint_similarities(pred, gt, np.array([100.0]), sigmas)
    # d^2 / (2 * (2 sigma s)^2): 4 / 8 and 1 / 2, both exp(-0.5); the unlabeled joint is NaN
    assert ks[0, :2] == pytest.approx([np.exp(-0.5), np.exp(-0.5)]) and np.isnan(ks[0, 2])
    assert np.nanmean(ks) == pytest.approx(oks(pred[0, :2], gt[0, :2, :2], 100.0, sigmas[:2]))
    tol = oks_tolerance(100.0, sigmas)  # sqrt(2 ln 2) = 1.1774 times 2 sigma s
    assert tol == pytest.approx([2.3548, 1.1774, 2.3548], abs=1e-4)
    at = keypoint_similarities(np.array([[[tol[0], 0.0]]]), gt[:, :1], np.array([100.0]), sigmas[:1])
    assert at[0, 0] == pytest.approx(0.5)


def test_unknown_image_is_an_error(shared_data):
    gt = _gt(shared_data)
    with pytest.raises(ValueError, match="image_id 123456789 is not in the ground truth"):
        coco_keypoint_eval(gt, [{"image_id": 123456789, "category_id": 1, "keypoints": [0] * 51, "score": 1.0}])


def test_noisy_ground_truth_scores_one_without_noise_and_less_with_it(shared_data):
    import json

    from semipose.metrics.coco import coco_keypoint_eval, noisy_ground_truth

    doc = json.loads((shared_data / "coco_mini" / "annotations" / "person_keypoints_val2017.json").read_text())
    ap = [coco_keypoint_eval(doc, noisy_ground_truth(doc, s, np.random.default_rng(0)))["AP"] for s in (0, 2, 8)]
    assert ap[0] == 1.0 and ap[0] > ap[1] > ap[2]
