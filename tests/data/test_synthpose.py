"""SynthPose: deterministic, readable by the COCO tools, labels where the figures are."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from semipose.cli import main
from semipose.data.coco import load_coco_keypoints
from semipose.data.synthpose import SynthPoseConfig, write_synthpose
from semipose.metrics.coco import coco_keypoint_eval, noisy_ground_truth


def test_deterministic_and_coco_readable(tmp_path):
    a = write_synthpose(tmp_path / "a", 12, seed=4)
    b = write_synthpose(tmp_path / "b", 12, seed=4)
    c = write_synthpose(tmp_path / "c", 12, seed=5)
    assert a.read_bytes() == b.read_bytes() and a.read_bytes() != c.read_bytes()
    assert (tmp_path / "a/train/000003.png").read_bytes() == (tmp_path / "b/train/000003.png").read_bytes()
    people, skel, doc = load_coco_keypoints(a, tmp_path / "a" / "train")
    assert skel.name == "coco17" and len(doc["images"]) == 12 and len(people) >= 12
    results = [
        {"image_id": a_["image_id"], "category_id": 1, "keypoints": a_["keypoints"], "score": 1.0}
        for a_ in doc["annotations"]
    ]
    assert coco_keypoint_eval(doc, results)["AP"] > 0.99


def test_visible_keypoints_lie_on_their_figure(tmp_path):
    path = write_synthpose(tmp_path, 20, seed=1)
    doc = json.loads(path.read_text())
    hits = total = 0
    for ann in doc["annotations"]:
        img = np.asarray(Image.open(tmp_path / "train" / f"{ann['image_id'] - 1:06d}.png")).astype(float)
        kp = np.asarray(ann["keypoints"]).reshape(17, 3)
        x, y, w, h = ann["bbox"]
        for j in np.nonzero(kp[:, 2] == 2)[0]:
            total += 1
            hits += x - 1 <= kp[j, 0] <= x + w + 1 and y - 1 <= kp[j, 1] <= y + h + 1
        assert img.shape == (128, 128, 3)
    assert total > 100 and hits / total > 0.97
    vis = np.array([a["keypoints"][2::3] for a in doc["annotations"]])
    assert (vis == 1).mean() > 0.05 and (vis == 2).mean() > 0.5  # occlusion happens, most joints are seen


def test_cli(tmp_path, capsys):
    assert main(["data", "synthpose", "-o", str(tmp_path), "--images", "5", "--split", "val"]) == 0
    assert (tmp_path / "annotations" / "person_keypoints_val.json").is_file()
    assert "5 images" in capsys.readouterr().out


def test_real_motion_and_mpii_layout(shared_data, tmp_path):
    """Poses from a CMU capture and from HumanEva-I, labels in MPII-16: read back by the COCO reader."""
    from semipose.data.synthpose import SynthPoseConfig

    cfg = SynthPoseConfig(
        layout="mpii16",
        motion=(str(shared_data / "cmu" / "01_01.bvh"), str(shared_data / "humaneva" / "data_3d_humaneva15.npz")),
    )
    path = write_synthpose(tmp_path, 8, seed=2, cfg=cfg)
    people, skel, doc = load_coco_keypoints(path, tmp_path / "train")
    assert skel.num_joints == 16 and skel.joints[9] == "head_top" and len(people) >= 8
    assert "01_01.bvh" in doc["info"]["description"]
    assert sorted(zip(skel.joints_left, skel.joints_right)) == [(3, 2), (4, 1), (5, 0), (13, 12), (14, 11), (15, 10)]
    for p in people:  # head top above the upper neck above the thorax, in image rows, when all are labeled
        kp = p.keypoints
        if (kp[[7, 8, 9], 2] > 0).all():
            assert kp[9, 1] < kp[7, 1]
    other = write_synthpose(tmp_path / "b", 8, seed=2, cfg=SynthPoseConfig(layout="mpii16"))
    assert other.read_bytes() != path.read_bytes()  # the poses came from the captures, not the generator



def test_version_2_has_large_figures_a_left_right_cue_and_an_ap_that_tolerates_2px(tmp_path):
    path = write_synthpose(tmp_path, 40, seed=3, split="val", cfg=SynthPoseConfig(image_size=256, version=2))
    doc = json.loads(path.read_text())
    assert np.median([a["area"] for a in doc["annotations"]]) > 5000  # v1 at 128 pixels: about 1,000
    # the cue: a visible left wrist or ankle sits on red, a right one on blue
    cued = visible = 0
    for a in doc["annotations"]:
        image = np.asarray(Image.open(tmp_path / "val" / f"{a['image_id'] - 1:06d}.png"), np.float64)
        kp = np.asarray(a["keypoints"]).reshape(17, 3)
        for j, left in ((9, True), (15, True), (10, False), (16, False)):
            if kp[j, 2] == 2:
                r, _, b = image[int(kp[j, 1]), int(kp[j, 0])]
                visible += 1
                cued += (r > b) if left else (b > r)
    assert visible > 20 and cued >= 0.9 * visible
    assert coco_keypoint_eval(doc, noisy_ground_truth(doc, 2.0, np.random.default_rng(0)))["AP"] >= 0.85


def test_version_3_is_version_2_with_eyes_and_ears_drawn(tmp_path):
    paths = {v: write_synthpose(tmp_path / f"v{v}", 12, seed=5, split="val", cfg=SynthPoseConfig(256, version=v))
             for v in (2, 3)}  # fmt: skip
    docs = {v: json.loads(p.read_text()) for v, p in paths.items()}
    assert len(docs[2]["annotations"]) == len(docs[3]["annotations"]) > 10
    face_points = []
    for a2, a3 in zip(docs[2]["annotations"], docs[3]["annotations"]):  # the same people, poses and boxes
        k2, k3 = np.reshape(a2["keypoints"], (17, 3)), np.reshape(a3["keypoints"], (17, 3))
        assert np.array_equal(k2[:, :2], k3[:, :2]) and a2["bbox"] == a3["bbox"]
        face_points += [(a3["image_id"], x, y) for x, y, v in k3[:5] if v > 0]
    changed = 0
    for image in docs[3]["images"]:
        i2, i3 = (np.asarray(Image.open(tmp_path / f"v{v}" / "val" / image["file_name"]), np.int16) for v in (2, 3))
        ys, xs = np.nonzero(np.abs(i2 - i3).sum(-1))
        changed += len(ys)
        # every changed pixel is an eye or an ear: near a face keypoint of a figure in that image
        near = np.array([(x, y) for i, x, y in face_points if i == image["id"]])
        if len(ys):
            dist = np.linalg.norm(np.stack([xs, ys], 1)[:, None] - near[None], axis=-1).min(1)
            assert dist.max() < 8
    assert changed > 50


def _side_shifts(tmp_path, old: int, new: int, points) -> dict[bool, list[float]]:
    """Versions ``old`` and ``new`` of the same draws: checks that they hold the same people, poses, boxes and
    areas, and returns the change of red minus blue from ``old`` to ``new`` at the image points that
    ``points(keypoints)`` gives as ``(x, y, on the left side)``."""
    paths = {v: write_synthpose(tmp_path / f"v{v}", 12, seed=5, split="val", cfg=SynthPoseConfig(256, version=v))
             for v in (old, new)}  # fmt: skip
    docs = {v: json.loads(p.read_text()) for v, p in paths.items()}
    assert len(docs[old]["annotations"]) == len(docs[new]["annotations"]) > 10
    shifts: dict[bool, list[float]] = {True: [], False: []}
    for a_old, a in zip(docs[old]["annotations"], docs[new]["annotations"]):
        assert a_old["keypoints"] == a["keypoints"] and a_old["bbox"] == a["bbox"] and a_old["area"] == a["area"]
        i_old, i_new = (np.asarray(Image.open(tmp_path / f"v{v}" / "val" / f"{a['image_id'] - 1:06d}.png"), np.float64)
                        for v in (old, new))  # fmt: skip
        for x, y, left in points(np.reshape(a["keypoints"], (17, 3))):
            (r0, _, b0), (r1, _, b1) = i_old[y, x], i_new[y, x]
            shifts[left].append((r1 - b1) - (r0 - b0))
    return shifts


def test_version_4_is_version_3_with_sleeves_and_legs_tinted_by_side(tmp_path):
    # halfway along a visible upper arm or thigh, version 4 is redder than version 3 on the left side and
    # bluer on the right (the mix moves red minus blue towards the side's colour)
    def midpoints(kp):
        for top, end, left in ((5, 7, True), (11, 13, True), (6, 8, False), (12, 14, False)):
            if kp[top, 2] == 2 and kp[end, 2] == 2:
                yield (*((kp[top, :2] + kp[end, :2]) / 2).astype(int), left)

    shifts = _side_shifts(tmp_path, 3, 4, midpoints)
    assert len(shifts[True]) > 5 and len(shifts[False]) > 5
    assert np.median(shifts[True]) > 20 and np.median(shifts[False]) < -20


def test_version_5_is_version_4_with_the_torso_two_toned_by_side(tmp_path):
    # two thirds of the way from the shoulders' midpoint to a visible shoulder, or from the hips' to a hip,
    # version 5 is redder than version 4 on the left and bluer on the right
    def torso_points(kp):
        for joint, mirror, left in ((5, 6, True), (11, 12, True), (6, 5, False), (12, 11, False)):
            if kp[joint, 2] == 2 and kp[mirror, 2] > 0 and np.linalg.norm(kp[joint, :2] - kp[mirror, :2]) > 12:
                mid = (kp[joint, :2] + kp[mirror, :2]) / 2
                yield (*(mid + (kp[joint, :2] - mid) * 2 / 3).astype(int), left)

    shifts = _side_shifts(tmp_path, 4, 5, torso_points)
    # (where a limb lies over the point its colour is version 4's, a shift of 0)
    left, right = (np.array([d for d in shifts[side] if abs(d) > 5]) for side in (True, False))
    assert len(left) > 5 and len(right) > 5
    assert (left > 0).mean() >= 0.9 and (right < 0).mean() >= 0.9
    assert np.median(left) > 20 and np.median(right) < -20


def test_an_interrupted_render_leaves_no_partial_image(tmp_path, monkeypatch):
    """Images go through a temporary file and a rename: a render that fails halfway through an image
    (or a second study rewriting the same folder) never leaves a truncated PNG under the image's name."""
    write_synthpose(tmp_path, 2, seed=3)
    before = (tmp_path / "train/000001.png").read_bytes()

    def save_half_then_fail(self, fp, *args, **kwargs):
        half = b"\x89PNG\r\n\x1a\n"  # what a reader sees of an image that is being written
        if isinstance(fp, (str, Path)):
            Path(fp).write_bytes(half)
        else:
            fp.write(half)
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", save_half_then_fail)
    try:
        write_synthpose(tmp_path, 2, seed=3)
    except OSError:
        pass
    else:
        raise AssertionError("the failing save was not called")
    assert (tmp_path / "train/000001.png").read_bytes() == before  # the earlier complete image is kept
    assert Image.open(tmp_path / "train/000000.png").size == (128, 128)
    assert not list((tmp_path / "train").glob(".*.tmp"))  # no temporary file left behind
