"""Top-down inference and offline pseudo-labels with an oracle network that outputs the true heatmaps:
keypoints come back in image pixels, flip test included, and the threshold keeps the confident joints."""

import numpy as np
import torch
from helpers import person_crops

from semipose.codecs.heatmap import HeatmapCodec
from semipose.data.crops import CropDataset
from semipose.data.transforms2d import transform_keypoints
from semipose.methods.pseudo_pose2d import pseudo_label_people
from semipose.methods.supervised_pose2d import predict_people
from semipose.skeletons import COCO17


class Oracle(torch.nn.Module):
    """The codec's targets of each person's true keypoints in the unaugmented crop; every second call
    (the flip test's) those of the mirrored crop, left and right swapped. ``gain`` scales joints."""

    def __init__(self, data: CropDataset, gain: np.ndarray | None = None):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.data, self.calls, self.gain = data, 0, np.ones(17) if gain is None else gain

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flipped, self.calls = self.calls % 2 == 1, self.calls + 1
        perm, w = self.data.skeleton.flip_permutation(), images.shape[-1]
        out = []
        for i in range(images.shape[0]):
            view = self.data.view(i, np.random.default_rng(0), "none")
            kp = transform_keypoints(self.data.people[i].keypoints, view, np.arange(17))
            if flipped:
                kp = kp[perm]
                kp[:, 0] = w - 1 - kp[:, 0]
            hm, _ = self.data.codec.encode(kp[:, :2], kp[:, 2])
            out.append(hm * self.gain[:, None, None].astype(np.float32))
        return torch.from_numpy(np.stack(out))[:, None]


def _data(tmp_path):
    people = person_crops(tmp_path, 3, right_ankle_visible=True)
    return CropDataset(people, COCO17, HeatmapCodec((64, 64), (16, 16), 1.0), "none")


def test_predictions_land_on_the_true_keypoints_with_and_without_flip_test(tmp_path):
    data = _data(tmp_path)
    for flip_test in (False, True):
        kp, scores = predict_people(Oracle(data), data, flip_test=flip_test)
        visible = np.array([0, 15, 16])
        truth = np.stack([p.keypoints[visible, :2] for p in data.people])
        # within a heatmap pixel (4 input pixels) of the truth; a swapped left/right would be 20 pixels off
        assert kp.shape == (3, 17, 2) and np.abs(kp[:, visible] - truth).max() <= 4.0, flip_test
        assert np.allclose(scores[:, visible], 1.0, atol=0.05) and np.all(scores[:, 1:15] == 0)


def test_pseudo_labels_keep_the_joints_above_the_threshold(tmp_path):
    data = _data(tmp_path)
    gain = np.ones(17)
    gain[0] = 0.3  # the nose answers weakly
    people, stats = pseudo_label_people(Oracle(data, gain), data, threshold=0.5, flip_test=False)
    vis = np.stack([p.keypoints[:, 2] for p in people])
    assert np.all(vis[:, [15, 16]] == 2) and np.all(vis[:, 0] == 0) and np.all(vis[:, 1:15] == 0)
    assert abs(stats["pseudo_joints_kept"] - 2 / 17) < 1e-6
    assert abs(people[1].keypoints[15, 0] - 41) <= 4.0  # the teacher's keypoint, in image pixels
