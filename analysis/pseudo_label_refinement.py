"""Do sequence-level priors improve a teacher ensemble's monocular pseudo-labels?

Reads a finished ``semipose study ssl-3d`` run, takes one condition and seed's teacher ensemble,
pseudo-labels that seed's unlabeled frames as the study does (members' mean, flip-averaged), and
scores against the hidden truth (MPJPE / P-MPJPE, mm): the labels as they are, each bone rescaled to
its median length over the sequence (a person's bones do not change length), Gaussian smoothing
over time, and both. Prints a table and writes JSON.

    python analysis/pseudo_label_refinement.py runs/ssl_3d_med --condition gt --seed 0 \
        --out analysis/results/pseudo_label_refinement.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from semipose.engine.runtime import environment_info
from semipose.io import atomic_write_json
from semipose.lift.ensemble.runner import load_members
from semipose.lift.pseudo_labels import ensemble_config, pseudo_label, ssl_split
from semipose.lift.triangulated import smooth_over_time
from semipose.metrics.mpjpe import evaluate_sequences
from semipose.studies import ssl_3d


def median_bone_lengths(poses: np.ndarray, parents: list[int]) -> np.ndarray:
    """(T, J, 3) -> the same poses with every bone rescaled to its median length over the sequence,
    root first so that each joint hangs from its already corrected parent."""
    out = poses.copy()
    depth = [0] * len(parents)
    for j, p in enumerate(parents):
        depth[j] = 0 if p < 0 else depth[p] + 1  # parents come before their children
    for j in sorted((j for j, p in enumerate(parents) if p >= 0), key=lambda j: depth[j]):
        bone = poses[:, j] - poses[:, parents[j]]
        length = np.linalg.norm(bone, axis=-1, keepdims=True)
        out[:, j] = out[:, parents[j]] + np.median(length) * bone / np.maximum(length, 1e-9)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a finished ssl-3d study folder")
    ap.add_argument("--condition", default="gt", choices=list(ssl_3d.CONDITIONS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sigmas", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    ap.add_argument("--out", type=Path, default=Path("analysis/results/pseudo_label_refinement.json"))
    args = ap.parse_args()

    cfg = ssl_3d.for_seed(ssl_3d.load(args.run / "config.yaml", "medium", []), args.condition, args.seed)
    _, skel, _, _, _, unlabeled, _ = ssl_split(cfg)
    teacher_dir = args.run / args.condition / f"seed{args.seed}" / "teacher"
    status = json.loads((teacher_dir / "ensemble.json").read_text())
    teacher = load_members(teacher_dir, ensemble_config(cfg), skel, keys=[m["key"] for m in status["members"]])
    labels, _ = pseudo_label(teacher, unlabeled, skel, cfg.train.test_flip)
    truth = [x.root_relative_3d() for x in unlabeled]
    names = ([x.subject for x in unlabeled], [x.action_name for x in unlabeled])
    parents = list(skel.parents)
    variants = {"as predicted": labels, "median bone lengths": [median_bone_lengths(p, parents) for p in labels]}
    for s in args.sigmas:
        smoothed = [smooth_over_time(p, s) for p in labels]
        variants[f"smoothed, sigma {s:g} frames"] = smoothed
        variants[f"smoothed, sigma {s:g}, median bones"] = [median_bone_lengths(p, parents) for p in smoothed]
    rows = []
    print(
        f"{len(unlabeled)} unlabeled sequences, {sum(len(t) for t in truth)} frames; teacher of {len(teacher)} members"
    )
    print("| pseudo-labels | MPJPE (mm) | P-MPJPE (mm) |\n| --- | ---: | ---: |")
    for name, v in variants.items():
        m = evaluate_sequences(v, truth, *names)
        rows.append({"variant": name, "mpjpe_mm": m["mpjpe_mm"], "p_mpjpe_mm": m["p_mpjpe_mm"]})
        print(f"| {name} | {m['mpjpe_mm']:.2f} | {m['p_mpjpe_mm']:.2f} |")
    atomic_write_json(
        args.out,
        {
            "run": str(args.run),
            "condition": args.condition,
            "seed": args.seed,
            "rows": rows,
            "environment": environment_info(),
        },
    )


if __name__ == "__main__":
    main()
