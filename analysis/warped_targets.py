"""How much COCO AP the consistency methods' targets keep: PoseCons, PoseDual and the EMA teacher take a
heatmap predicted on the easy view and warp it (bilinearly) into the hard view's frame as the hard
view's target. Here the easy-view heatmap is the ground truth itself (a perfect teacher), so what is
lost is the warp's alone: every validation person's keypoints are encoded as targets in an easy view,
warped into a hard view, decoded there and mapped back to the image, and scored with COCO AP beside the
same keypoints encoded in the hard view directly (the labeled targets' ceiling) and beside the warped
heatmaps redrawn as Gaussians at their maximum pixel (the denoised method's refine step) or a quarter
pixel from it where decoding reads the keypoint (``method.refine_subpixel``). Also printed: the mean
peak of the targets and the mean decoded error in input pixels.

    python analysis/warped_targets.py --data runs/v4/synthpose --out analysis/results/warped_targets.json

``--data`` is a SynthPose folder (``annotations/person_keypoints_val.json`` and ``val/``), for example the
one a 2D study writes into its output folder; the views are the studies' (``affine30`` easy,
``affine60`` hard) unless ``--easy`` / ``--hard`` say otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from semipose.data.crops import CropDataset
from semipose.data.transforms2d import invert_affine, transform_keypoints, view_to_view, warp_heatmaps, warp_points
from semipose.engine.runtime import environment_info
from semipose.io import atomic_write_json
from semipose.methods.heatmap_ops import sharpen_heatmaps
from semipose.metrics.coco import coco_keypoint_eval
from semipose.pose2d.config import Pose2DDataConfig
from semipose.pose2d.data import load_people, make_codec
from semipose.pose2d.evaluate import coco_results

WAYS = ("direct", "warped", "warped_sharpened", "warped_sharpened_subpixel")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a SynthPose folder with annotations/ and val/")
    ap.add_argument("--input-size", type=int, nargs=2, default=[96, 128], metavar=("W", "H"))
    ap.add_argument("--easy", default="affine30")
    ap.add_argument("--hard", default="affine60")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="analysis/results/warped_targets.json")
    args = ap.parse_args()
    root = Path(args.data)
    d = Pose2DDataConfig(
        val_ann=str(root / "annotations" / "person_keypoints_val.json"),
        val_images=str(root / "val"),
        input_size=args.input_size,
    )
    people, skel, doc = load_people(d, "val")
    codec = make_codec(d)
    data = CropDataset(people, skel, codec, "none")
    perm = skel.flip_permutation()
    rng = np.random.default_rng(args.seed)
    stride = float(codec.stride[0])
    kp: dict[str, list[np.ndarray]] = {w: [] for w in WAYS}
    scores: dict[str, list[np.ndarray]] = {w: [] for w in WAYS}
    peaks: dict[str, list[float]] = {w: [] for w in WAYS}
    errors: dict[str, list[float]] = {w: [] for w in WAYS}
    for i, person in enumerate(people):
        easy, hard = data.view(i, rng, args.easy), data.view(i, rng, args.hard)
        truth_easy = transform_keypoints(person.keypoints, easy, perm)
        truth_hard = transform_keypoints(person.keypoints, hard, perm)
        hm_easy, w_easy = codec.encode(truth_easy[:, :2], truth_easy[:, 2])
        hm_hard, w_hard = codec.encode(truth_hard[:, :2], truth_hard[:, 2])
        m = torch.from_numpy(view_to_view(easy, hard, stride)).float()[None]
        warped = warp_heatmaps(torch.from_numpy(hm_easy)[None], m)
        maps = {
            "direct": hm_hard,
            "warped": warped[0].numpy(),
            "warped_sharpened": sharpen_heatmaps(warped, codec.sigma)[0].numpy(),
            "warped_sharpened_subpixel": sharpen_heatmaps(warped, codec.sigma, subpixel=True)[0].numpy(),
        }
        seen = (w_easy > 0) & (w_hard > 0)
        to_image = invert_affine(hard.matrix)
        for way, hm in maps.items():
            xy, sc = codec.decode(hm)
            kp[way].append(warp_points(xy, to_image))
            scores[way].append(sc)
            peaks[way].extend(hm.reshape(len(hm), -1).max(axis=1)[seen].tolist())
            errors[way].extend(np.linalg.norm(xy - truth_hard[:, :2], axis=1)[seen].tolist())
    rows = []
    for way in WAYS:
        stats = coco_keypoint_eval(doc, coco_results(people, np.stack(kp[way]), np.stack(scores[way])))
        row = {
            "targets": way,
            "AP": round(stats["AP"], 4),
            "AP50": round(stats["AP50"], 4),
            "AP75": round(stats["AP75"], 4),
            "mean_peak": round(float(np.mean(peaks[way])), 4),
            "mean_error_px": round(float(np.mean(errors[way])), 3),
        }
        rows.append(row)
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    atomic_write_json(
        args.out,
        {"config": vars(args), "people": len(people), "results": rows, "environment": environment_info()},
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
