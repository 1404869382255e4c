"""Runs of a 2D study one after the other on all cores against side by side (``study.workers``), one thread
each: the wall time of the same runs both ways, with the runs' metrics (they should agree only when the
threads agree, so they are reported, not compared). Small 2D networks use many threads poorly, so side by
side should finish sooner; this measures by how much on this machine.

    python benchmarks/study_workers.py --out benchmarks/results/study_workers.json

The runs: ``--runs`` supervised SynthPose runs (seeds 0..runs-1) of the ssl-2d quick preset's setting
(64x64, width 32, 100 labeled people) for ``--epochs`` epochs; workers = cores unless ``--workers``.
The SynthPose set and the run folders go under ``--tmp`` (deleted afterwards).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import harness

from semipose.config import config_path
from semipose.studies import ssl_2d
from semipose.studies.common2d import start_study
from semipose.studies.runner import run_arms


def timed_study(
    root: Path, runs: int, epochs: int, workers: int, threads: int, smoke: bool = False
) -> tuple[float, list[float]]:
    """Seconds to train the runs (after writing the data), and their PCK@0.2 by seed."""
    tiny = [
        "study.synthpose_train=8",
        "study.synthpose_val=4",
        "model.width=8",
        "ssl.labeled=4",
        "train.precision=fp32",
    ]
    overrides = [
        *(tiny if smoke else []),
        f"study.seeds={list(range(runs))}",
        f"study.workers={workers}",
        f"train.threads={threads}",
        f"train.epochs={epochs}",
        "train.progress=false",
        "study.methods=[supervised]",
    ]
    cfg = ssl_2d.load(config_path(ssl_2d.BASE_CONFIG), "quick", overrides)
    out = start_study(cfg, root, "ssl-2d")  # the SynthPose set is written once, by the first way
    arm = f"supervised-{workers}x{threads}"
    t0 = time.perf_counter()
    results = run_arms({arm: ["method.name=supervised"]}, cfg.study.seeds, out, cfg, progress=False)
    return time.perf_counter() - t0, [r["pck@0.2"] for r in results[arm]]


def main() -> None:
    ap = harness.parser(__doc__, "study_workers", threads=None)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--tmp", default=None, help="folder for the runs (default: a temporary one)")
    args = ap.parse_args()
    if args.smoke:
        args.runs, args.epochs, args.workers = 2, 1, 2
    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(dir=args.tmp))
    try:
        rows = []
        for workers, threads in ((1, cores), (args.workers, max(1, cores // args.workers))):
            seconds, pck = timed_study(tmp, args.runs, args.epochs, workers, threads, args.smoke)
            rows.append({"workers": workers, "threads_per_run": threads, "wall_s": seconds, "pck@0.2": pck})
            print(f"{workers} at once x {threads} threads: {args.runs} runs in {seconds:.1f} s (PCK@0.2 {pck})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    speedup = rows[0]["wall_s"] / rows[1]["wall_s"]
    print(f"side by side: {speedup:.2f}x the runs' rate of one after the other")
    harness.write(args, {"runs": args.runs, "epochs": args.epochs, "rows": rows, "speedup": speedup})


if __name__ == "__main__":
    main()
