"""`semipose lift predict` on a detector's output: a multi-person COCO results clip in, the chosen person's
3D out, the same as lifting that person's converted keypoints directly; bad files write nothing."""

import json

import numpy as np
import pytest
from helpers import lift_train

from semipose.cli import main
from semipose.skeletons import convert_layout


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    assert main(["data", "synth3d", "-o", str(tmp / "data"), "--frames", "40"]) == 0
    assert lift_train(tmp / "run", tmp / "data", "model.channels=16", "train.epochs=1") == 0
    return tmp / "run"


def _clip(frames: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Two COCO-17 people: A walks across the image, B stands still elsewhere."""
    rng = np.random.default_rng(0)
    base = rng.uniform(-40, 40, (17, 2))
    a = np.stack([base + [200 + 3 * t, 240] for t in range(frames)])
    b = np.stack([base + [500, 200]] * frames)
    return a, b


def test_coco_results_of_two_people_lift_the_tracked_one(run, tmp_path, capsys):
    a, b = _clip()
    results = []
    for t in range(len(a)):
        for kp, score in ((a[t], 0.9 if t != 10 else 0.6), (b[t], 0.8)):
            flat = np.column_stack([kp, np.full(17, 0.95)]).ravel().tolist()
            results.append({"image_id": 100 + t, "category_id": 1, "keypoints": flat, "score": score})
    images = [{"id": 100 + t, "file_name": f"clip/{t + 1:06d}.jpg", "width": 640, "height": 480} for t in range(len(a))]
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "images.json").write_text(json.dumps({"images": images}))
    argv = ["lift", "predict", str(run), str(tmp_path / "results.json"), "-o", str(tmp_path / "out")]
    assert main([*argv, "--image-info", str(tmp_path / "images.json"), "--track", "iou"]) == 0
    printed = capsys.readouterr().out
    assert "coco, coco17 -> humaneva15" in printed and "up to 2 people" in printed
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["input"]["converted_to"] == "humaneva15" and doc["input"]["frames"] == 30
    poses = np.load(tmp_path / "out.npz")["poses_3d"]
    assert poses.shape == (30, 15, 3)
    # the same person, converted by hand and given in semipose's own format, lifts to the same poses
    direct = {"keypoints": convert_layout(a, "coco17", "humaneva15").tolist(), "image_size": [640, 480]}
    (tmp_path / "a.json").write_text(json.dumps(direct))
    assert main(["lift", "predict", str(run), str(tmp_path / "a.json"), "-o", str(tmp_path / "direct")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "direct.npz")["poses_3d"], poses, atol=1e-5)
    # by score, frame 10 is B's (A scores 0.6 there): a different pose in that frame only
    assert main([*argv[:-1], str(tmp_path / "by_score"), "--image-info", str(tmp_path / "images.json")]) == 0
    by_score = np.load(tmp_path / "by_score.npz")["poses_3d"]
    assert not np.allclose(by_score, poses, atol=1e-4)


def test_a_malformed_detector_file_writes_nothing(run, tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps([{"image_id": 1, "keypoints": [1.0] * 20, "score": 1}]))
    capsys.readouterr()
    assert main(["lift", "predict", str(run), str(tmp_path / "bad.json"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.json: result 0: 'keypoints' has 20 numbers; expected 51" in err and "Traceback" not in err
    assert not list(tmp_path.glob("o.*"))
    assert (
        main(["lift", "predict", str(run), str(tmp_path / "bad.json"), "-o", str(tmp_path / "o"), "--format", "mmpose"])
        == 2
    )
    assert "bad.json" in capsys.readouterr().err
