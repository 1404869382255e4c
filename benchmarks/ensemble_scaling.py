"""Wall time to train an ensemble of M members with 1 and 2 workers, on the local and the Ray
backend, and the parallel efficiency (time with 1 worker / (workers x time with W workers)).

With the local backend one worker trains in this process with all cores' threads, two workers are
two processes with one thread each. With Ray, one worker means members of ``num_cpus=2`` (one at a
time), two workers members of ``num_cpus=1``; the time includes starting the local Ray instance.

    python benchmarks/ensemble_scaling.py --out benchmarks/results/ensemble_scaling.json
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from semipose import lift
from semipose.data.synthetic import write_synthetic_humaneva
from semipose.engine.run import environment_info
from semipose.ensemble.runner import load_ensemble_config, train_ensemble, training_data
from semipose.io import atomic_write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/results/ensemble_scaling.json")
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument("overrides", nargs="*", help="config overrides for the members (default: a small network)")
    args = ap.parse_args()
    base = ["model.channels=256", "train.epochs=4", "train.batch_size=256", "train.precision=bf16",
            "train.progress=false", f"ensemble.members={args.members}", "ensemble.subset=overlap",
            "ensemble.subset_fraction=0.5"]
    cfg = load_ensemble_config(None, base + args.overrides)
    try:
        seqs, skel = lift.load_split(cfg.data, cfg.data.subjects_train)
        data_name = "HumanEva-I Train/S1-S3, Walk/Jog/Box"
    except Exception as e:  # noqa: BLE001
        print(f"real data not available ({e}); using synthetic data", file=sys.stderr)
        root = write_synthetic_humaneva(Path(tempfile.mkdtemp()) / "synth", frames=600)
        cfg = load_ensemble_config(None, base + [f"data.root={root}"] + args.overrides)
        seqs, skel = lift.load_split(cfg.data, cfg.data.subjects_train)
        data_name = "synthetic"
    data = training_data(seqs, skel)
    cores = os.cpu_count() or 1
    rows = []
    for backend in args.backends.split(","):
        for workers in (1, 2):
            extra = [f"ensemble.backend={backend}"]
            extra += [f"ensemble.workers={workers}"] if backend == "local" else [f"ensemble.num_cpus={max(1, cores // workers)}"]
            c = load_ensemble_config(None, base + [f"data.root={cfg.data.root}"] + args.overrides + extra)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                status = train_ensemble(c, tmp, data, progress=False)
                wall = time.perf_counter() - t0
            failed = [m["index"] for m in status["members"] if m["status"] != "done"]
            member_s = [m.get("seconds", float("nan")) for m in status["members"]]
            rows.append({"backend": backend, "workers": workers, "wall_s": round(wall, 2),
                         "member_s": [round(s, 2) for s in member_s], "failed": failed})
            print(f"{backend:5s} workers={workers}: {wall:7.1f} s  (members {', '.join(f'{s:.1f}' for s in member_s)} s)",
                  flush=True)
    by = {(r["backend"], r["workers"]): r["wall_s"] for r in rows}
    summary = {}
    for backend in args.backends.split(","):
        if (backend, 1) in by and (backend, 2) in by:
            summary[f"{backend}_ratio_2_to_1_workers"] = round(by[(backend, 2)] / by[(backend, 1)], 3)
            summary[f"{backend}_parallel_efficiency"] = round(by[(backend, 1)] / (2 * by[(backend, 2)]), 3)
    if ("ray", 2) in by and ("local", 2) in by:
        summary["ray_overhead_vs_local_2_workers"] = round(by[("ray", 2)] / by[("local", 2)] - 1, 3)
        summary["ray_overhead_vs_local_1_worker"] = round(by[("ray", 1)] / by[("local", 1)] - 1, 3)
    for k, v in summary.items():
        print(f"{k}: {v}")
    atomic_write_json(args.out, {"data": data_name, "members": args.members, "config_overrides": base + args.overrides,
                                 "results": rows, "summary": summary, "environment": environment_info()})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
