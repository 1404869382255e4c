"""Lifting throughput: training samples/s (strided model) and inference frames/s (dilated model,
whole sequences, with and without flip averaging) for 27, 81 and 243-frame receptive fields.

Uses the real HumanEva-I protocol data when ``$SEMIPOSE_DATA`` has it (the figures then compare
with the VideoPose3D reference figures quoted in docs/lifting.md), else synthetic data.

For each setting it prints what ``train.precision=auto`` picks on this machine, times fp32 and bf16,
and skips (with a note) a precision that a short probe measures more than 5x slower than the other
(bf16 without native hardware support: 36x slower on an AVX2-only CPU).

    python benchmarks/lift_throughput.py --out benchmarks/results/lift_throughput.json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import harness
import numpy as np
import torch

from semipose.data.synthetic import write_synthetic_humaneva
from semipose.data.windows import WindowSampler
from semipose.engine.precision import benchmark_plan
from semipose.lift.config import LiftConfig
from semipose.lift.data import load_split
from semipose.lift.evaluate import predict_sequences
from semipose.lift.train import lift_example
from semipose.methods.supervised_lift import Schedule, SupervisedLifting
from semipose.models.tcn import TCNConfig, build_tcn

ARCHS = {27: [3, 3, 3], 81: [3, 3, 3, 3], 243: [3, 3, 3, 3, 3]}


def load_data(tmp: Path):
    cfg = LiftConfig()
    try:
        train, skel = load_split(cfg.data, cfg.data.subjects_train)
        test, _ = load_split(cfg.data, cfg.data.subjects_test)
        return train, test, skel, "HumanEva-I (Train/S1-3 -> Validate/S1-3, Walk/Jog/Box, GT 2D)"
    except Exception as e:  # no real data: synthetic stands in
        print(f"real data not available ({e}); using synthetic data", file=sys.stderr)
        write_synthetic_humaneva(tmp, frames=600)
        cfg.data.root = str(tmp)
        train, skel = load_split(cfg.data, cfg.data.subjects_train)
        test, _ = load_split(cfg.data, cfg.data.subjects_test)
        return train, test, skel, "synthetic"


def train_throughput(train, skel, widths, batch, precision, steps) -> float:
    torch.manual_seed(0)
    model = build_tcn(TCNConfig(widths), skel.num_joints, strided=True)
    sampler = WindowSampler(
        [s.keypoints_2d for s in train], [s.root_relative_3d() for s in train], model.receptive_field, skel
    )
    recipe = SupervisedLifting(
        model,
        build_tcn(TCNConfig(widths), skel.num_joints),
        sampler,
        Schedule(1),
        batch,
        lambda m: {},
        torch.device("cpu"),
        precision,
    )
    recipe.start_epoch(0, 1)
    it = iter(recipe.batches(0, np.random.default_rng(0)))
    warm = 3
    for i in range(steps + warm):
        if i == warm:
            t0 = time.perf_counter()
        try:
            b = next(it)
        except StopIteration:
            it = iter(recipe.batches(i, np.random.default_rng(i)))
            b = next(it)
        recipe.train_step(b)
    return steps * batch / (time.perf_counter() - t0)


def inference_throughput(test, skel, widths, flip, repeats=3) -> float:
    torch.manual_seed(0)
    model = build_tcn(TCNConfig(widths), skel.num_joints).eval()
    kps = [s.keypoints_2d for s in test]
    best = harness.timed(lambda: predict_sequences(model, kps, skel, flip), repeats)["best_s"]
    return sum(k.shape[0] for k in kps) / best


def main() -> None:
    ap = harness.parser(__doc__, "lift_throughput", threads=2)
    ap.add_argument("--steps", type=int, default=20, help="timed training steps per setting")
    ap.add_argument("--fields", default="27,81,243")
    ap.add_argument("--batches", default="128,1024")
    ap.add_argument("--precisions", default="fp32,bf16")
    args = ap.parse_args()
    if args.smoke:
        args.steps, args.fields, args.batches, args.precisions = 1, "27", "16", "fp32"
    harness.start(args)
    train, test, skel, data_name = load_data(Path("/tmp/semipose-bench-synth"))
    if args.smoke:
        train, test = train[:2], test[:2]
    rows = []
    for rf in (int(x) for x in args.fields.split(",")):
        widths = ARCHS[rf]
        for batch in (int(x) for x in args.batches.split(",")):
            probe = build_tcn(TCNConfig(widths), skel.num_joints, strided=True)
            choice, run, skipped = benchmark_plan(
                probe, lift_example(probe, skel, batch), torch.device("cpu"), tuple(args.precisions.split(","))
            )
            print(f"train  rf={rf:3d} batch={batch:5d}: auto picks {choice.used} ({choice.reason})", flush=True)
            rows.append(
                {
                    "receptive_field": rf,
                    "what": "auto",
                    "batch": batch,
                    "picks": choice.used,
                    "reason": choice.reason,
                    "probe_rates": choice.rates,
                }
            )
            for precision, note in skipped.items():
                print(f"train  rf={rf:3d} {precision} batch={batch:5d}: {note}", flush=True)
                rows.append(
                    {"receptive_field": rf, "what": "train", "precision": precision, "batch": batch, "skipped": note}
                )
            for precision in run:
                steps = max(3, args.steps * 128 // batch)
                sps = train_throughput(train, skel, widths, batch, precision, steps)
                rows.append(
                    {
                        "receptive_field": rf,
                        "what": "train",
                        "precision": precision,
                        "batch": batch,
                        "samples_per_s": round(sps, 1),
                    }
                )
                print(f"train  rf={rf:3d} {precision} batch={batch:5d}: {sps:8.0f} samples/s", flush=True)
        for flip in (False, True):
            fps = inference_throughput(test, skel, widths, flip)
            rows.append({"receptive_field": rf, "what": "inference", "flip": flip, "frames_per_s": round(fps, 1)})
            print(f"infer  rf={rf:3d} flip={flip!s:5}: {fps:8.0f} frames/s", flush=True)
    harness.write(args, {"data": data_name, "threads": args.threads, "results": rows})


if __name__ == "__main__":
    main()
