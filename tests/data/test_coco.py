"""COCO-format readers on real files, the box-to-centre/scale rule and clear errors on bad input."""

import json
import shutil

import numpy as np
import pytest

from semipose.data.coco import box_to_center_scale, load_coco_keypoints
from semipose.data.errors import DataError


def _coco(shared_data, split):
    root = shared_data / "coco_mini"
    return root / "annotations" / f"person_keypoints_{split}.json", root / split


def test_real_coco_mini(shared_data):
    ann, images = _coco(shared_data, "val2017")
    train, skel, doc = load_coco_keypoints(ann, images)
    every, _, _ = load_coco_keypoints(ann, images, training=False)
    assert skel.name == "coco17" and len(every) == len(doc["annotations"]) == 93
    kept = [a for a in doc["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0]
    assert len(train) == len(kept) == 68
    assert all(p.image_path.is_file() for p in train)


def test_other_datasets_bring_their_own_skeleton(shared_data):
    fix = shared_data / "mmpose_fixtures" / "crowdpose"
    inst, skel, _ = load_coco_keypoints(fix / "test_crowdpose.json", fix)
    assert skel.num_joints == 14 and inst[0].keypoints.shape == (14, 3)
    assert len(skel.joints_left) == 6 and all(max(link) < 14 for link in skel.links)


def test_center_and_scale():
    c, s = box_to_center_scale(np.array([10, 20, 30, 80]), aspect_ratio=0.75, padding=1.25)
    np.testing.assert_allclose(c, [25, 60])
    np.testing.assert_allclose(s, [60 * 1.25, 80 * 1.25])  # width grown to 0.75 * 80
    c, s = box_to_center_scale(np.array([0, 0, 100, 40]), aspect_ratio=0.75, padding=1.0)
    np.testing.assert_allclose(s, [100, 100 / 0.75])


@pytest.fixture
def copy(shared_data, tmp_path):
    ann, images = _coco(shared_data, "val2017")
    doc = json.loads(ann.read_text())
    img_dir = tmp_path / "images"
    shutil.copytree(images, img_dir)
    return doc, tmp_path / "ann.json", img_dir


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def test_malformed_json(copy):
    doc, path, img = copy
    path.write_text("{not json")
    with pytest.raises(DataError, match="ann.json: not valid JSON"):
        load_coco_keypoints(path, img)
    del doc["annotations"]
    with pytest.raises(DataError, match="missing list 'annotations'"):
        load_coco_keypoints(_write(path, doc), img)


def test_missing_image(copy):
    doc, path, img = copy
    a = next(a for a in doc["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"])
    name = next(i["file_name"] for i in doc["images"] if i["id"] == a["image_id"])
    (img / name).unlink()
    with pytest.raises(DataError, match=f"image file .*{name} not found"):
        load_coco_keypoints(_write(path, doc), img)


def test_out_of_range_and_malformed_keypoints(copy):
    doc, path, img = copy
    a = next(a for a in doc["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"])
    j = next(i for i in range(17) if a["keypoints"][3 * i + 2] > 0)
    a["keypoints"][3 * j] = -40.0
    with pytest.raises(DataError, match=rf"annotation {a['id']}: keypoint {j} .* lies outside"):
        load_coco_keypoints(_write(path, doc), img)
    a["keypoints"] = a["keypoints"][:-3]
    with pytest.raises(DataError, match="'keypoints' has 48 numbers, expected 51"):
        load_coco_keypoints(_write(path, doc), img)


def test_mpii_fixture(shared_data, tmp_path):
    from semipose.data.coco import load_mpii

    fix = shared_data / "mmpose_fixtures" / "mpii"
    people = load_mpii(fix / "test_mpii.json", fix)
    raw = json.loads((fix / "test_mpii.json").read_text())
    assert len(people) == len(raw) == 5
    p, r = people[0], raw[0]
    np.testing.assert_allclose(p.center, [r["center"][0] - 1, r["center"][1] + 15 * r["scale"] - 1], rtol=1e-5)
    np.testing.assert_allclose(p.keypoints[:, :2], r["joints"])
    assert set(p.keypoints[:, 2].tolist()) <= {0.0, 2.0}
    bad = dict(raw[0])
    del bad["joints_vis"]
    (tmp_path / "m.json").write_text(json.dumps([bad]))
    with pytest.raises(DataError, match="entry 0 lacks 'joints_vis'"):
        load_mpii(tmp_path / "m.json", fix)
