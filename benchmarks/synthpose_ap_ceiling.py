"""How much COCO AP a SynthPose validation set leaves to a model: the AP of its own ground truth with
Gaussian noise of 1, 2 and 4 pixels (standard deviation per coordinate) added to every labeled keypoint,
for version 1 (128-pixel images) and version 2 (256), beside the sets' box and silhouette-area medians.
A perfect model scores 1.0; noise of the size of a stride-4 heatmap's quantization shows what the set's
OKS scale tolerates.

    python benchmarks/synthpose_ap_ceiling.py --images 300 --out benchmarks/results/synthpose_ap_ceiling.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from semipose.data.synthpose import SynthPoseConfig, write_synthpose
from semipose.engine.runtime import environment_info
from semipose.io import atomic_write_json
from semipose.metrics.coco import coco_keypoint_eval, noisy_ground_truth

NOISE_PX = (0.0, 1.0, 2.0, 4.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--out", default="benchmarks/results/synthpose_ap_ceiling.json")
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
    atomic_write_json(args.out, {"results": rows, "environment": environment_info()})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
