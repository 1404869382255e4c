"""Seconds per training step of the 2D semi-supervised methods, weights plain against channels-last
(``train.memory_format``), at the ``ssl-2d --preset medium`` setting (96x128 crops, 1-stack hourglass of width
32, batch 16 labeled + 16 unlabeled), one run of one epoch per method and layout:

    python benchmarks/ssl2d_step.py --out benchmarks/results/ssl2d_step.json

A step is what a study's run repeats: the labeled batch, the method's unlabeled views and teachers, and the
update (data preparation included). Runs train ``--steps`` steps on a small SynthPose set written under
``--tmp`` (deleted afterwards); the figure is the run's training time over its steps (evaluation excluded).
``--threads`` per run (1: as a study with ``study.workers=2`` on 2 cores runs them).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import harness
import torch

from semipose.config import config_path
from semipose.studies import ssl_2d
from semipose.studies.common2d import method_overrides, start_study
from semipose.studies.runner import run_base, train_ssl_run

LABELED = 50


def main() -> None:
    ap = harness.parser(__doc__, "ssl2d_step", threads=1)
    ap.add_argument("--methods", default="supervised,posecons,posedual,denoised")
    ap.add_argument("--layouts", default="contiguous,channels_last")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--tmp", default=None, help="folder for the data and runs (default: a temporary one)")
    args = ap.parse_args()
    batch = 16
    overrides = ["study.synthpose_train=300", "study.synthpose_val=20", f"train.threads={args.threads}"]
    if args.smoke:  # a few images, a narrow network, one step of one method
        args.steps, args.methods, args.layouts = 1, "posedual", "contiguous"
        overrides = ["study.synthpose_train=8", "study.synthpose_val=4", "model.width=8", "data.input_size=[32,32]",
                     "train.threads=1", "train.precision=fp32", "study.labeled=[4]"]  # fmt: skip
    cfg = ssl_2d.load(config_path(ssl_2d.BASE_CONFIG), "medium", overrides)
    tmp = Path(tempfile.mkdtemp(dir=args.tmp))
    rows = []
    try:
        out = start_study(cfg, tmp, "ssl-2d")  # writes the SynthPose set
        base = run_base(cfg)
        print(f"{'method':12s} {'layout':>14s} {'s/step':>8s}")
        for method in args.methods.split(","):
            for layout in args.layouts.split(","):
                run = [
                    *method_overrides(method),
                    f"ssl.labeled={4 if args.smoke else LABELED}",
                    f"ssl.max_unlabeled={args.steps * batch}",
                    "train.epochs=1",
                    "train.progress=false",
                    f"train.memory_format={layout}",
                ]
                metrics = train_ssl_run(base, run, out / f"{method}-{layout}", False)
                seconds = metrics["train_wall_s"] / args.steps
                rows.append({"method": method, "memory_format": layout, "seconds_per_step": seconds})
                print(f"{method:12s} {layout:>14s} {seconds:8.2f}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    harness.write(
        args,
        {
            "setting": "ssl-2d --preset medium (96x128, hourglass w32), 50 labeled",
            "steps": args.steps,
            "threads": args.threads,
            "torch_threads": torch.get_num_threads(),
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
