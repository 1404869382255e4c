"""How much COCO AP a SynthPose validation set leaves to a model: the AP of its own ground truth with
Gaussian noise of 1, 2 and 4 pixels (standard deviation per coordinate) added to every labeled keypoint,
for version 1 (128-pixel images) and version 2 (256), beside the sets' box and silhouette-area medians.
A perfect model scores 1.0; noise of the size of a stride-4 heatmap's quantization shows what the set's
OKS scale tolerates. Then the ceiling of the heatmap representation itself: the AP of the ground truth
encoded as the training targets of a given input size and decoded again (the reference code's targets
with argmax + quarter-pixel shift, or unbiased targets with DARK: ``data.unbiased``), on version 2
figures rendered at twice the input's side, as the 2D studies render them.

    python analysis/synthpose_ap_ceiling.py --images 300 --out analysis/results/synthpose_ap_ceiling.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from semipose.data.crops import CropDataset
from semipose.data.synthpose import SynthPoseConfig, image_scale, write_synthpose
from semipose.data.transforms2d import invert_affine, warp_points
from semipose.engine.runtime import environment_info
from semipose.io import atomic_write_json
from semipose.metrics.coco import coco_keypoint_eval, noisy_ground_truth
from semipose.pose2d.config import Pose2DDataConfig
from semipose.pose2d.data import load_people, make_codec
from semipose.pose2d.evaluate import coco_results

NOISE_PX = (0.0, 1.0, 2.0, 4.0)
INPUT_SIZES = ([64, 64], [96, 96], [96, 128], [128, 128], [192, 256])  # (w, h)


def round_trip_ap(ann: Path, images: Path, input_size: list[int], unbiased: bool) -> float:
    """AP of every person's ground truth encoded as heatmap targets of ``input_size`` and decoded again."""
    d = Pose2DDataConfig(val_ann=str(ann), val_images=str(images), input_size=input_size, unbiased=unbiased)
    people, skel, doc = load_people(d, "val")
    data = CropDataset(people, skel, make_codec(d), "none")
    rng = np.random.default_rng(0)
    kp = []
    for i in range(len(data)):
        view = data.view(i, rng, "none")
        _, heatmaps, _ = data.sample(i, view)
        kp.append(warp_points(data.codec.decode(heatmaps)[0], invert_affine(view.matrix)))
    return coco_keypoint_eval(doc, coco_results(people, np.stack(kp), np.ones((len(kp), skel.num_joints))))["AP"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--out", default="analysis/results/synthpose_ap_ceiling.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for version, size in ((1, 128), (2, 256)):
            cfg = SynthPoseConfig(image_size=size, version=version)
            path = write_synthpose(Path(tmp) / f"v{version}", args.images, seed=1, split="val", cfg=cfg)
            doc = json.loads(path.read_text())
            boxes = np.array([a["bbox"] for a in doc["annotations"]])
            areas = np.array([a["area"] for a in doc["annotations"]])
            row = {"version": version, "image_size": size, "people": len(areas),
                   "median_box_w": float(np.median(boxes[:, 2])), "median_box_h": float(np.median(boxes[:, 3])),
                   "median_area": float(np.median(areas))}  # fmt: skip
            for sigma in NOISE_PX:
                stats = coco_keypoint_eval(doc, noisy_ground_truth(doc, sigma, np.random.default_rng(0)))
                row[f"ap_noise_{sigma:g}px"] = round(stats["AP"], 4)
            rows.append(row)
            print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        codec_rows = []
        for size in INPUT_SIZES:
            side = max(size) * image_scale(2)
            root = Path(tmp) / f"v2_{side}"
            ann = write_synthpose(root, args.images, seed=1, split="val", cfg=SynthPoseConfig(side, version=2))
            row = {"input_size": size, "image_size": side}
            for unbiased in (False, True):
                row["ap_unbiased_dark" if unbiased else "ap_reference_argmax"] = round(
                    round_trip_ap(ann, root / "val", size, unbiased), 4
                )
            codec_rows.append(row)
            print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    atomic_write_json(args.out, {"results": rows, "codec_round_trip": codec_rows, "environment": environment_info()})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
