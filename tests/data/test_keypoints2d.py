"""Detector outputs read into one person's 2D track: every format against hand-made files, the person
rules, the confidence mask, and malformed files refused with the file and field named."""

import json

import numpy as np
import pytest

from semipose.data.errors import DataError
from semipose.data.keypoints2d import BODY25_TO_COCO17, read_detections, select_person


def _coco_kp(x: float, y: float, score: float = 0.9) -> list[float]:
    return [v for k in range(17) for v in (x + k, y + 3 * k, score)]


def _two_people(tmp_path):
    """Three frames (image ids 5, 7, 9): A walks right at y=100, B stands at y=300; in the middle frame B
    scores higher than A."""
    results = []
    for t, image_id in enumerate((5, 7, 9)):
        results.append({"image_id": image_id, "category_id": 1, "keypoints": _coco_kp(10 + 5 * t, 100), "score": 0.9})
        b_score = 0.95 if t == 1 else 0.5
        results.append({"image_id": image_id, "category_id": 1, "keypoints": _coco_kp(400, 300), "score": b_score})
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return path


def test_coco_results_by_image_id_and_the_two_person_rules(tmp_path):
    det = read_detections(_two_people(tmp_path))
    assert det.source == "coco" and det.layout == "coco17" and det.frame_ids == [5, 7, 9]
    by_score = select_person(det, "score")
    assert by_score.keypoints[:, 0, 0].tolist() == [10, 400, 20]  # the middle frame's best score is B
    by_iou = select_person(det, "iou")
    assert by_iou.keypoints[:, 0, 0].tolist() == [10, 15, 20]  # A's box is followed
    assert by_iou.people_per_frame.tolist() == [2, 2, 2] and by_iou.frames_without_person == 0


def test_coco_document_numbers_frames_by_file_name_and_gives_the_image_size(tmp_path):
    doc = {
        "images": [{"id": 1, "file_name": "clip_0003.jpg", "width": 640, "height": 480},
                   {"id": 2, "file_name": "clip_0005.jpg", "width": 640, "height": 480}],
        "annotations": [{"image_id": 2, "keypoints": [5, 6, 2] * 16 + [0, 0, 0]},
                        {"image_id": 1, "keypoints": [1, 2, 2] * 17}],
    }  # fmt: skip
    (tmp_path / "doc.json").write_text(json.dumps(doc))
    det = read_detections(tmp_path / "doc.json")
    assert det.frame_ids == [3, 4, 5] and det.image_size == (640, 480) and det.frames[1] == []
    track = select_person(det)
    assert track.frames_without_person == 1 and np.isnan(track.keypoints[1]).all()
    assert track.keypoints[2, 0].tolist() == [5, 6] and np.isnan(track.keypoints[2, 16]).all()  # v=0: not labeled


def test_mmpose_predictions_with_wholebody_keypoints_use_the_body_joints(tmp_path):
    inst = {"keypoints": [[float(k), 2.0] for k in range(133)], "keypoint_scores": [0.8] * 133,
            "bbox": [[0, 0, 10, 10]], "bbox_score": 0.7}  # fmt: skip
    doc = {"meta_info": {"dataset_name": "coco_wholebody"}, "instance_info": [{"frame_id": 1, "instances": [inst]}]}
    (tmp_path / "mm.json").write_text(json.dumps(doc))
    det = read_detections(tmp_path / "mm.json")
    person = det.frames[0][0]
    assert det.source == "mmpose" and person.keypoints.shape == (17, 2) and person.keypoints[16, 0] == 16
    assert person.score == pytest.approx(0.7) and person.box.tolist() == [0, 0, 10, 10]


def test_openpose_body25_folder_becomes_coco17(tmp_path):
    folder = tmp_path / "openpose"
    folder.mkdir()
    for t in (0, 1):
        flat = [v for i in range(25) for v in (float(i), 10.0 * t, 0.9)]
        flat[3 * 11 + 2] = 0.0  # RAnkle not found (OpenPose writes 0 confidence)
        doc = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat}]}
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(doc))
    track = select_person(read_detections(folder))
    # BODY_25: 0 nose, 2 right shoulder, 5 left shoulder, 12 left hip, 16 left eye, 11 right ankle
    x = track.keypoints[0, :, 0]
    assert x[0] == 0 and x[1] == 16 and x[5] == 5 and x[6] == 2 and x[11] == 12 and np.isnan(x[16])
    assert list(BODY25_TO_COCO17[:3]) == [0, 16, 15] and track.keypoints[1, 0, 1] == 10


def test_videopose3d_custom_npz(tmp_path):
    kp = np.arange(4 * 17 * 2, dtype=np.float32).reshape(4, 17, 2)
    meta = {"layout_name": "coco", "num_joints": 17, "video_metadata": {"walk.mp4": {"w": 1280, "h": 720}}}
    np.savez(tmp_path / "data_2d_custom_mine.npz", positions_2d={"walk.mp4": {"custom": [kp]}}, metadata=meta)
    det = read_detections(tmp_path / "data_2d_custom_mine.npz")
    assert det.source == "vp3d" and det.image_size == (1280, 720)
    np.testing.assert_array_equal(select_person(det).keypoints, kp)
    np.savez(tmp_path / "two.npz", positions_2d={"a": {"custom": [kp]}, "b": {"custom": [kp]}}, metadata=meta)
    with pytest.raises(DataError, match="choose one with --video"):
        read_detections(tmp_path / "two.npz")
    assert read_detections(tmp_path / "two.npz", video="b").source == "vp3d"


def test_low_scores_are_masked_and_counted(tmp_path):
    results = [{"image_id": 1, "keypoints": _coco_kp(0, 0, 0.9)[:-3] + [1.0, 1.0, 0.1], "score": 1.0}]
    (tmp_path / "r.json").write_text(json.dumps(results))
    track = select_person(read_detections(tmp_path / "r.json"), min_score=0.3)
    assert track.low_confidence == 1 and np.isnan(track.keypoints[0, 16]).all() and np.isfinite(track.keypoints[0, 15]).all()


@pytest.mark.parametrize(
    "content,fmt,expected",
    [
        ([{"image_id": 1, "keypoints": [1.0] * 50}], "coco", "result 0: 'keypoints' has 50 numbers; expected 51"),
        ([{"keypoints": [1.0] * 51}], "coco", "result 0 lacks 'image_id' or 'keypoints'"),
        ({"instance_info": [{"frame_id": 0, "instances": [{"keypoints": [[1, 2]] * 5}]}]}, "mmpose",
         "'keypoints' has shape (5, 2); expected 17 (COCO)"),
        ({"instance_info": 3}, "mmpose", "field 'instance_info' must be a list"),
        ({"points": []}, "auto", "expected an object with field 'keypoints'"),
        ([{"image_id": 1, "keypoints": ["a"] * 51}], "coco", "is not an array of numbers"),
    ],
)  # fmt: skip
def test_malformed_files_name_the_file_and_field(tmp_path, content, fmt, expected):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError) as e:
        read_detections(path, fmt)
    assert str(path) in str(e.value) and expected in str(e.value)


def test_openpose_frames_of_the_wrong_size_and_empty_inputs(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    (folder / "x_000000000000_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1] * 10}]}))
    with pytest.raises(DataError, match="has 10 numbers; expected 75"):
        read_detections(folder)
    (folder / "x_000000000000_keypoints.json").write_text(json.dumps({"people": []}))
    with pytest.raises(DataError, match="holds no person in any of its 1 frames"):
        select_person(read_detections(folder))
