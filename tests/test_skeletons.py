import numpy as np
import pytest

from semipose.skeletons import (
    COCO17,
    H36M17,
    HUMANEVA15,
    MPII16,
    SKELETONS,
    convert_joints,
    get_skeleton,
    joint_mapping,
)


def test_humaneva_matches_the_data_metadata():
    assert HUMANEVA15.parents == (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1)
    assert [list(HUMANEVA15.joints_left), list(HUMANEVA15.joints_right)] == [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]


@pytest.mark.parametrize("skel", list(SKELETONS.values()))
def test_tree_and_symmetry_are_consistent(skel):
    roots = [j for j, p in enumerate(skel.parents) if p == -1]
    assert len(roots) == 1
    for j in range(skel.num_joints):  # every joint reaches the root
        seen = set()
        while j != -1:
            assert j not in seen
            seen.add(j)
            j = skel.parents[j]
    perm = skel.flip_permutation()
    assert sorted(perm) == list(range(skel.num_joints)) and (perm[perm] == np.arange(skel.num_joints)).all()
    for left, right in zip(skel.joints_left, skel.joints_right):
        assert skel.joints[left].replace("left_", "") == skel.joints[right].replace("right_", "")


def test_coco_sigmas_are_pycocotools():
    assert COCO17.oks_sigmas[0] == pytest.approx(0.026) and COCO17.oks_sigmas[11] == pytest.approx(0.107)
    assert len(COCO17.links) == 19


def test_mapping_between_layouts():
    src, dst = joint_mapping(HUMANEVA15, H36M17)
    pairs = {HUMANEVA15.joints[s]: H36M17.joints[d] for s, d in zip(src, dst)}
    assert pairs["left_wrist"] == "left_wrist" and pairs["pelvis"] == "pelvis"
    assert len(pairs) == 15  # every HumanEva joint has a Human3.6M counterpart
    s, d = joint_mapping("coco17", "mpii16")
    assert len(s) == 12  # the limbs
    x = np.arange(15 * 2, dtype=np.float32).reshape(15, 2)
    y = convert_joints(x, HUMANEVA15, MPII16)
    assert y.shape == (16, 2)
    np.testing.assert_array_equal(y[MPII16.index("left_knee")], x[HUMANEVA15.index("left_knee")])
    assert np.isnan(y[MPII16.index("head_top")]).all()
    with pytest.raises(ValueError, match="unknown skeleton"):
        get_skeleton("smpl")


def test_coco17_to_h36m17_and_humaneva15_by_hand():
    from semipose.skeletons import COCO17, H36M17, HUMANEVA15, convert_layout

    kp = np.arange(17 * 2, dtype=np.float32).reshape(17, 2)  # joint k at (2k, 2k + 1)
    c = {n: kp[i] for i, n in enumerate(COCO17.joints)}
    h = dict(zip(H36M17.joints, convert_layout(kp, "coco17", "h36m17")))
    np.testing.assert_allclose(h["pelvis"], (c["left_hip"] + c["right_hip"]) / 2)
    np.testing.assert_allclose(h["thorax"], (c["left_shoulder"] + c["right_shoulder"]) / 2)
    np.testing.assert_allclose(h["spine"], (h["pelvis"] + h["thorax"]) / 2)
    np.testing.assert_allclose(h["neck"], c["nose"])
    np.testing.assert_allclose(h["head"], (c["left_eye"] + c["right_eye"]) / 2)
    np.testing.assert_allclose(h["right_knee"], c["right_knee"])
    e = convert_layout(kp, COCO17, HUMANEVA15)
    assert e.shape == (15, 2) and np.allclose(e[HUMANEVA15.index("left_wrist")], c["left_wrist"])
    # a derived joint is missing where a joint it is made from is
    kp[COCO17.index("left_hip")] = np.nan
    h = dict(zip(H36M17.joints, convert_layout(kp, "coco17", "h36m17")))
    assert np.isnan(h["pelvis"]).all() and np.isnan(h["spine"]).all() and np.isfinite(h["thorax"]).all()
    with pytest.raises(ValueError, match="no joint 'nose'"):
        convert_layout(np.zeros((15, 2)), "humaneva15", "coco17")
