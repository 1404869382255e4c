"""Where a 2D model's COCO AP is lost: per joint, its median error in image pixels beside the distance at
which OKS gives that joint a similarity of 0.5, its mean similarity, and, where the pair lies more than
twice that distance apart, how often the mirror joint's position fits better (left and right confused) and
how often both of the pair are predicted within that distance of each other (one limb found twice), its
mean signed offset in box heights (a drift: x right, y down) and the true joint its prediction most often
lies nearest to (a joint that has slid onto another); then the AP as predicted, with the face's five points
replaced by the ground truth, with the body's twelve replaced, and with each left/right pair taken in
the order that fits better. Reads a finished ``pose2d train`` or ``pose2d ssl`` run (its first network)
on its config's validation set, ground-truth boxes, no flip test unless ``--flip``.

    python analysis/ap_breakdown.py runs/ssl2d_medium/supervised-n50/seed0 --out analysis/results/ap_breakdown.json
    python analysis/ap_breakdown.py RUN data.val_ann=... data.val_images=...   # another validation set
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from semipose.config import ConfigError
from semipose.data.crops import CropDataset
from semipose.data.errors import DataError
from semipose.engine import CheckpointError
from semipose.engine.runtime import environment_info
from semipose.io import atomic_write_json
from semipose.methods.supervised_pose2d import predict_people
from semipose.metrics.coco import coco_keypoint_eval, keypoint_similarities, oks_tolerance
from semipose.pose2d.data import load_people, make_codec
from semipose.pose2d.evaluate import coco_results
from semipose.pose2d.model_file import load_run

FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. data.val_ann=PATH")
    ap.add_argument("--flip", action="store_true", help="flip test")
    ap.add_argument("--out", default="analysis/results/ap_breakdown.json")
    args = ap.parse_args()
    try:
        model, cfg, skel = load_run(args.run, args.overrides)
        people, skel, doc = load_people(cfg.data, "val")
    except (ConfigError, DataError, CheckpointError) as e:
        raise SystemExit(f"error: {e}") from None
    if doc is None or skel.oks_sigmas is None:
        raise SystemExit(f"{args.run}: needs a COCO-format validation set (OKS sigmas), not {cfg.data.format}")
    data = CropDataset(people, skel, make_codec(cfg.data), "none")
    kp, sc = predict_people(model, data, args.flip)
    gt = np.stack([p.keypoints for p in people]).astype(np.float64)
    areas = np.array([p.area for p in people])
    sigmas = np.asarray(skel.oks_sigmas)
    labeled = gt[..., 2] > 0
    err = np.linalg.norm(kp - gt[..., :2], axis=-1)
    sim = keypoint_similarities(kp, gt, areas, sigmas)
    tol = oks_tolerance(areas, sigmas)
    mirror = skel.flip_permutation()
    heights = np.array([p.bbox[3] for p in people], dtype=np.float64)
    to_truth = np.linalg.norm(kp[:, :, None, :] - gt[:, None, :, :2], axis=-1)  # (N, J, J): prediction j to truth k
    to_truth[~np.broadcast_to(labeled[:, None, :], to_truth.shape)] = np.inf
    joints = []
    for j, name in enumerate(skel.joints):
        m = labeled[:, j]
        row = {"joint": name, "labeled": int(m.sum()), "median_error_px": float(np.median(err[m, j])),
               "tolerance_px_oks05": float(np.median(tol[m, j])), "mean_similarity": float(np.nanmean(sim[:, j]))}  # fmt: skip
        row["mean_offset_box_heights"] = [
            round(float(v), 4) for v in ((kp[m, j] - gt[m, j, :2]) / heights[m, None]).mean(0)
        ]
        nearest = np.bincount(to_truth[m, j].argmin(axis=1), minlength=skel.num_joints) / max(int(m.sum()), 1)
        row["nearest_true_joint"] = f"{skel.joints[int(nearest.argmax())]} ({nearest.max():.2f})"
        o = int(mirror[j])
        if o != j:  # only where the pair lies apart (side views put left and right on one spot)
            apart = m & labeled[:, o] & (np.linalg.norm(gt[:, j, :2] - gt[:, o, :2], axis=-1) > 2 * tol[:, j])
            to_mirror = np.linalg.norm(kp[apart, j] - gt[apart, o, :2], axis=-1)
            together = np.linalg.norm(kp[apart, j] - kp[apart, o], axis=-1) < tol[apart, j]
            row["pair_apart"] = int(apart.sum())
            row["mirror_fits_better"] = float(np.mean(to_mirror < err[apart, j])) if apart.any() else float("nan")
            row["both_on_one_spot"] = float(np.mean(together)) if apart.any() else float("nan")
        joints.append(row)
        print(", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)

    def ap_of(points: np.ndarray) -> dict[str, float]:
        stats = coco_keypoint_eval(doc, coco_results(people, points, sc))
        return {"AP": stats["AP"], "AP50": stats["AP50"]}

    face = [j for j, n in enumerate(skel.joints) if n in FACE]
    body = [j for j in range(skel.num_joints) if j not in face]
    variants = {"as predicted": kp}
    for label, idx in (("face from ground truth", face), ("body from ground truth", body)):
        if idx:
            fixed = kp.copy()
            fixed[:, idx] = gt[:, idx, :2]
            variants[label] = fixed
    unswapped = kp.copy()  # each left/right pair in the order with the smaller summed error
    for j in range(skel.num_joints):
        o = int(mirror[j])
        if o > j:
            crossed = np.linalg.norm(kp[:, j] - gt[:, o, :2], axis=-1) + np.linalg.norm(
                kp[:, o] - gt[:, j, :2], axis=-1
            )
            swap = labeled[:, j] & labeled[:, o] & (crossed < err[:, j] + err[:, o])
            unswapped[swap, j], unswapped[swap, o] = kp[swap, o], kp[swap, j]
    variants["left/right pairs in their better order"] = unswapped
    aps = {label: ap_of(points) for label, points in variants.items()}
    for label, stats in aps.items():
        print(f"{label}: AP {stats['AP']:.3f}, AP50 {stats['AP50']:.3f}")
    summary = {"run": str(args.run), "people": len(people), "flip_test": args.flip,
               "median_error_px": float(np.median(err[labeled])), "joints": joints, "ap": aps}  # fmt: skip
    atomic_write_json(args.out, {"results": summary, "environment": environment_info()})
    print(f"median error over labeled joints {summary['median_error_px']:.1f} px; written to {args.out}")


if __name__ == "__main__":
    main()
