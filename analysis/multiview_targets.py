"""How good are the denoised method's pseudo-heatmaps? A finished 2D run's two networks act as the
teachers on unlabeled people whose labels SynthPose keeps (the study never reads them), and every way
the denoised method can build a target is scored against the truth in the hard view it teaches:

- ``easy``: the easy view's heatmap warped into the hard view (DualPose's target);
- ``max`` / ``mean``: the pixel-wise maximum / mean over the easy view and K strong views (multi-view);
- ``+refine``: then threshold-and-refine (joints whose peak is at most tau dropped, the rest redrawn as
  a Gaussian at the maximum);
- ``+select``: then each joint's target taken from the student whose views disagree less (the
  uncertainty-guided selection).

Scored per target: COCO AP of the targets decoded and mapped back to the image, the mean per-keypoint
similarity (the terms OKS averages) and error in input pixels over the joints the target keeps, the
share of joints kept, the mean squared difference to the ground truth's own heatmap (what the student
is asked to regress, over kept joints), the mean peak, and the area at half the peak in heatmap pixels
(how wide the blob the student must draw is; the ground truth's own heatmaps' is printed beside), and
for the joints that are labeled but fall outside the hard view (whose labeled target is empty, weight
0) the mean peak the target puts inside it where the target keeps the joint: what the student is told
to see that is not there; and the mean signed offset of the kept targets from the truth in image pixels
(a bias that self-training would compound). Both networks teach, each on the same views, in float32.

    python analysis/multiview_targets.py runs/ablation_ap/runs/arm00/seed0 --strong-views 4 \
        --out analysis/results/multiview_targets.json

The run folder needs ``config.yaml`` and ``model.pt`` (a PoseDual or denoised run: two networks); the
views (easy, hard, strong) are its ``method`` section's, K its ``method.strong_views`` (4 where it has none)
unless ``--strong-views`` says.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch

from semipose.data.crops import CropDataset
from semipose.data.transforms2d import (
    invert_affine,
    sample_view,
    transform_keypoints,
    view_to_view,
    warp_heatmaps,
    warp_points,
)
from semipose.engine.runtime import environment_info
from semipose.engine.saved import read_model
from semipose.io import atomic_write_json
from semipose.methods.heatmap_ops import aggregate_views, select_targets, threshold_and_refine, view_uncertainty
from semipose.metrics.coco import coco_keypoint_eval, keypoint_similarities
from semipose.pose2d.data import load_people, make_codec
from semipose.pose2d.evaluate import coco_results
from semipose.pose2d.model_file import load_model
from semipose.pose2d.ssl import SSL2DConfig, load_ssl2d_config

WAYS = ("easy", "max", "mean", "easy+refine", "max+refine", "mean+refine", "max+refine+select")


def teachers(run: Path, cfg: SSL2DConfig) -> list[torch.nn.Module]:
    """The run's two networks, in training mode as the method's teachers run (batch statistics)."""
    path = run / "model.pt"
    saved = read_model(path, "pose2d")
    if "net2" not in saved:
        raise SystemExit(f"{path}: holds one network; a PoseDual or denoised run's model (net1, net2) is needed")
    first, _ = load_model(path)
    second = copy.deepcopy(first)
    second.load_state_dict(saved["net2"])
    return [first.train(), second.train()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a finished PoseDual or denoised run folder (config.yaml, model.pt)")
    ap.add_argument("--strong-views", type=int, default=None, help="K (default: the run's method.strong_views, else 4)")
    ap.add_argument("--tau", type=float, default=0.1, help="threshold of the refine step")
    ap.add_argument("--people", type=int, default=400, help="unlabeled people scored (the first of the split)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("analysis/results/multiview_targets.json"))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    cfg = load_ssl2d_config(args.run / "config.yaml")
    m, d = cfg.method, cfg.data
    K = args.strong_views if args.strong_views is not None else (m.strong_views or 4)
    people, skel, doc = load_people(d, "train")
    people = people[cfg.ssl.labeled :][: args.people]  # the unlabeled split's first people, labels kept here
    ids = {p.annotation_id for p in people}
    anns = [a for a in doc["annotations"] if a["id"] in ids]
    images = {a["image_id"] for a in anns}
    doc = {**doc, "annotations": anns, "images": [im for im in doc["images"] if im["id"] in images]}
    codec = make_codec(d)
    data = CropDataset(people, skel, codec, "none")
    perm = skel.flip_permutation()
    stride = float(codec.stride[0])
    sigmas = np.asarray(skel.oks_sigmas)
    nets = teachers(args.run, cfg)
    rng = np.random.default_rng(args.seed)
    kp: dict[str, list[np.ndarray]] = {w: [] for w in WAYS}
    sc: dict[str, list[np.ndarray]] = {w: [] for w in WAYS}
    kept: dict[str, list[np.ndarray]] = {w: [] for w in WAYS}
    err: dict[str, list[float]] = {w: [] for w in WAYS}
    mse: dict[str, list[float]] = {w: [] for w in WAYS}
    peak: dict[str, list[float]] = {w: [] for w in WAYS}
    width: dict[str, list[float]] = {w: [] for w in WAYS}
    truth_width: list[float] = []
    outside_peak: dict[str, list[float]] = {w: [] for w in WAYS}  # joints labeled but outside the hard view
    truths, owners = [], []
    seen_all: list[np.ndarray] = []  # per (person, network): joints labeled and inside the hard view
    B = cfg.train.batch_size
    for s in range(0, len(people), B):
        idx = list(range(s, min(s + B, len(people))))
        if len(idx) < 2:
            break  # BatchNorm in training mode needs two
        hard, views, maps = [], [], []
        size = codec.input_size
        for i in idx:
            p = people[i]
            v_hard = sample_view(p.center, p.scale, size, m.hard, rng)
            vs = [sample_view(p.center, p.scale, size, m.easy, rng)]
            vs += [sample_view(p.center, p.scale, size, m.strong, rng) for _ in range(K)]
            hard.append(v_hard)
            views.append([data.image(i, v) for v in vs])
            maps.append([view_to_view(v, v_hard, stride) for v in vs])
        x = torch.from_numpy(np.stack(views, axis=1))  # (V, b, 3, H, W)
        mp = torch.from_numpy(np.stack(maps, axis=1)).float()
        per_net = []
        with torch.no_grad():
            for net in nets:
                hm = torch.stack([warp_heatmaps(net(x[v])[:, -1].float(), mp[v]) for v in range(x.shape[0])])
                per_net.append(hm)  # (V, b, J, h, w) in the hard view
        targets: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = []
        for hm in per_net:
            t = {
                "easy": aggregate_views(hm[:1]),
                "max": aggregate_views(hm, "max"),
                "mean": aggregate_views(hm, "mean"),
            }
            out = {w: (t[w], torch.ones(t[w].shape[:2])) for w in t}
            for w in list(t):
                out[w + "+refine"] = threshold_and_refine(t[w], args.tau, True, d.sigma)
            targets.append(out)
        unc = [view_uncertainty(hm) for hm in per_net]
        for own, other in ((0, 1), (1, 0)):
            (a, wa), (b, wb) = targets[own]["max+refine"], targets[other]["max+refine"]
            targets[own]["max+refine+select"] = select_targets(a, b, unc[own], unc[other], m.margin, wa, wb)[:2]
        for k, i in enumerate(idx):
            truth_hard = transform_keypoints(people[i].keypoints, hard[k], perm)
            gt_hm, gt_w = codec.encode(truth_hard[:, :2], truth_hard[:, 2])
            to_image = invert_affine(hard[k].matrix)
            seen = gt_w.reshape(-1) > 0
            outside = (people[i].keypoints[:, 2] > 0) & ~seen
            truth_width.extend((h >= h.max() / 2).sum() for h in gt_hm[seen])
            for n in range(len(nets)):
                for w in WAYS:
                    hm = targets[n][w][0][k].numpy()
                    keep = targets[n][w][1][k].numpy() > 0
                    xy, score = codec.decode(hm)
                    kp[w].append(warp_points(xy, to_image))
                    sc[w].append(score)
                    good = seen & keep
                    kept[w].append(good)
                    flat = hm.reshape(len(hm), -1)
                    top = flat.max(axis=1)
                    err[w].extend(np.linalg.norm(xy - truth_hard[:, :2], axis=1)[good].tolist())
                    mse[w].extend(((flat - gt_hm.reshape(len(hm), -1)) ** 2).mean(axis=1)[good].tolist())
                    peak[w].extend(top[seen].tolist())
                    outside_peak[w].extend((top * keep)[outside].tolist())
                    width[w].extend((flat >= top[:, None] / 2).sum(axis=1)[good].tolist())
                seen_all.append(seen)
                truths.append(people[i].keypoints)
                owners.append(i)
        print(f"{min(s + B, len(people))}/{len(people)} people", flush=True)
    truth_area = float(np.mean(truth_width))
    print(f"the truth's own heatmaps: half-maximum area {truth_area:.2f}")
    gt, seen = np.stack(truths), np.stack(seen_all)
    areas = np.array([people[i].area for i in owners])
    rows = []
    per_joint: dict[str, list[float]] = {}  # mean similarity of the kept targets, joint by joint
    for w in WAYS:
        pred = np.stack(kp[w])
        sim = keypoint_similarities(pred, gt, areas, sigmas)
        good = np.stack(kept[w])
        scores = np.stack(sc[w])
        aps = [  # one AP per teaching network (its targets, one per person)
            coco_keypoint_eval(
                doc,
                coco_results([people[i] for i in owners[n :: len(nets)]], pred[n :: len(nets)], scores[n :: len(nets)]),
                sigmas,
            )["AP"]
            for n in range(len(nets))
        ]
        row = {
            "targets": w,
            "AP": round(float(np.mean(aps)), 4),
            "kept_share": round(float(good.sum() / seen.sum()), 4),
            "similarity_kept": round(float(np.nanmean(sim[good])), 4),
            "error_px_kept": round(float(np.mean(err[w])), 3),
            "mse_to_truth_x1e3": round(1e3 * float(np.mean(mse[w])), 4),
            "mean_peak": round(float(np.mean(peak[w])), 4),
            "half_max_area": round(float(np.mean(width[w])), 2),
            "outside_mean_peak": round(float(np.mean(outside_peak[w])), 4) if outside_peak[w] else None,
            "mean_offset_xy_image_px": [round(float(v), 3) for v in (pred - gt[..., :2])[good].mean(axis=0)],
        }
        per_joint[w] = [round(float(v), 4) for v in np.nanmean(np.where(good, sim, np.nan), axis=0)]
        rows.append(row)
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    atomic_write_json(
        args.out,
        {
            "run": str(args.run),
            "config": {**vars(args), "run": str(args.run), "out": str(args.out), "strong_views": K},
            "views": {"easy": m.easy, "hard": m.hard, "strong": m.strong},
            "people": len(owners) // len(nets),
            "truth_half_max_area": round(truth_area, 2),
            "outside_joints": len(outside_peak[WAYS[0]]),
            "results": rows,
            "joints": list(skel.joints),
            "per_joint_similarity_kept": per_joint,
            "environment": environment_info(),
        },
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
